"""Harmless diagnostic job kinds, always registered: "noop" (dispatch overhead) and "sleep_items" (a slow job
writing one JobItemResult per item, in chunks) used by the worker tests and benchmarks.

"sleep_items" resumes the way prediction does: a retried attempt skips the items that already have a result
row, and rows are upserted on (job, item), so an item redone after a killed worker is written once."""

from __future__ import annotations

import time

from django.db import transaction
from django.db.models import F

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

    done = set(JobItemResult.objects.filter(job=job).values_list("item", flat=True))
    if done:
        progress.set_done(len(done))
    for start in range(0, n_items, chunk_size):
        items = [item for item in range(start, min(n_items, start + chunk_size)) if item not in done]
        for item in items:
            if fail_at is not None and item == int(fail_at):
                raise JobError(f"Item {item} failed on purpose.")
            if delay:
                time.sleep(delay)
        if not items:
            continue
        with transaction.atomic():
            JobItemResult.objects.bulk_create(
                [JobItemResult(job=job, item=item, attempts=0, worker=progress.worker) for item in items],
                update_conflicts=True,
                unique_fields=["job", "item"],
                update_fields=["worker"],
            )
            JobItemResult.objects.filter(job=job, item__in=items).update(attempts=F("attempts") + 1)
        progress.advance(len(items))
    return {"items": n_items}
