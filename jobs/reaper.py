"""The lease reaper as a background thread of the worker process."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone

from jobs.services import jobs_reap

logger = logging.getLogger(__name__)


def default_reap_interval() -> float:
    """Half a lease, between 1 and 30 seconds: an expired lease is noticed soon after it runs out."""
    lease = int(getattr(settings, "HTC_JOB_LEASE_SECONDS", 60))
    return float(max(1, min(30, lease // 2)))


PRUNE_EVERY_SECONDS = 6 * 3600
PRUNE_MIN_AGE_DAYS = 7


def prune_task_results() -> int:
    """Delete finished django-tasks-db result rows older than a week (the Job rows are the record; these only
    pile up). Returns how many were deleted."""
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends

    if type(task_backends[DEFAULT_TASK_BACKEND_ALIAS]).__name__ != "DatabaseBackend":
        return 0
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(days=PRUNE_MIN_AGE_DAYS)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lte=cutoff).delete()
    return deleted


class ReaperThread(threading.Thread):
    """Calls jobs_reap() every `interval` seconds until stop() (a daemon: it never keeps the process alive)."""

    def __init__(self, interval: float | None = None):
        super().__init__(name="htc-job-reaper", daemon=True)
        self.interval = interval or default_reap_interval()
        self.stopped = threading.Event()

    def run(self) -> None:
        next_prune = time.monotonic() + 60
        try:
            while not self.stopped.is_set():
                try:
                    jobs_reap()
                    if time.monotonic() >= next_prune:
                        next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                        prune_task_results()
                except OperationalError as exc:  # SQLite busy or a dropped connection: try again next round
                    logger.info("Reaper skipped a round: %s", exc)
                    connection.close()
                except Exception:
                    logger.exception("Reaper round failed")
                    connection.close()
                self.stopped.wait(self.interval)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
