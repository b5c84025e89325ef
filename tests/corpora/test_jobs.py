"""Large uploads become a corpus_import job; the handler imports the stored file once and removes it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from corpora.jobs import run_corpus_import
from corpora.models import Corpus, Document
from corpora.services import upload_path
from jobs.models import Job
from jobs.progress import JobError


class RecordingProgress:
    def __init__(self):
        self.total = 0
        self.done = 0
        self.messages: list[str] = []

    def set_total(self, n):
        self.total = n

    def advance(self, k=1, message=""):
        self.done += k

    def set_message(self, message):
        self.messages.append(message)


@pytest.fixture
def queued_job(client_for, owner, project, build_tree, settings):
    """Upload a file above the inline limit through the view; returns (job, response)."""
    settings.HTC_INLINE_IMPORT_BYTES = 10
    build_tree(project, {"Sci": {"Med": {}}})

    def make(data: bytes, name: str = "big<img src=x>.csv", **fields):
        response = client_for(owner).post(
            reverse("corpora:upload", args=[project.pk]), {"file": SimpleUploadedFile(name, data), **fields}
        )
        return Job.objects.filter(kind="corpus_import").order_by("-id").first(), response

    return make


def test_large_upload_is_stored_under_a_uuid_and_queued(queued_job, project):
    job, response = queued_job(b"id,text,path\n1,aspirin,Sci > Med\n2,new,Arts\n", add_missing_labels="on", seed="4")
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", kwargs={"project_id": project.pk, "job_id": job.pk})
    stored = upload_path(job.params["upload"])
    assert stored.read_bytes().startswith(b"id,text,path")
    assert stored.name == job.params["upload"] and "big" not in stored.name
    assert job.params["file_name"] == "big<img src=x>.csv" and job.params["add_missing_labels"] is True
    assert job.params["seed"] == 4 and job.project_id == project.pk and job.state == Job.State.QUEUED
    assert Document.objects.count() == 0  # nothing imported inside the request


def test_handler_imports_reports_progress_and_removes_the_file(queued_job):
    job, _ = queued_job(b"id,text,path\n1,aspirin,Sci > Med\n2,new,Arts\n", add_missing_labels="on")
    progress = RecordingProgress()
    result = run_corpus_import(job, progress)
    corpus = Corpus.objects.get(pk=result["corpus"])
    assert result["documents"] == 2 and corpus.import_job_id == job.pk and corpus.stats["labels_created"] == 1
    assert (progress.total, progress.done) == (2, 2)
    assert not upload_path(job.params["upload"]).exists()
    # A second run of the same job (worker died before recording success) imports nothing twice.
    assert run_corpus_import(job, RecordingProgress())["corpus"] == corpus.pk
    assert Document.objects.count() == 2


def test_handler_turns_a_rejected_file_into_a_plain_job_error(queued_job):
    job, _ = queued_job(b"id,text,path\n1,aspirin,Nope\n")
    with pytest.raises(JobError) as exc:
        run_corpus_import(job, RecordingProgress())
    assert "nothing was imported" in str(exc.value) and "line 2, field path: unknown label 'Nope'" in str(exc.value)
    assert Document.objects.count() == 0 and not upload_path(job.params["upload"]).exists()


def test_upload_path_accepts_only_uuids():
    with pytest.raises(ValueError):
        upload_path("../../etc/passwd")


def test_job_runs_end_to_end_through_the_jobs_runner(queued_job):
    from jobs.services import run_job_inline

    job, _ = queued_job(b"id,text,path\n1,aspirin,Sci > Med\n2,bad,Nope\n")
    failed = run_job_inline(job, show_progress=False)
    assert failed.state == Job.State.FAILED and "unknown label 'Nope'" in failed.error
    job2, _ = queued_job(b"id,text,path\n3,aspirin,Sci > Med\n", name="ok.csv")
    done = run_job_inline(job2, show_progress=False)
    assert done.state == Job.State.SUCCEEDED and done.result["documents"] == 1
    assert done.target_type == "corpus" and done.target_id == Corpus.objects.get().pk
