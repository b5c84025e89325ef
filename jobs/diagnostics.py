"""Harmless diagnostic job kinds, always registered: "noop" (dispatch overhead) and "sleep_items" (a slow,
chunked job writing one JobItemResult per item) used by the worker tests and benchmarks."""

from __future__ import annotations

import time

from django.db import transaction
from django.db.models import F

from jobs.chunks import chunk_count, chunk_range, run_chunks
from jobs.models import Job, JobItemResult
from jobs.progress import JobError, Progress
from jobs.registry import job_handler

MAX_ITEMS = 100_000
MAX_DELAY = 10.0


@job_handler("noop")
def noop(job: Job, progress: Progress) -> dict:
    """Does nothing: measures the round trip of the job machinery."""
    progress.set_total(1)
    progress.advance(1)
    return {"ok": True}


@job_handler("sleep_items")
def sleep_items(job: Job, progress: Progress) -> dict:
    """Processes params["items"] items, sleeping params["delay"] s each, in chunks of params["chunk_size"];
    params["fail_at"] makes that item fail (to test failures)."""
    try:
        n_items = int(job.params.get("items", 10))
        chunk_size = int(job.params.get("chunk_size", 1))
        delay = float(job.params.get("delay", 0.1))
    except (TypeError, ValueError) as exc:
        raise JobError("items, chunk_size and delay must be numbers.") from exc
    if not (0 <= n_items <= MAX_ITEMS and 1 <= chunk_size and 0 <= delay <= MAX_DELAY):
        raise JobError(f"items must be 0..{MAX_ITEMS}, chunk_size at least 1, delay 0..{MAX_DELAY} s.")
    fail_at = job.params.get("fail_at")
    progress.set_total(n_items)

    def do_chunk(index: int) -> int:
        items = chunk_range(index, chunk_size, n_items)
        for item in items:
            if fail_at is not None and item == int(fail_at):
                raise JobError(f"Item {item} failed on purpose.")
            if delay:
                time.sleep(delay)
        with transaction.atomic():
            JobItemResult.objects.bulk_create(
                [JobItemResult(job=job, item=item, attempts=0, worker=progress.worker) for item in items],
                update_conflicts=True,
                unique_fields=["job", "item"],
                update_fields=["worker"],
            )
            JobItemResult.objects.filter(job=job, item__in=list(items)).update(attempts=F("attempts") + 1)
        return len(items)

    run_chunks(job=job, progress=progress, n_chunks=chunk_count(n_items, chunk_size), fn=do_chunk)
    return {"items": n_items}
