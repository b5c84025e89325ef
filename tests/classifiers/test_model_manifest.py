"""A run whose model files were changed after training fails its prediction job in words (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers.models import Prediction
from classifiers.services import run_create, run_train
from jobs.models import Job
from jobs.runner import run_job_inline
from jobs.services import job_create

pytestmark = pytest.mark.django_db


def test_flipped_model_bytes_fail_the_job_with_model_files_changed(corpus_project, owner):
    run = run_train(run=run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1, actor=owner))
    tensors = Path(run.model_dir) / "tensors.safetensors"
    data = bytearray(tensors.read_bytes())
    data[len(data) // 2] ^= 0x55
    tensors.write_bytes(bytes(data))
    job = job_create(kind="predict", project=corpus_project, params={"run_id": run.pk, "split": "test"})
    job = run_job_inline(job, show_progress=False)
    assert job.state == Job.State.FAILED
    assert "model files changed since training" in job.error and "tensors.safetensors" in job.error
    assert not Prediction.objects.filter(run=run).exists()
