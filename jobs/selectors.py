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


def job_active_for(*, target_type: str, target_id: int) -> Job | None:
    """The queued or running job working on this target (a run, a corpus), oldest first; None when idle."""
    return (
        Job.objects.filter(target_type=target_type, target_id=target_id, state__in=Job.ACTIVE_STATES)
        .order_by("id")
        .first()
    )


def format_seconds(seconds: float | int | None) -> str:
    """Seconds as "42s" or "3m 5s" (the same format the progress poller writes)."""
    s = max(0, round(float(seconds or 0)))
    minutes, rest = divmod(s, 60)
    return f"{minutes}m {rest}s" if minutes else f"{rest}s"


def job_phases(job: Job) -> list[dict]:
    """The job's named phases with their state ("done", "running", "waiting", "stopped") and percent."""
    out = []
    finished = job.state == Job.State.SUCCEEDED
    seen_running = False
    for phase in job.phases or []:
        fraction = 1.0 if finished else float(phase.get("fraction") or 0.0)
        if fraction >= 1.0:
            state = "done"
        elif not seen_running and job.is_active and (fraction > 0 or not out or out[-1]["state"] == "done"):
            state, seen_running = "running", True
        elif not job.is_active and fraction > 0:
            state = "stopped"
        else:
            state = "waiting"
        out.append(
            {
                "key": phase.get("key", ""),
                "label": phase.get("label", ""),
                "state": state,
                "percent": min(100, int(100 * fraction)),
            }
        )
    return out


def job_progress_text(job: Job) -> str:
    """The progress row of a job page: per phase for a phased job, else "done of total" items."""
    phases = job_phases(job)
    if phases:
        return "; ".join(f"{p['label']} {p['percent']}%" for p in phases)
    if not job.progress_total:
        return "—" if job.state != Job.State.SUCCEEDED else "done"
    return f"{job.progress_done:,} of {job.progress_total:,}"


def _time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def job_status(*, job: Job) -> dict:
    """The JSON every job view reads (the progress bar, the job page's table, a run page's state): one source.

    {id, state, state_label, active, percent, done, total, message, error, elapsed_seconds, remaining_seconds
    (None when unknown), remaining_text, partial, phases,
    progress_text, created_at, started_at, finished_at, attempt, target: {type, id, url, state, state_label},
    result: [[key, value], ...]}"""
    import json

    from jobs.registry import target_state, target_url

    target = None
    if job.target_type:
        state = target_state(job)
        target = {
            "type": job.target_type,
            "id": job.target_id,
            "label": f"{job.target_type} #{job.target_id}" if job.target_id is not None else "not created yet",
            "url": target_url(job),
            "state": state[0] if state else None,
            "state_label": state[1] if state else None,
        }
    result = [[str(k), v if isinstance(v, str) else json.dumps(v)] for k, v in sorted((job.result or {}).items())]
    remaining = job.remaining_seconds
    return {
        "id": job.pk,
        "state": job.state,
        "state_label": job.get_state_display(),
        "active": job.is_active,
        "percent": job.percent,
        "done": job.progress_done,
        "total": job.progress_total,
        "message": job.display_message,
        "error": job.error,
        "elapsed_seconds": round(job.elapsed_seconds, 1),
        "remaining_seconds": None if remaining is None else round(remaining, 1),
        "remaining_text": "" if remaining is None else f"about {format_seconds(remaining)} left",
        "partial": job.partial,
        "queue": job.queue,
        "worker": job.worker,
        "device": job.device,
        "phases": job_phases(job),
        "progress_text": job_progress_text(job),
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "attempt": f"{job.attempt} of {job.max_attempts}",
        "target": target,
        "result": result,
    }
