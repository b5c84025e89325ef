"""Reads for the jobs pages: always scoped to a project the caller already checked."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from jobs.models import Job


def job_list_for_project(*, project, state: str | None = None) -> QuerySet[Job]:
    """The project's jobs, newest first, optionally only one state."""
    qs = Job.objects.filter(project=project).select_related("created_by")
    if state in Job.State.values:
        qs = qs.filter(state=state)
    return qs


def job_get(*, project, job_id: int) -> Job:
    """The job if it belongs to the project; 404 otherwise."""
    return get_object_or_404(Job.objects.select_related("created_by"), project=project, pk=job_id)


def job_status(*, job: Job) -> dict:
    """The JSON the progress poller reads: {id, state, percent, done, total, message, error, elapsed_seconds, partial}."""
    return {
        "id": job.pk,
        "state": job.state,
        "percent": job.percent,
        "done": job.progress_done,
        "total": job.progress_total,
        "message": job.message,
        "error": job.error,
        "elapsed_seconds": round(job.elapsed_seconds, 1),
        "partial": job.partial,
        "queue": job.queue,
        "worker": job.worker,
        "device": job.device,
    }
