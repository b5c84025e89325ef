"""Run pages that tell the truth: phases and what a cancel kept, actions that can work, metrics only for
documents that got a prediction, LLM figures, labels by path and a threshold plot that matches its table."""

from __future__ import annotations

import pytest
from django.urls import reverse

from classifiers.models import Prediction, Run
from jobs.models import Job

pytestmark = pytest.mark.django_db


def _pipeline_job(run, owner):
    from classifiers.services import run_job_start

    return run_job_start(run=run, kind="pipeline", split="test", actor=owner)


def test_a_pipeline_job_reports_named_phases_and_ends_without_a_stale_message(corpus_project, owner):
    from classifiers.services import run_create
    from jobs.runner import run_job_inline

    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1, name="phased", actor=owner)
    job = run_job_inline(_pipeline_job(run, owner), show_progress=False)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert [p["key"] for p in job.phases] == ["train", "predict", "evaluate"]
    assert all(p["fraction"] == 1.0 for p in job.phases)
    assert job.message == "Finished."  # not "Predicting the test split"


def test_a_run_cancelled_before_training_is_cancelled_and_says_no_model_was_kept(corpus_project, owner):
    from classifiers.services import run_create
    from jobs.runner import run_job_inline

    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1, name="stopped", actor=owner)
    job = _pipeline_job(run, owner)
    # The cancel request reaches the job while it runs (the flag is read at its first progress report).
    real_claim = __import__("jobs.services", fromlist=["job_claim"]).job_claim

    def claim_then_cancel(**kwargs):
        claimed = real_claim(**kwargs)
        Job.objects.filter(pk=claimed.pk).update(cancel_requested=True)
        return claimed

    import jobs.runner

    original = jobs.runner.job_claim
    jobs.runner.job_claim = claim_then_cancel
    try:
        job = run_job_inline(job, show_progress=False)
    finally:
        jobs.runner.job_claim = original
    run.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert run.state == Run.State.CANCELLED
    assert "no model was kept" in job.message and "finished and kept" not in job.message


def test_a_run_without_a_model_is_not_offered_predict(corpus_project, owner, client_for):
    from classifiers.services import run_create

    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1, name="cancelled", actor=owner)
    Run.objects.filter(pk=run.pk).update(state=Run.State.CANCELLED)
    client = client_for(owner)
    html = client.get(reverse("classifiers:run", args=[corpus_project.pk, run.pk])).content.decode()
    assert ">Cancelled<" in html
    assert 'value="predict"' not in html and 'value="evaluate"' not in html
    assert "Train, predict and evaluate" in html
    response = client.post(
        reverse("classifiers:run_job", args=[corpus_project.pk, run.pk]), {"kind": "predict", "split": "test"}
    )
    assert response.status_code == 302
    assert not Job.objects.filter(target_id=run.pk, kind="predict").exists()


def test_evaluate_is_offered_only_once_there_are_predictions(trained_run, owner, client_for):
    url = reverse("classifiers:run", args=[trained_run.project_id, trained_run.pk])
    assert 'value="evaluate"' in client_for(owner).get(url).content.decode()
    Prediction.objects.filter(run=trained_run).delete()
    assert 'value="evaluate"' not in client_for(owner).get(url).content.decode()


def test_a_run_that_predicted_nothing_shows_no_metrics(trained_run, owner, client_for):
    from classifiers.services import run_evaluate

    Prediction.objects.filter(run=trained_run).update(paths=[], leaf_node=None, valid=False)
    evaluation = run_evaluate(run=trained_run, split="test")
    assert evaluation.metrics["coverage"] == 0.0 and evaluation.metrics["n_predicted"] == 0
    assert evaluation.metrics["consistency"] == 0.0  # not 1.000 for "no answer is a consistent path"
    html = client_for(owner).get(reverse("classifiers:run", args=[trained_run.project_id, trained_run.pk])).content
    html = html.decode()
    assert "No document of the test split got a prediction" in html
    assert "0.000" not in html


