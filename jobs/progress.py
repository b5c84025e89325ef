"""Progress reporting for job handlers: counts, heartbeat, lease extension and cancellation in one object."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# Progress rows are written at most this often (seconds), so SQLite write locks stay short and rare.
FLUSH_INTERVAL = 0.5


class JobCancelled(Exception):
    """Raised by Progress when the job was asked to stop; the runner records it as cancelled (partial)."""


class JobLeaseLost(Exception):
    """Raised by Progress when this worker no longer owns the job (the reaper gave it to another attempt)."""


class JobError(Exception):
    """A failure a handler explains in plain words; the message is shown to users as is."""


class Progress:
    """Handed to every job handler: `set_total(n)`, `advance(k, message)`, `set_message(text)`.

    Writes progress, heartbeat and a fresh lease in a short transaction at most every FLUSH_INTERVAL seconds
    (and on `flush(force=True)`), then raises JobCancelled if a cancel was requested.
    `listener(done, total, message)` is called on every change (the tqdm bar of run_job_inline).
    """

    def __init__(
        self,
        job,
        *,
        worker: str | None = None,
        listener: Callable[[int, int, str], None] | None = None,
        interval: float | None = None,
    ):
        self.job = job
        self.worker = worker if worker is not None else job.worker
        self.done = job.progress_done
        self.total = job.progress_total
        self.message = ""
        self.listener = listener
        self.interval = FLUSH_INTERVAL if interval is None else interval
        self.last_flush = 0.0  # time.monotonic() of the last successful write
        # Transactions already open when the job started (a test's, or none in a worker). A flush inside a
        # transaction the handler opened itself is not written: it would stay invisible until commit and, on
        # PostgreSQL, lock the Job row against cancel requests and heartbeats. The heartbeat thread writes instead.
        self._base_depth = len(connection.atomic_blocks)

    # The handler-facing API.
    def set_total(self, total: int) -> None:
        self.total = max(0, int(total))
        self._notify()
        self.flush(force=True)

    def set_done(self, done: int) -> None:
        """Set the absolute count (e.g. work already finished by an earlier attempt)."""
        self.done = max(0, int(done))
        self._notify()
        self.flush()

    def advance(self, k: int = 1, message: str = "") -> None:
        self.done += int(k)
        if message:
            self.message = message
        self._notify()
        self.flush()

    def set_message(self, message: str) -> None:
        self.message = message
        self._notify()
        self.flush()

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        return min(100, int(100 * self.done / self.total))

    def _notify(self) -> None:
        if self.listener is not None:
            self.listener(self.done, self.total, self.message)

    def flush(self, force: bool = False) -> None:
        """Write progress + heartbeat + lease (throttled unless `force`); raise JobCancelled / JobLeaseLost."""
        now_mono = time.monotonic()
        if not force and now_mono - self.last_flush < self.interval:
            return
        if len(connection.atomic_blocks) > self._base_depth:
            self._check_cancel_only()
            return
        try:
            cancel = self._write()
        except OperationalError as exc:
            # SQLite busy: skip this tick (the heartbeat thread and the next tick try again) unless forced.
            if force or "locked" not in str(exc).lower():
                raise
            logger.info("Progress write for job %s skipped: database busy", self.job.pk)
            return
        self.last_flush = now_mono
        if cancel:
            raise JobCancelled(f"Job {self.job.pk} was cancelled")

    def _write(self) -> bool:
        from jobs.models import Job

        now = timezone.now()
        lease = timedelta(seconds=max(1, int(getattr(settings, "HTC_JOB_LEASE_SECONDS", 60))))
        with transaction.atomic():
            owned = Job.objects.filter(pk=self.job.pk, state=Job.State.RUNNING, worker=self.worker)
            written = owned.update(
                progress_done=self.done,
                progress_total=self.total,
                message=self.message[:500],
                heartbeat_at=now,
                lease_expires_at=now + lease,
            )
            cancel = written and owned.filter(cancel_requested=True).exists()
        if not written:
            raise JobLeaseLost(f"Job {self.job.pk} is no longer owned by {self.worker}")
        return bool(cancel)

    def _check_cancel_only(self) -> None:
        """Inside the handler's own transaction: only look at the cancel flag (visible on PostgreSQL)."""
        from jobs.models import Job

        now_mono = time.monotonic()
        if now_mono - self._last_cancel_check < self.interval:
            return
        self._last_cancel_check = now_mono
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled(f"Job {self.job.pk} was cancelled")

    _last_cancel_check = 0.0

    def heartbeat(self) -> bool:
        """Write the current progress and extend the lease, from the runner's heartbeat thread (its own
        connection). Returns False when this worker no longer owns the job."""
        try:
            self._write()
        except JobLeaseLost:
            return False
        self.last_flush = time.monotonic()
        return True
