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
        self.phases: list[dict] | None = None  # set by PhasedProgress; written with the counts
        self.kept = ""  # what a handler keeps when cancelled, in words (the cancelled job's message)
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

    def cancel_requested(self) -> bool:
        """Whether a cancel was asked for (read at most every `interval` seconds; no write). For loops that must
        stop between steps that report no progress, e.g. before every LLM call."""
        from jobs.models import Job

        now_mono = time.monotonic()
        if self._cancel_seen or now_mono - self._last_cancel_check < self.interval:
            return self._cancel_seen
        self._last_cancel_check = now_mono
        self._cancel_seen = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self._cancel_seen

    _cancel_seen = False

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
            fields = {
                "progress_done": self.done,
                "progress_total": self.total,
                "message": self.message[:500],
                "heartbeat_at": now,
                "lease_expires_at": now + lease,
            }
            if self.phases is not None:
                fields["phases"] = self.phases
            written = owned.update(**fields)
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


class PhasedProgress:
    """Named, weighted phases of one job (train, predict, evaluate) feeding one Progress: the overall bar only
    moves forward, the message names the phase and what it is doing, and the phases are stored on the job.

    `phase(key)` starts a phase and returns self, an engine-style callback `(done, total)`. Inside a phase the
    engine may call `note(message, share)` (classifiers.engine.base.progress_note): the message says what comes
    next ("Encoding 1,200 documents") and `share` reserves that share of the rest of the phase for it. A report
    with a new total starts a new step over the rest of the phase, so a phase never goes back.
    """

    SCALE = 1000  # the job's progress_total: overall progress in thousandths

    def __init__(self, progress: Progress | None, phases: list[tuple[str, str, float]]):
        self.progress = progress
        self.phases = [{"key": k, "label": label, "weight": float(w), "fraction": 0.0} for k, label, w in phases]
        self.index = -1
        self._reset_step()
        if progress is not None:
            progress.phases = self.snapshot()
            progress.set_total(self.SCALE)

    # ----- handler side -----
    def phase(self, key: str) -> PhasedProgress:
        """Start phase `key` (earlier phases count as finished); returns self, the callback for the engine."""
        keys = [p["key"] for p in self.phases]
        new = keys.index(key)
        for p in self.phases[:new]:
            p["fraction"] = 1.0
        self.index = new
        self._reset_step()
        self._push()
        return self

    @property
    def current(self) -> dict | None:
        return self.phases[self.index] if 0 <= self.index < len(self.phases) else None

    def cancel_requested(self) -> bool:
        """The job's cancel flag (a cheap, throttled read): engine loops ask it before costly steps (LLM calls)."""
        return self.progress is not None and self.progress.cancel_requested()

    # ----- engine side -----
    def note(self, message: str, share: float | None = None) -> None:
        self.detail = message
        if share is not None and self.current is not None:
            start = self.current["fraction"]
            self.step_start, self.step_end = start, start + (1.0 - start) * min(1.0, max(0.0, float(share)))
            self.step_total = None
            self.counts = None
        self._push()

    def __call__(self, done: int, total: int) -> None:
        phase = self.current
        if phase is None:
            return
        if self.step_total is not None and (total != self.step_total or done < self.step_done):
            # A new step the engine did not announce: it runs over the rest of the phase.
            self.step_start, self.step_end = phase["fraction"], 1.0
        self.step_total, self.step_done = total, done
        if total > 0:
            share = min(1.0, max(0.0, done / total))
            value = self.step_start + (self.step_end - self.step_start) * share
            phase["fraction"] = max(phase["fraction"], min(1.0, value))
            self.counts = (done, total)
        self._push()

    # ----- state -----
    def _reset_step(self) -> None:
        self.step_start, self.step_end = 0.0, 1.0
        self.step_total: int | None = None
        self.step_done = 0
        self.detail = ""
        self.counts: tuple[int, int] | None = None

    def snapshot(self) -> list[dict]:
        return [dict(p, fraction=round(p["fraction"], 4)) for p in self.phases]

    @property
    def overall(self) -> float:
        weight = sum(p["weight"] for p in self.phases) or 1.0
        return sum(p["weight"] * p["fraction"] for p in self.phases) / weight

    @property
    def message(self) -> str:
        phase = self.current
        if phase is None:
            return ""
        text = phase["label"]
        if len(self.phases) > 1:
            text = f"{text} (step {self.index + 1} of {len(self.phases)})"
        if self.detail:
            text = f"{text}: {self.detail}"
        if self.counts and self.counts[1] > 1:
            text = f"{text} · {self.counts[0]:,} of {self.counts[1]:,}"
        return text

    def _push(self) -> None:
        if self.progress is None:
            return
        self.progress.phases = self.snapshot()
        self.progress.message = self.message
        self.progress.set_done(max(self.progress.done, round(self.SCALE * self.overall)))
