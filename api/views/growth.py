"""Cold start and growth: label terms, enrichment and example jobs, pseudo-labels, split, review tasks, run update.

Each view calls the service its page calls, with the page's role: owners edit terms, split labels and start
the cold-start jobs; annotators decide review tasks and update runs; every member reads.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from api.serializers.classifiers import RunSerializer
from api.serializers.growth import (
    EnrichStartSerializer,
    ExamplesStartSerializer,
    NodeSplitSerializer,
    NodeTermsSerializer,
    NodeTermsUpdateSerializer,
    PseudoLabelSerializer,
    ReviewTaskDecideSerializer,
    ReviewTaskDetailSerializer,
    ReviewTaskSerializer,
    RunUpdateSerializer,
)
from api.serializers.jobs import JobSerializer
from api.serializers.review import CorrectionSerializer
from api.serializers.taxonomies import NodeSerializer
from api.views.base import ProjectScopedView
from api.views.classifiers import RunStarted
from api.views.taxonomies import NodeView
from classifiers import selectors as run_selectors
from classifiers.coldstart import examples_generate_start, taxonomy_enrich_start
from classifiers.growth import run_update_start
from classifiers.models import Run
from classifiers.selectors import run_list_for_project
from corpora.models import Document
from projects.models import Role
from review.models import ReviewTask
from review.tasks import split_task_choices, split_task_decide, split_task_next, split_task_remaining
from taxonomies import services, splitting
from taxonomies.selectors import taxonomy_tree

SplitResult = inline_serializer(
    "NodeSplitResult",
    {
        "children": NodeSerializer(many=True),
        "documents": serializers.IntegerField(help_text="Documents labelled the node itself, now in the task."),
        "task": ReviewTaskSerializer(allow_null=True),
    },
)


def _job_body(view: ProjectScopedView, job) -> dict:
    job.refresh_from_db()
    return view.job_data(job)


def _task_context(project, tasks: list[ReviewTask]) -> dict:
    return {
        "tree": taxonomy_tree(taxonomy=project.taxonomy),
        "remaining": {task.pk: split_task_remaining(task=task) for task in tasks},
    }


# ----- terms -----
class NodeTermsView(NodeView):
    roles = {"PUT": Role.OWNER}
    serializer_class = NodeTermsSerializer

    @extend_schema(summary="A label's terms and their source")
    def get(self, request, project_id: int, node_id: int):
        return Response(NodeTermsSerializer(self.node(node_id)).data)

    @extend_schema(
        summary="Replace a label's terms (owner), as the editor does: recorded in the history, source 'edited'",
        request=NodeTermsUpdateSerializer,
        responses={200: NodeTermsSerializer},
    )
    def put(self, request, project_id: int, node_id: int):
        node = self.node(node_id)
        data = NodeTermsUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        node = services.node_update_description(
            node=node, description=node.description, terms=data.validated_data["terms"], actor=request.user
        )
        node.refresh_from_db()
        return Response(NodeTermsSerializer(node).data)


# ----- split -----
class NodeSplitView(NodeView):
    roles = {"POST": Role.OWNER}
    serializer_class = NodeSplitSerializer

    @extend_schema(
        summary="Split a label into new children (owner)",
        description="Documents labelled the label itself keep it and wait in a review task “which child?”.",
        request=NodeSplitSerializer,
        responses={201: SplitResult},
    )
    def post(self, request, project_id: int, node_id: int):
        node = self.node(node_id)
        data = NodeSplitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = splitting.node_split(node=node, children=data.validated_data["children"], actor=request.user)
        tree = taxonomy_tree(taxonomy=self.project.taxonomy)
        task = result["task"]
        body = {
            "children": NodeSerializer(result["children"], many=True, context={"tree": tree}).data,
            "documents": result["documents"],
            "task": ReviewTaskSerializer(task, context=_task_context(self.project, [task])).data if task else None,
        }
        return Response(body, status=status.HTTP_201_CREATED)


# ----- cold-start jobs -----
class EnrichStartView(ProjectScopedView):
    roles = {"POST": Role.OWNER}
    serializer_class = EnrichStartSerializer

    @extend_schema(
        summary="Enrich the taxonomy (owner): a background job finds terms per label",
        description="From the corpus and/or the project's LLM endpoint. Terms a person gave are kept unless "
        "`replace_edited`. While such a job is queued or running, that job is returned.",
        request=EnrichStartSerializer,
        responses={202: JobSerializer},
    )
    def post(self, request, project_id: int):
        data = EnrichStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = taxonomy_enrich_start(project=self.project, actor=request.user, **data.validated_data)
        return Response(_job_body(self, job), status=status.HTTP_202_ACCEPTED)


class ExamplesStartView(ProjectScopedView):
    roles = {"POST": Role.OWNER}
    serializer_class = ExamplesStartSerializer

    @extend_schema(
        summary="Write example documents with the LLM (owner), as a background job",
        description="They are stored as `generated` train documents labelled with their leaf path, for weak runs. "
        "While such a job is queued or running, that job is returned.",
        request=ExamplesStartSerializer,
        responses={202: JobSerializer},
    )
    def post(self, request, project_id: int):
        data = ExamplesStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = examples_generate_start(project=self.project, actor=request.user, **data.validated_data)
        return Response(_job_body(self, job), status=status.HTTP_202_ACCEPTED)


# ----- runs -----
class PseudoLabelListView(ProjectScopedView):
    serializer_class = PseudoLabelSerializer

    @extend_schema(
        summary="The documents a weak run pseudo-labelled, most confident first",
        responses=PseudoLabelSerializer(many=True),
    )
    def get(self, request, project_id: int, run_id: int):
        run = get_object_or_404(Run, project=self.project, pk=run_id)
        page = self.paginate_queryset(run_selectors.run_pseudo_labels(run=run))
        tree = taxonomy_tree(taxonomy=self.project.taxonomy)
        return self.get_paginated_response(PseudoLabelSerializer(page, many=True, context={"tree": tree}).data)


class RunUpdateView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = RunUpdateSerializer

    @extend_schema(
        summary="Update a trained run for the labels added since (annotator), as a background job",
        description="A child run is built from the run's model with the documents on the new labels and a "
        "rehearsal share of its old training documents, then predicts and evaluates the test split.",
        request=RunUpdateSerializer,
        responses={202: RunStarted},
    )
    def post(self, request, project_id: int, run_id: int):
        parent = get_object_or_404(Run, project=self.project, pk=run_id)
        data = RunUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        run, job = run_update_start(parent=parent, actor=request.user, **values)
        body = {
            "run": RunSerializer(run_list_for_project(project=self.project).get(pk=run.pk)).data,
            "job": _job_body(self, job),
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


# ----- review tasks -----
def _tasks(project):
    return ReviewTask.objects.filter(project=project).select_related("node", "created_by")


class ReviewTaskListView(ProjectScopedView):
    serializer_class = ReviewTaskSerializer

    @extend_schema(
        summary="Review tasks left by taxonomy changes, newest first", responses=ReviewTaskSerializer(many=True)
    )
    def get(self, request, project_id: int):
        page = self.paginate_queryset(_tasks(self.project).order_by("-created_at", "-id"))
        return self.get_paginated_response(
            ReviewTaskSerializer(page, many=True, context=_task_context(self.project, page)).data
        )


class ReviewTaskDetailView(ProjectScopedView):
    serializer_class = ReviewTaskDetailSerializer

    @extend_schema(summary="One review task, with the documents still to decide")
    def get(self, request, project_id: int, task_id: int):
        task = get_object_or_404(_tasks(self.project), pk=task_id)
        context = _task_context(self.project, [task])
        context["choices"] = [n.pk for n in split_task_choices(task=task)]
        following = split_task_next(task=task, annotator=request.user)
        context["next_document"] = following.pk if following else None
        return Response(ReviewTaskDetailSerializer(task, context=context).data)


class ReviewTaskDecideView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = ReviewTaskDecideSerializer

    @extend_schema(
        summary="Decide which child a document of the task gets (annotator): a review decision (correction)",
        request=ReviewTaskDecideSerializer,
        responses={201: CorrectionSerializer},
    )
    def post(self, request, project_id: int, task_id: int):
        task = get_object_or_404(_tasks(self.project), pk=task_id)
        data = ReviewTaskDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        document = Document.objects.filter(project=self.project, pk=values["document"]).first()
        if document is None:
            raise ValidationError({"document": f"No document with id {values['document']} in this project."})
        correction = split_task_decide(task=task, document=document, annotator=request.user, path=values["path"])
        return Response(CorrectionSerializer(correction).data, status=status.HTTP_201_CREATED)
