"""Cancelling a training job stops it between steps and leaves the run ready to train again (issue 21, item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.models import Run
from classifiers.services import run_create
from jobs.models import Job
from jobs.runner import run_job_inline
from jobs.services import job_create
from tests.engine.test_verbalizer import write_tiny_checkpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_encoder(tmp_path, monkeypatch) -> str:
    path = write_tiny_checkpoint(tmp_path / "tiny", mlm_head=False)
    monkeypatch.setenv("HTC_EMBEDDING_MODEL_PATH", path)
    return path


def _run_job(run, kind: str, owner) -> Job:
    """A queued job of `kind` on `run` (its test split)."""
    params = {"run_id": run.pk, "split": "test"}
    return job_create(
        kind=kind, project=run.project, params=params, created_by=owner, target_type="run", target_id=run.pk
    )


def test_a_cancelled_embed_training_ends_cancelled_not_failed(corpus_project, owner, tiny_encoder, model_dir):
    import torch

    torch.set_num_threads(1)
    run = run_create(project=corpus_project, strategy="embed", shots=0, seed=1, name="embed", actor=owner)
    job = _run_job(run, "pipeline", owner)
    # The cancel arrives before the first encoding batch is reported: training must stop there.
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job = run_job_inline(job, show_progress=False)
    assert job.state == Job.State.CANCELLED and job.partial
    run.refresh_from_db()
    assert run.state == Run.State.CANCELLED  # cancelled, not failed: it can be trained again
    assert not (Path(model_dir) / f"run-{run.pk}").exists()


def test_a_cancel_during_a_scikit_learn_fit_stops_it_after_the_running_piece(
    corpus_project, owner, model_dir, monkeypatch
):
    """tfidf fits its logistic regressions in pieces of lbfgs iterations and asks the job's cancel flag before
    each piece: a cancel that arrives while a regression is being fitted stops the training once the running
    piece ends, and the job and the run end cancelled (counted in lbfgs iterations run after the cancel)."""
    from sklearn.linear_model import LogisticRegression

    from classifiers.engine import baselines
    from jobs import progress

    monkeypatch.setattr(progress, "FLUSH_INTERVAL", 0.0)  # the cancel flag is read at every question
    monkeypatch.setattr(baselines, "LR_CHUNK_ITERATIONS", 2)
    run = run_create(project=corpus_project, strategy="tfidf", shots=0, seed=1, name="tfidf", actor=owner)
    job = _run_job(run, "train", owner)
    after_cancel = []
    real_fit = LogisticRegression.fit

    def fit(self, *args, **kwargs):
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)  # the cancel arrives during the first fit
        fitted = real_fit(self, *args, **kwargs)
        after_cancel.append(int(max(fitted.n_iter_)))  # lbfgs iterations run since the cancel
        return fitted

    monkeypatch.setattr(LogisticRegression, "fit", fit)
    job = run_job_inline(job, show_progress=False)
    assert job.state == Job.State.CANCELLED
    run.refresh_from_db()
    assert run.state == Run.State.CANCELLED and not run.model_dir
    # Only the piece during which the cancel arrived ran: at most LR_CHUNK_ITERATIONS iterations, no later fit.
    assert len(after_cancel) == 1 and sum(after_cancel) <= 2, after_cancel
    assert not any(Path(model_dir).glob("run-*"))
