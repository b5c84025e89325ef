"""Job handlers: the pipeline trains, predicts and evaluates in one job with progress."""

from __future__ import annotations

import pytest

from classifiers.models import Evaluation, Prediction, Run
from classifiers.services import run_create
from jobs.models import Job
from jobs.runner import run_job_inline
from jobs.services import job_create

pytestmark = pytest.mark.django_db


def test_pipeline_job_trains_predicts_and_evaluates(corpus_project, owner):
    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=2)
    job = job_create(
        kind="pipeline",
        project=corpus_project,
        params={"run_id": run.pk, "split": "test"},
        created_by=owner,
        target_type="run",
        target_id=run.pk,
    )
    job = run_job_inline(job, show_progress=False)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.progress_total > 0 and job.progress_done == job.progress_total
    run.refresh_from_db()
    assert run.state == Run.State.TRAINED
    assert Prediction.objects.filter(run=run).count() == 12
    assert (
        job.result["exact_path_accuracy"]
        == Evaluation.objects.get(run=run, split="test").metrics["exact_path_accuracy"]
    )


def test_predict_job_on_untrained_run_fails_in_plain_words(corpus_project):
    run = run_create(project=corpus_project, strategy="tfidf", shots=1, seed=2)
    job = job_create(kind="predict", project=corpus_project, params={"run_id": run.pk, "split": "test"})
    job = run_job_inline(job, show_progress=False)
    assert job.state == Job.State.FAILED
    assert "not trained" in job.error
    assert not Prediction.objects.filter(run=run).exists()
