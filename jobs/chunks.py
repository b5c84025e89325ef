"""Chunked, idempotent work: a job that splits (prediction over a corpus) runs chunk by chunk, a retried attempt
skips the chunks already done, and results are upserted on a unique key so a redone chunk never duplicates rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from django.db import models, transaction
from django.utils import timezone

from jobs.models import Job, JobChunk
from jobs.progress import Progress


def chunk_count(n_items: int, chunk_size: int) -> int:
    """How many chunks of `chunk_size` cover `n_items`."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    return (max(0, n_items) + chunk_size - 1) // chunk_size


def chunk_range(index: int, chunk_size: int, n_items: int) -> range:
    """The item positions of chunk `index`."""
    return range(index * chunk_size, min(n_items, (index + 1) * chunk_size))


def chunks_done(job: Job) -> dict[int, int]:
    """{chunk index: size} of the chunks this job already finished (in any attempt)."""
    return dict(JobChunk.objects.filter(job=job, state=JobChunk.State.DONE).values_list("index", "size"))


def chunk_mark_done(*, job: Job, index: int, size: int) -> None:
    """Record chunk `index` as done (idempotent)."""
    with transaction.atomic():
        JobChunk.objects.bulk_create(
            [JobChunk(job=job, index=index, state=JobChunk.State.DONE, size=size, done_at=timezone.now())],
            update_conflicts=True,
            unique_fields=["job", "index"],
            update_fields=["state", "size", "done_at"],
        )


def run_chunks(*, job: Job, progress: Progress, n_chunks: int, fn: Callable[[int], int | None]) -> int:
    """Run fn(index) for every chunk not done yet, marking each done after fn returns.

    fn must write its results with upserts on a unique key (see `bulk_upsert`) and return how many items it
    covered (None counts as 1): that number feeds the progress bar. A cancel request stops between chunks
    (JobCancelled from progress.advance) and keeps the finished chunks. Returns how many chunks ran now.
    """
    done = chunks_done(job)
    already = sum(size for index, size in done.items() if index < n_chunks)
    if already:
        progress.set_done(already)
    ran = 0
    for index in range(n_chunks):
        if index in done:
            continue
        size = fn(index)
        size = 1 if size is None else int(size)
        chunk_mark_done(job=job, index=index, size=size)
        ran += 1
        progress.advance(size)
    return ran


def bulk_upsert(
    model: type[models.Model],
    objs: Iterable[models.Model],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    batch_size: int = 500,
) -> int:
    """Insert or update rows on their unique key in one short transaction. Returns the number of rows sent.

    Example: bulk_upsert(Prediction, rows, unique_fields=["run", "document"], update_fields=["path", "scores"]).
    """
    objs = list(objs)
    if not objs:
        return 0
    with transaction.atomic():
        model.objects.bulk_create(
            objs,
            batch_size=batch_size,
            update_conflicts=True,
            unique_fields=list(unique_fields),
            update_fields=list(update_fields),
        )
    return len(objs)
