"""The one task every backend runs. It receives only a job id; the Job row holds everything else."""

from __future__ import annotations

from django.db import close_old_connections, connection
from django_tasks import task

from jobs.registry import task_backend


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


@task_backend
def task_for_queue(queue: str):
    """`run_job` bound to `queue`. A backend configured without that queue (an override in a test, an old
    settings file) gets the job on its default queue, with a warning, rather than refusing it."""
    import logging

    from django_tasks import DEFAULT_TASK_QUEUE_NAME

    queues = getattr(run_job.get_backend(), "queues", None)
    if queues and queue not in queues:
        logging.getLogger(__name__).warning(
            "Queue %r is not configured for the task backend; using %r", queue, DEFAULT_TASK_QUEUE_NAME
        )
        queue = DEFAULT_TASK_QUEUE_NAME
    return run_job.using(queue_name=queue)
