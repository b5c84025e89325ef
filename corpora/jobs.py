"""The background corpus import: a job row names a stored upload (uploads storage, <uuid>) and the options."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.urls import reverse

from corpora.importing import problems_text
from corpora.models import Corpus
from corpora.search import search_index_pending
from corpora.services import corpus_import, upload_name
from htc_app.storage import upload_delete, upload_exists, upload_open
from jobs.registry import job_handler, job_target

logger = logging.getLogger(__name__)


def _result(corpus: Corpus, search_index_unfinished: str = "") -> dict:
    result = {"corpus": corpus.pk, "corpus_name": corpus.name, **corpus.stats}
    if search_index_unfinished:
        result["search_index"] = search_index_unfinished
    return result


def _will_retry(exc: Exception) -> bool:
    from jobs.progress import JobLeaseLost
    from jobs.services import is_locked_error

    return isinstance(exc, JobLeaseLost) or is_locked_error(exc)


def _index_for_search(progress, documents: int) -> str:
    """The import's last phase: the text index of the rows it wrote (the documents are already committed and
    listed; search finds them meanwhile, more slowly). The bar stays at the documents imported.

    The import's own work is done before this starts, so what follows never turns it into a failure: a cancel
    ends the job cancelled with the documents named as kept, and an error leaves the index unfinished and says so
    in the result (returned as words; '' when the index is complete). A lost lease or a busy SQLite still
    propagates: the next attempt finds the committed corpus and indexes what is left."""
    from jobs.progress import JobCancelled
    from jobs.runner import plain_error

    reached = {"done": 0, "total": 0}

    def report(done: int, total: int) -> None:
        reached.update(done=done, total=total)
        progress.set_message(f"Imported {documents:,} documents; indexing text for search: {done:,} of {total:,}")

    progress.kept = (
        f"the {documents:,} imported documents are kept (they were committed before indexing); their text index "
        "is unfinished: search still finds them, more slowly, and the next import finishes it"
    )
    try:
        if search_index_pending(progress=report):
            progress.set_message("Imported")
    except JobCancelled:
        raise  # the runner's cancelled message names what `kept` says
    except Exception as exc:
        if _will_retry(exc):
            raise
        progress.kept = ""
        logger.exception("Text index after an import stopped")
        progress.set_message("Imported; the text index is unfinished")
        return (
            f"unfinished ({reached['done']:,} of {reached['total']:,} indexed) after an error: "
            f"{plain_error(exc)} Search still finds every document, more slowly; the next import finishes it."
        )
    progress.kept = ""
    return ""


@job_handler("corpus_import")
def run_corpus_import(job, progress) -> dict:
    """Import the stored upload; the file is removed once the job has an outcome (kept if the worker dies)."""
    from jobs.progress import JobError

    params = job.params
    name = upload_name(params["upload"])
    done = Corpus.objects.filter(import_job=job).first()
    if done is not None:  # an earlier attempt committed, then its worker died before recording success
        upload_delete(name)
        unfinished = _index_for_search(progress, done.stats.get("documents", 0))
        return _result(done, unfinished)
    if not upload_exists(name):
        raise JobError("The uploaded file is no longer available; upload it again.")

    total_documents = 0
    progress.set_message("Importing (one pass: read, check and write)")

    def report(done_count: int, total: int | None) -> None:
        # Called from inside the import transaction: Progress keeps the counts in memory there (a write would
        # hold the job row's lock on PostgreSQL and stay invisible until commit); the runner's heartbeat thread
        # writes them from its own connection.
        nonlocal total_documents
        total_documents = done_count
        progress.message = f"Importing: {done_count:,} documents read"
        progress.set_done(done_count)

    try:
        with upload_open(name) as fh:
            corpus = corpus_import(
                project=job.project,
                file_name=params.get("file_name", "upload"),
                fileobj=fh,
                actor=job.created_by,
                add_missing_labels=params.get("add_missing_labels", False),
                test_fraction=params.get("test_fraction"),
                dev_fraction=params.get("dev_fraction"),
                seed=params.get("seed", 0),
                split_map=params.get("split_map") or None,
                name=params.get("name", ""),
                progress=report,
                job=job,
                index_search=False,
            )
    except ValidationError as exc:
        upload_delete(name)
        raise JobError("The file was rejected; nothing was imported.\n" + problems_text(exc.messages)) from None
    except Exception as exc:
        # Keep the file when another attempt will run (lease lost, SQLite busy); otherwise the job is over.
        if not _will_retry(exc):
            upload_delete(name)
        raise
    upload_delete(name)
    progress.set_total(total_documents)
    progress.set_done(total_documents)
    progress.set_message("Imported")
    unfinished = _index_for_search(progress, total_documents)
    job.target_id = corpus.pk
    type(job).objects.filter(pk=job.pk).update(target_id=corpus.pk)
    return _result(corpus, unfinished)


@job_target("corpus")
def corpus_url(job) -> str:
    """The corpus's documents (the list has no per-corpus filter yet)."""
    return reverse("corpora:documents", args=[job.project_id])
