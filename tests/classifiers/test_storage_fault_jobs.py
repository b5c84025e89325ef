"""Background jobs that hit a full or read-only disk end failed in the words of the 507/503 pages, not as an
"Unexpected error", and leave no orphan files (issue 21: storage errors on every route, jobs included)."""

from __future__ import annotations

import errno

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from classifiers.models import Run
from classifiers.services import run_create, run_train
from corpora.models import Corpus
from htc_app.storage_faults import DISK_FULL, READ_ONLY
from jobs.models import Job
from jobs.runner import plain_error, run_job_inline
from jobs.services import job_create
from tests.api.test_storage_faults import failing_writes

pytestmark = pytest.mark.django_db


def _run_job(project, owner, run, kind: str) -> Job:
    job = job_create(
        kind=kind,
        project=project,
        params={"run_id": run.pk, "split": "test"},
        created_by=owner,
        target_type="run",
        target_id=run.pk,
    )
    return run_job_inline(job, show_progress=False)


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), DISK_FULL),
        (OSError(errno.EROFS, "Read-only file system"), READ_ONLY),
    ],
)
def test_plain_error_names_a_storage_fault_in_the_words_of_the_pages(exc, fault):
    from django.db import OperationalError

    assert plain_error(exc) == fault.message
    wrapped = RuntimeError("saving failed")
    wrapped.__cause__ = OperationalError("database or disk is full")
    assert plain_error(wrapped) == DISK_FULL.message


def test_a_training_whose_model_files_hit_enospc_fails_in_words_and_leaves_no_folder(
    corpus_project, owner, model_dir, monkeypatch
):
    from classifiers.engine import atomic

    def full(folder):
        (folder / "partial.bin").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "write_manifest", full)
    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1, name="full", actor=owner)
    job = _run_job(corpus_project, owner, run, "train")
    assert job.state == Job.State.FAILED
    assert job.error == DISK_FULL.message and "Unexpected" not in job.error
    run.refresh_from_db()
    assert run.state == Run.State.FAILED and not run.model_dir
    assert _files(model_dir) == []


def test_a_training_whose_run_cannot_be_saved_removes_the_published_model(corpus_project, owner, model_dir):
    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1, name="db-full", actor=owner)
    # The model folder is published, then the run's own row cannot be written (SQLite's full-disk words).
    with failing_writes("classifiers_run", verb="UPDATE", match='"model_dir"'):
        job = _run_job(corpus_project, owner, run, "train")
    assert job.state == Job.State.FAILED and job.error == DISK_FULL.message
    run.refresh_from_db()
    assert run.state == Run.State.FAILED and not run.model_dir
    assert _files(model_dir) == []  # no folder that no run names


def test_a_prediction_on_a_read_only_database_fails_with_the_503_words(corpus_project, owner):
    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1, name="ro", actor=owner)
    run_train(run=run)
    with failing_writes("classifiers_prediction", message="attempt to write a readonly database"):
        job = _run_job(corpus_project, owner, run, "predict")
    assert job.state == Job.State.FAILED and job.error == READ_ONLY.message
    assert run.predictions.count() == 0


def test_a_background_import_on_a_full_database_fails_in_words_and_removes_its_upload(
    client_for, owner, project, build_tree, settings, tmp_path
):
    settings.HTC_INLINE_IMPORT_BYTES = 10
    settings.HTC_UPLOAD_DIR = tmp_path / "uploads"
    build_tree(project, {"Sci": {"Med": {}}})
    data = b"id,text,path\n1,aspirin,Sci > Med\n"
    client_for(owner).post(reverse("corpora:upload", args=[project.pk]), {"file": SimpleUploadedFile("a.csv", data)})
    job = Job.objects.get(kind="corpus_import")
    assert _files(tmp_path / "uploads")  # the stored upload waits for the job
    with failing_writes("corpora_corpus"):
        job = run_job_inline(job, show_progress=False)
    assert job.state == Job.State.FAILED and job.error == DISK_FULL.message
    assert not Corpus.objects.exists()
    assert _files(tmp_path / "uploads") == []
