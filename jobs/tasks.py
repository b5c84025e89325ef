"""The one task every backend runs. It receives only a job id; the Job row holds everything else."""

from __future__ import annotations

from django.db import close_old_connections, connection
from django_tasks import task


def _drop_stale_connections() -> None:
    # Long-lived workers: drop connections the database closed meanwhile. Never inside a transaction
    # (the Immediate backend runs the task inside the caller's, e.g. in tests).
    if not connection.in_atomic_block:
        close_old_connections()


@task()
def run_job(job_id: int) -> None:
    """Claim and run the job (no-op if another worker owns it or it already finished)."""
    from jobs.runner import job_execute

    _drop_stale_connections()
    try:
        job_execute(job_id=job_id)
    finally:
        _drop_stale_connections()
