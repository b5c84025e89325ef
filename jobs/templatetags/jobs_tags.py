from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def elapsed(seconds: float | int | None) -> str:
    """Seconds as "42s" or "3m 5s" (the same format the progress poller writes)."""
    from jobs.selectors import format_seconds

    return format_seconds(seconds)


@register.filter
def job_phases(job) -> list[dict]:
    """The job's named phases with state and percent (jobs.selectors.job_phases)."""
    from jobs.selectors import job_phases as phases

    return phases(job)


@register.filter
def job_progress_text(job) -> str:
    from jobs.selectors import job_progress_text as text

    return text(job)
