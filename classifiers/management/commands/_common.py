"""Shared by the htc_* classifier commands: look-ups by name and running a job in the foreground."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from classifiers.models import Run
from projects.models import Project


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
            for field, msgs in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def project_by_name(name: str) -> Project:
    try:
        return Project.objects.select_related("taxonomy").get(name=name)
    except Project.DoesNotExist as exc:
        raise CommandError(f"No project named {name!r}.") from exc


def run_by_name(name: str, project_name: str | None = None) -> Run:
    """The run called `name` (in `project_name` when given); an error when missing or ambiguous."""
    runs = Run.objects.filter(name=name).select_related("project__taxonomy")
    if project_name:
        runs = runs.filter(project=project_by_name(project_name))
    found = list(runs[:2])
    if not found:
        where = f" in project {project_name!r}" if project_name else ""
        raise CommandError(f"No run named {name!r}{where}.")
    if len(found) > 1:
        raise CommandError(f"Several projects have a run named {name!r}; name the project with --project.")
    return found[0]


def run_job_foreground(*, run: Run, kind: str, split: str = "test", show_progress: bool = True):
    """Create a job for the run and run it here with a progress bar; CommandError when it does not succeed."""
    from jobs.models import Job
    from jobs.runner import run_job_inline
    from jobs.services import job_create

    job = job_create(
        kind=kind, project=run.project, params={"run_id": run.pk, "split": split}, target_type="run", target_id=run.pk
    )
    job = run_job_inline(job, show_progress=show_progress)
    job.refresh_from_db()
    if job.state != Job.State.SUCCEEDED:
        raise CommandError(
            f"The {kind} job of run {run.name!r} {job.state}: {job.error or job.message or 'no details'}"
        )
    return job
