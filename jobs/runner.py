"""Runs one job attempt: claim the row, keep its lease alive, call the handler, record the outcome.

Shared by the `run_job` task (any backend) and `run_job_inline` (management commands, with a tqdm bar).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection

from htc_app.storage_faults import storage_fault
from jobs.models import Job
from jobs.progress import JobCancelled, JobError, JobLeaseLost, Progress
from jobs.registry import handler_for
from jobs.services import (
    is_locked_error,
    job_claim,
    job_fail,
    job_mark_cancelled,
    job_requeue,
    job_succeed,
    lease_seconds,
)

logger = logging.getLogger(__name__)

#: The device of this process, as `htc_worker` detected it; jobs run in other processes (management commands,
#: the immediate backend) say "cpu": nothing moves a model to a GPU there.
WORKER_DEVICE = ""


def current_device() -> str:
    return WORKER_DEVICE or "cpu"


def new_worker_id() -> str:
    """A token unique to one attempt: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def plain_error(exc: BaseException) -> str:
    """The failure in words a user can act on; tracebacks go to the log, never to the page."""
    if isinstance(exc, JobError):
        return str(exc) or "The job failed."
    fault = storage_fault(exc)  # a full disk or read-only storage: the words of the 507/503 pages
    if fault is not None:
        return fault.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, MemoryError):
        return "The worker ran out of memory."
    if isinstance(exc, FileNotFoundError):
        name = os.path.basename(exc.filename or "") or "a file"
        return f"A file the job needs is missing ({name})."
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return (f"Unexpected error ({name}): {text}" if text else f"Unexpected error ({name}).")[:500]


def _retry_locked(fn: Callable[[], object], tries: int = 6, pause: float = 1.0) -> object:
    """Call fn, retrying while SQLite reports the database as locked (the busy timeout already waited)."""
    for attempt in range(tries):
        try:
            return fn()
        except OperationalError as exc:
            if not is_locked_error(exc) or attempt == tries - 1:
                raise
            time.sleep(pause * (attempt + 1))
    return None  # pragma: no cover


class _Heartbeat(threading.Thread):
    """Extends the lease while the handler works, even between sparse progress ticks (a long training epoch).

    It dies with the process, so after kill -9 the lease runs out and the reaper takes over.
    """

    def __init__(self, progress: Progress, period: float):
        super().__init__(name=f"job-{progress.job.pk}-heartbeat", daemon=True)
        self.progress = progress
        self.period = period
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.period):
                if time.monotonic() - self.progress.last_flush < self.period:
                    continue  # the handler ticked recently: the lease is fresh
                try:
                    if not self.progress.heartbeat():
                        return
                except OperationalError as exc:
                    logger.info("Heartbeat for job %s skipped: %s", self.progress.job.pk, exc)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


def _tqdm_listener(job: Job):
    from tqdm import tqdm

    bar = tqdm(total=job.progress_total or None, desc=job.kind, unit="item", dynamic_ncols=True)

    def update(done: int, total: int, message: str) -> None:
        if total and bar.total != total:
            bar.total = total
        if message:
            bar.set_postfix_str(message[:40], refresh=False)
        bar.update(done - bar.n)

    return bar, update


def run_job_inline(job: Job, show_progress: bool = True) -> Job:
    """Run a queued job in the foreground (management commands), with a tqdm bar when `show_progress`.

    Returns the refreshed Job in its final state.
    """
    return job_execute(job_id=job.pk, show_progress=show_progress)


def job_execute(*, job_id: int, show_progress: bool = False) -> Job | None:
    """Run one attempt of the job if it can be claimed. Returns the job row afterwards (None if it is gone)."""
    worker = new_worker_id()
    job = _retry_locked(lambda: job_claim(job_id=job_id, worker=worker, device=current_device()), tries=30)
    if job is None:
        logger.info("Job %s not claimed (not queued any more)", job_id)
        return Job.objects.filter(pk=job_id).first()

    bar, listener = _tqdm_listener(job) if show_progress else (None, None)
    progress = Progress(job, worker=worker, listener=listener)
    progress.last_flush = time.monotonic()  # the claim just wrote a fresh lease
    # Inside a caller's transaction (run inline from a test or a request) the claim is not even visible to other
    # connections, so a heartbeat from one would only wait on the caller's locks: none is needed or started.
    heartbeat = None
    if not connection.in_atomic_block:
        heartbeat = _Heartbeat(progress, period=max(0.5, lease_seconds() / 3))
        heartbeat.start()
    try:
        _run_handler(job, progress, worker)
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        if bar is not None:
            bar.close()
    return Job.objects.filter(pk=job_id).first()


def _run_handler(job: Job, progress: Progress, worker: str) -> None:
    try:
        handler = handler_for(job.kind)
        result = handler(job, progress)  # job_succeed below writes the final count
    except JobCancelled:
        logger.info("Job %s cancelled at %s/%s", job.pk, progress.done, progress.total)
        _retry_locked(lambda: job_mark_cancelled(job=job, worker=worker, progress=progress))
    except JobLeaseLost:
        logger.warning("Job %s: lease lost by %s; another attempt owns it now", job.pk, worker)
    except Exception as exc:
        if is_locked_error(exc):
            _record_locked(job, worker, progress, exc)
        else:
            if isinstance(exc, JobError):
                logger.warning("Job %s (%s) failed: %s", job.pk, job.kind, exc)
            else:
                logger.exception("Job %s (%s) failed", job.pk, job.kind)
            error = plain_error(exc)
            _retry_locked(lambda: job_fail(job=job, error=error, worker=worker, progress=progress))
    else:
        if result is not None and not isinstance(result, dict):
            result = {"value": result}
        _retry_locked(lambda: job_succeed(job=job, worker=worker, result=result, progress=progress))


def _record_locked(job: Job, worker: str, progress: Progress, exc: Exception) -> None:
    """SQLite stayed locked past the busy timeout: retry the job later if attempts remain, else fail clearly."""
    logger.warning("Job %s hit a locked database: %s", job.pk, exc)
    time.sleep(float(getattr(settings, "HTC_JOB_LOCKED_RETRY_PAUSE", 1.0)))
    if job.attempt < job.max_attempts:
        _retry_locked(lambda: job_requeue(job=job, worker=worker, reason="The database was busy; retrying."))
    else:
        error = "The database stayed busy (another task kept it locked); please start the job again later."
        _retry_locked(lambda: job_fail(job=job, error=error, worker=worker, progress=progress))
