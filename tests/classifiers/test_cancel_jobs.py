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


def test_a_cancelled_embed_training_ends_cancelled_not_failed(corpus_project, owner, tiny_encoder, model_dir):
    import torch

    torch.set_num_threads(1)
    run = run_create(project=corpus_project, strategy="embed", shots=0, seed=1, name="embed", actor=owner)
    job = job_create(
        kind="pipeline",
        project=corpus_project,
        params={"run_id": run.pk, "split": "test"},
        created_by=owner,
        target_type="run",
        target_id=run.pk,
    )
    # The cancel arrives before the first encoding batch is reported: training must stop there.
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    job = run_job_inline(job, show_progress=False)
    assert job.state == Job.State.CANCELLED and job.partial
    run.refresh_from_db()
    assert run.state == Run.State.CANCELLED  # cancelled, not failed: it can be trained again
    assert not (Path(model_dir) / f"run-{run.pk}").exists()