def test_consistency_is_over_predicted_documents_with_coverage_beside_it(trained_run):
    from classifiers.services import run_evaluate

    first = Prediction.objects.filter(run=trained_run, document__split="test").order_by("pk").first()
    Prediction.objects.filter(pk=first.pk).update(paths=[], leaf_node=None)
    evaluation = run_evaluate(run=trained_run, split="test")
    n = evaluation.document_count
    assert evaluation.metrics["n_predicted"] == n - 1
    assert evaluation.metrics["coverage"] == pytest.approx((n - 1) / n)
    assert evaluation.metrics["consistency"] == 1.0


def test_the_run_page_shows_llm_calls_failures_by_kind_and_tokens(corpus_project, owner, client_for):
    from classifiers.services import run_create

    run = run_create(project=corpus_project, strategy="llm-dl", shots=0, seed=1, name="llm", actor=owner)
    url = reverse("classifiers:run", args=[corpus_project.pk, run.pk])
    assert "no call has been made yet" in client_for(owner).get(url).content.decode()
    run.stats = {
        "llm": {
            "documents": 4,
            "calls": 4,
            "prompt_tokens": 400,
            "completion_tokens": 20,
            "failed": 3,
            "invalid": 1,
            "failed_by_kind": {"server_error": 2, "timeout": 1},
        }
    }
    run.save(update_fields=["stats"])
    html = client_for(owner).get(url).content.decode()
    assert "server_error 2, timeout 1" in html
    assert "400 prompt, 20 completion" in html and "105.0 per document" in html


def test_labels_whose_names_repeat_are_shown_by_path():
    from classifiers.engine.hierarchy import Hierarchy
    from classifiers.selectors import labels_by_path

    h = Hierarchy.from_paths([("Biology", "Immune response"), ("Medicine", "Immune response"), ("Biology", "Cells")])
    leaf = [h.path_from_names(p)[-1] for p in (("Biology", "Immune response"), ("Medicine", "Immune response"))]
    indices = [*leaf, h.path_from_names(("Biology", "Cells"))[-1], -1]
    assert labels_by_path(h, indices) == [
        "Biology > Immune response",
        "Medicine > Immune response",
        "Cells",
        "(none)",
    ]


def test_the_threshold_plot_counts_the_evaluations_documents_and_its_accuracy(trained_run, owner):
    from classifiers.services import run_evaluate, run_predict
    from classifiers.tradeoff import threshold_tradeoffs
    from corpora.models import Document

    project = trained_run.project
    # A dev document without gold labels: predicted, but never evaluated.
    Document.objects.create(project=project, corpus=project.corpora.first(), external_id="x", text="goal", split="dev")
    run_predict(run=trained_run, split="dev")
    evaluation = run_evaluate(run=trained_run, split="dev")
    (tradeoff,) = threshold_tradeoffs(trained_run)
    assert tradeoff["documents"] == evaluation.document_count
    assert tradeoff["rows"][0]["accuracy"] == pytest.approx(evaluation.metrics["exact_path_accuracy"])


def test_a_run_that_predicted_nothing_on_dev_draws_no_threshold_plot(trained_run):
    from classifiers.services import run_evaluate, run_predict
    from classifiers.tradeoff import threshold_tradeoffs

    assert trained_run.dev_document_ids
    run_predict(run=trained_run, split="dev")
    run_evaluate(run=trained_run, split="dev")
    assert threshold_tradeoffs(trained_run)  # predicted: a plot, checked against the dev evaluation
    assert threshold_tradeoffs(trained_run)[0]["evaluation"]["documents"] == len(trained_run.dev_document_ids)
    Prediction.objects.filter(run=trained_run, document__split="dev").update(paths=[], scores=[], leaf_node=None)
    assert threshold_tradeoffs(trained_run) == []  # not a curve of zeros as if something was measured


def test_the_threshold_plot_is_not_checked_against_an_evaluation_on_reviewed_labels(trained_run):
    from classifiers.services import run_evaluate, run_predict
    from classifiers.tradeoff import threshold_tradeoffs

    run_predict(run=trained_run, split="dev")
    run_evaluate(run=trained_run, split="dev", labels="reviewed")
    (tradeoff,) = threshold_tradeoffs(trained_run)
    assert "evaluation" not in tradeoff  # its documents and labels are not the plot's
