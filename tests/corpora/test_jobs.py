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
from tests.corpora.helpers import unindexed


class RecordingProgress:
    def __init__(self):
        self.total = 0
        self.done = 0
        self.messages: list[str] = []
        self.message = ""

    def set_total(self, n):
        self.total = n

    def advance(self, k=1, message=""):
        self.done += k

    def set_done(self, n):
        self.done = n

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
    # its last phase: the text index the import deferred
    assert "indexing text for search: 2 of 2" in progress.messages[-2] and progress.messages[-1] == "Imported"
    assert unindexed() == 0
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
    from jobs.runner import run_job_inline

    job, _ = queued_job(b"id,text,path\n1,aspirin,Sci > Med\n2,bad,Nope\n")
    failed = run_job_inline(job, show_progress=False)
    assert failed.state == Job.State.FAILED and "unknown label 'Nope'" in failed.error
    job2, _ = queued_job(b"id,text,path\n3,aspirin,Sci > Med\n", name="ok.csv")
    done = run_job_inline(job2, show_progress=False)
    assert done.state == Job.State.SUCCEEDED and done.result["documents"] == 1
    assert done.target_type == "corpus" and done.target_id == Corpus.objects.get().pk


def test_a_job_error_lists_whole_problems_and_the_totals_per_kind(queued_job):
    from jobs.runner import run_job_inline

    rows = "".join(f"{i},text {i},Sci > Med,train_subset\n" for i in range(300))
    job, _ = queued_job(("id,text,path,split\n" + rows).encode())
    failed = run_job_inline(job, show_progress=False)
    assert failed.state == Job.State.FAILED
    lines = failed.error.splitlines()
    assert lines[:3] == [
        "The file was rejected; nothing was imported.",
        "300 problems in all, by kind:",
        "300 × field split: unknown split '…' (use train, dev or test, or map the name to one of them)",
    ]
    message = "field split: unknown split 'train_subset' (use train, dev or test, or map the name to one of them)"
    listed = [line for line in lines[3:] if not line.startswith("...")]
    assert listed and all(line == f"big<img src=x>.csv, line {i + 2}, {message}" for i, line in enumerate(listed))
    assert lines[-1].startswith("... and ") and len(failed.error) <= 2000


def test_a_queued_import_applies_the_split_map(queued_job):
    from jobs.runner import run_job_inline

    job, _ = queued_job(b"id,text,split\n1,a,train_subset\n2,b,test\n", split_map="train_subset=train")
    assert job.params["split_map"] == {"train_subset": "train"}
    done = run_job_inline(job, show_progress=False)
    assert done.state == Job.State.SUCCEEDED
    assert dict(Document.objects.values_list("external_id", "split")) == {"1": "train", "2": "test"}


THREE_DOCS = b"id,text,path\n1,aspirin,Sci > Med\n2,insulin,Sci > Med\n3,ibuprofen,Sci\n"


def test_a_cancel_while_indexing_ends_cancelled_and_names_the_imported_documents_kept(queued_job, monkeypatch):
    """The documents are committed before the index phase: a cancel then cannot undo them, and the job says so."""
    from corpora import search
    from jobs.runner import run_job_inline
    from jobs.services import job_cancel

    monkeypatch.setattr("jobs.progress.FLUSH_INTERVAL", 0)  # every progress report looks at the cancel flag
    real = search.search_index_pending

    def cancelled_after_the_first_chunk(*, progress=None, chunk=500):
        def report(done, total):
            job_cancel(job=Job.objects.get(kind="corpus_import"), actor=None)  # a user presses Cancel
            progress(done, total)

        return real(progress=report, chunk=1)

    monkeypatch.setattr("corpora.jobs.search_index_pending", cancelled_after_the_first_chunk)
    job, _ = queued_job(THREE_DOCS)
    finished = run_job_inline(job, show_progress=False)
    assert finished.state == Job.State.CANCELLED and finished.partial
    assert "the 3 imported documents are kept" in finished.message and "text index is unfinished" in finished.message
    assert Document.objects.count() == 3 and unindexed() == 2
    assert real() == 2 and unindexed() == 0  # what the next import (or any synchronous one) finishes


def test_an_error_while_indexing_keeps_the_import_succeeded_and_says_the_index_is_unfinished(queued_job, monkeypatch):
    from django.db import OperationalError

    from corpora import search
    from jobs.runner import run_job_inline

    real = search.search_index_pending

    def disk_fault_after_the_first_chunk(*, progress=None, chunk=500):
        def report(done, total):
            progress(done, total)
            raise OperationalError("disk I/O error")

        return real(progress=report, chunk=1)

    monkeypatch.setattr("corpora.jobs.search_index_pending", disk_fault_after_the_first_chunk)
    job, _ = queued_job(THREE_DOCS)
    finished = run_job_inline(job, show_progress=False)
    assert finished.state == Job.State.SUCCEEDED and finished.result["documents"] == 3
    note = finished.result["search_index"]
    assert note.startswith("unfinished (1 of 3 indexed) after an error: Unexpected error (OperationalError): disk I/O")
    assert "Search still finds every document" in note
    assert Document.objects.count() == 3 and unindexed() == 2


def test_a_locked_database_while_indexing_is_retried_by_the_next_attempt(queued_job, monkeypatch):
    from django.db import OperationalError

    from jobs.runner import run_job_inline

    def busy(*, progress=None, chunk=500):
        raise OperationalError("database is locked")

    monkeypatch.setattr("corpora.jobs.search_index_pending", busy)
    monkeypatch.setattr("jobs.runner.time.sleep", lambda s: None)
    job, _ = queued_job(THREE_DOCS)
    again = run_job_inline(job, show_progress=False)
    assert again.state == Job.State.QUEUED and Document.objects.count() == 3
    monkeypatch.undo()
    done = run_job_inline(again, show_progress=False)  # finds the committed corpus, imports nothing twice
    assert done.state == Job.State.SUCCEEDED and "search_index" not in done.result
    assert Document.objects.count() == 3 and unindexed() == 0
