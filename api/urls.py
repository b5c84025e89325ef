"""API routes: /api/v1/... (resources), /api/schema/ (OpenAPI 3) and /api/docs/ (reference page)."""

from django.urls import path, re_path

from api.views import classifiers, corpora, docs, growth, jobs, projects, review, taxonomies, tokens

P = "v1/projects/<int:project_id>/"

v1 = [
    path("v1/tokens/", tokens.TokenListView.as_view(), name="api-tokens"),
    path("v1/tokens/<int:token_id>/", tokens.TokenDetailView.as_view(), name="api-token"),
    path("v1/projects/", projects.ProjectListView.as_view(), name="api-projects"),
    path(P, projects.ProjectDetailView.as_view(), name="api-project"),
    path(P + "members/", projects.MemberListView.as_view(), name="api-members"),
    path(P + "members/<int:membership_id>/", projects.MemberDetailView.as_view(), name="api-member"),
    path(P + "taxonomy/", taxonomies.TaxonomyView.as_view(), name="api-taxonomy"),
    path(P + "taxonomy/nodes/", taxonomies.NodeListView.as_view(), name="api-nodes"),
    path(P + "taxonomy/nodes/<int:node_id>/", taxonomies.NodeDetailView.as_view(), name="api-node"),
    path(P + "taxonomy/nodes/<int:node_id>/move/", taxonomies.NodeMoveView.as_view(), name="api-node-move"),
    path(P + "taxonomy/nodes/<int:node_id>/merge/", taxonomies.NodeMergeView.as_view(), name="api-node-merge"),
    path(P + "taxonomy/nodes/<int:node_id>/terms/", growth.NodeTermsView.as_view(), name="api-node-terms"),
    path(P + "taxonomy/nodes/<int:node_id>/split/", growth.NodeSplitView.as_view(), name="api-node-split"),
    path(P + "taxonomy/enrich/", growth.EnrichStartView.as_view(), name="api-taxonomy-enrich"),
    path(P + "taxonomy/examples/", growth.ExamplesStartView.as_view(), name="api-taxonomy-examples"),
    path(P + "taxonomy/import/", taxonomies.TaxonomyImportView.as_view(), name="api-taxonomy-import"),
    path(P + "taxonomy/export/", taxonomies.TaxonomyExportView.as_view(), name="api-taxonomy-export"),
    path(P + "taxonomy/changes/", taxonomies.TaxonomyChangeListView.as_view(), name="api-taxonomy-changes"),
    path(P + "corpora/", corpora.CorpusListView.as_view(), name="api-corpora"),
    path(P + "corpora/<int:corpus_id>/", corpora.CorpusDetailView.as_view(), name="api-corpus"),
    path(P + "documents/", corpora.DocumentListView.as_view(), name="api-documents"),
    path(P + "documents/<int:document_id>/", corpora.DocumentDetailView.as_view(), name="api-document"),
    path(P + "runs/", classifiers.RunListView.as_view(), name="api-runs"),
    path(P + "runs/<int:run_id>/", classifiers.RunDetailView.as_view(), name="api-run"),
    path(P + "runs/<int:run_id>/jobs/", classifiers.RunJobView.as_view(), name="api-run-jobs"),
    path(P + "runs/<int:run_id>/retrain/", review.RunRetrainView.as_view(), name="api-run-retrain"),
    path(P + "runs/<int:run_id>/update/", growth.RunUpdateView.as_view(), name="api-run-update"),
    path(P + "runs/<int:run_id>/pseudo-labels/", growth.PseudoLabelListView.as_view(), name="api-pseudo-labels"),
    path(P + "runs/<int:run_id>/predictions/", classifiers.PredictionListView.as_view(), name="api-predictions"),
    path(
        P + "runs/<int:run_id>/predictions/<int:prediction_id>/",
        classifiers.PredictionDetailView.as_view(),
        name="api-prediction",
    ),
    path(P + "corrections/", review.CorrectionListView.as_view(), name="api-corrections"),
    path(P + "corrections/<int:correction_id>/", review.CorrectionDetailView.as_view(), name="api-correction"),
    path(P + "corrections/<int:correction_id>/undo/", review.CorrectionUndoView.as_view(), name="api-correction-undo"),
    path(P + "review-tasks/", growth.ReviewTaskListView.as_view(), name="api-review-tasks"),
    path(P + "review-tasks/<int:task_id>/", growth.ReviewTaskDetailView.as_view(), name="api-review-task"),
    path(
        P + "review-tasks/<int:task_id>/decide/", growth.ReviewTaskDecideView.as_view(), name="api-review-task-decide"
    ),
    path(P + "jobs/", jobs.JobListView.as_view(), name="api-jobs"),
    path(P + "jobs/<int:job_id>/", jobs.JobDetailView.as_view(), name="api-job"),
    path(P + "jobs/<int:job_id>/cancel/", jobs.JobCancelView.as_view(), name="api-job-cancel"),
]

urlpatterns = [
    *v1,
    path("schema/", docs.SchemaView.as_view(), name="api-schema"),
    path("docs/", docs.api_docs, name="api-docs"),
    # Anything else under /api/ (e.g. /api/v1/projects/abc/) is a JSON 404, not the HTML page.
    re_path(r"^", docs.api_not_found),
]
