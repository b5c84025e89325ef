"""Job state transitions. The Job row is the source of truth; task backends only carry a job id.

States: queued -> running -> succeeded | failed | cancelled. A running job holds a lease that its worker keeps
extending (Progress ticks and a heartbeat thread); the reaper requeues or fails jobs whose lease ran out.
Every transition is a short conditional UPDATE, so two workers can never both own one job.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.models import Job
from jobs.progress import JobCancelled, JobError, JobLeaseLost, Progress  # noqa: F401  (re-exported)
from jobs.queues import queue_for
from jobs.registry import HANDLERS, enqueue, resource_for

logger = logging.getLogger(__name__)

MESSAGE_MAX = 500


def lease_seconds() -> int:
    return max(1, int(getattr(settings, "HTC_JOB_LEASE_SECONDS", 60)))


def is_locked_error(exc: BaseException) -> bool:
    """True for SQLite's "database is locked"/"database table is locked": retryable, not the job's fault."""
    return isinstance(exc, OperationalError) and "locked" in str(exc).lower()


def job_create(
    *,
    kind: str,
    project,
    params: dict | None = None,
    created_by=None,
    target_type: str = "",
    target_id: int | None = None,
    max_attempts: int | None = None,
) -> Job:
    """Create a queued job row (not yet dispatched: call job_dispatch). Returns the Job.

    `params` must be small, JSON-serialisable and free of secrets (pass the id of a stored credential instead).
    """
    if kind not in HANDLERS:
        raise ValidationError({"kind": f"Unknown job kind {kind!r}."})
    params = dict(params or {})
    try:
        encoded = json.dumps(params)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"params": f"Job parameters must be JSON: {exc}"}) from exc
    if len(encoded) > 64 * 1024:
        raise ValidationError({"params": "Job parameters are too large; store the data and pass its id."})
    if max_attempts is None:
        max_attempts = int(getattr(settings, "HTC_JOB_MAX_ATTEMPTS", 3))
    if max_attempts < 1:
        raise ValidationError({"max_attempts": "A job needs at least one attempt."})
    queue = queue_for(resource_for(kind, params))
    with transaction.atomic():
        return Job.objects.create(
            kind=kind,
            project=project,
            params=params,
            queue=queue,
            created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
            target_type=target_type,
            target_id=target_id,
            max_attempts=max_attempts,
        )


def _enqueue_now(job_id: int) -> None:
    """Hand the job id to the task backend, on the job's queue, and remember the backend's task id (best effort)."""
    queue = Job.objects.filter(pk=job_id).values_list("queue", flat=True).first() or "default"
    try:
        result = enqueue(job_id, queue)
    except Exception:  # backend unreachable (Redis down, ...): the job must not stay queued forever
        logger.exception("Could not enqueue job %s", job_id)
        Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
            state=Job.State.FAILED,
            error="The job could not be queued: the background worker queue is unreachable.",
            finished_at=timezone.now(),
        )
        return
    # ImmediateBackend has already run the job by now; only record the id while it is still queued.
    Job.objects.filter(pk=job_id, task_id="").update(task_id=str(result.id)[:200])


def job_dispatch(job: Job) -> None:
    """Enqueue the job once the surrounding transaction commits (never if it rolls back)."""
    transaction.on_commit(partial(_enqueue_now, job.pk))


def job_start(
    *,
    kind: str,
    project,
    params: dict | None = None,
    created_by=None,
    target_type: str = "",
    target_id: int | None = None,
    max_attempts: int | None = None,
) -> Job:
    """job_create + job_dispatch in one call. Returns the queued Job."""
    with transaction.atomic():
        job = job_create(
            kind=kind,
            project=project,
            params=params,
            created_by=created_by,
            target_type=target_type,
            target_id=target_id,
            max_attempts=max_attempts,
        )
        job_dispatch(job)
    return job


def job_claim(*, job_id: int, worker: str, device: str = "", now: datetime | None = None) -> Job | None:
    """Atomically move a queued job to running for `worker` (on `device`). Returns the Job, or None when it is not
    queued (already running under a live lease, finished, cancelled, or gone): one worker runs one job."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
            state=Job.State.RUNNING,
            attempt=F("attempt") + 1,
            lease_expires_at=now + timedelta(seconds=lease_seconds()),
            heartbeat_at=now,
            worker=worker[:200],
            device=device[:200],
            started_at=Coalesce(F("started_at"), Value(now)),
            message="",
        )
    if not claimed:
        return None
    return Job.objects.get(pk=job_id)


def _finish(job: Job, *, worker: str | None, **fields) -> bool:
    """Move a running job to a final state, only if `worker` (when given) still owns it. True when written."""
    qs = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING)
    if worker is not None:
        qs = qs.filter(worker=worker)
    fields.setdefault("finished_at", timezone.now())
    fields.setdefault("lease_expires_at", None)
    with transaction.atomic():
        written = qs.update(**fields)
    if not written:
        logger.warning("Job %s was no longer owned by %s; outcome %s not recorded", job.pk, worker, fields.get("state"))
        return False
    job.refresh_from_db()
    return True


def job_succeed(
    *, job: Job, worker: str | None = None, result: dict | None = None, progress: Progress | None = None
) -> bool:
    """Mark the job succeeded (keeping the final progress). Returns False if the worker lost the job meanwhile."""
    # The last progress message ("Predicting the test split") is not true any more once the job finished.
    fields: dict = {
        "state": Job.State.SUCCEEDED,
        "result": result or {},
        "error": "",
        "partial": False,
        "message": "Finished.",
    }
    if progress is not None:
        fields.update(progress_done=progress.done, progress_total=max(progress.total, progress.done))
        if progress.phases is not None:  # every phase finished: the bar is full
            fields["phases"] = [dict(p, fraction=1.0) for p in progress.phases]
            fields["progress_done"] = fields["progress_total"]
    return _finish(job, worker=worker, **fields)


def job_fail(*, job: Job, error: str, worker: str | None = None, progress: Progress | None = None) -> bool:
    """Mark the job failed with `error` in plain words (the traceback belongs in the log). Returns True if written."""
    fields: dict = {"state": Job.State.FAILED, "error": (error or "The job failed.").strip()[:2000]}
    if progress is not None:
        fields.update(progress_done=progress.done, progress_total=progress.total)
        if progress.phases is not None:
            fields["phases"] = progress.phases
    return _finish(job, worker=worker, **fields)


def job_mark_cancelled(*, job: Job, worker: str | None = None, progress: Progress | None = None) -> bool:
    """A running job stopped at a cancel request: state cancelled, partial, finished work kept."""
    fields: dict = {"state": Job.State.CANCELLED, "partial": True}
    done = progress.done if progress is not None else job.progress_done
    total = progress.total if progress is not None else job.progress_total
    fields.update(progress_done=done, progress_total=total)
    if progress is not None and progress.phases is not None:
        fields["phases"] = progress.phases
    kept = progress.kept if progress is not None else ""
    if kept:
        fields["message"] = f"Cancelled; {kept}"[:MESSAGE_MAX]
    elif progress is not None and progress.phases is not None:
        fields["message"] = "Cancelled."  # the counts are thousandths of the phases, not items kept
    else:
        fields["message"] = f"Cancelled; {done} of {total} finished and kept." if total else "Cancelled."
    return _finish(job, worker=worker, **fields)


def job_can_cancel(*, job: Job, membership) -> bool:
    """Owners may cancel any job of their project; annotators their own jobs; viewers none."""
    from projects.models import Role

    if membership is None or membership.project_id != job.project_id:
        return False
    if membership.has_role(Role.OWNER):
        return True
    return membership.has_role(Role.ANNOTATOR) and job.created_by_id == membership.user_id


def job_cancel(*, job: Job, actor=None) -> Job:
    """Cancel a job: a queued job is cancelled at once; a running one is asked to stop at its next progress tick.

    `actor` None means the system. Raises PermissionDenied when the actor may not cancel this job and
    ValidationError when the job already finished. Returns the refreshed Job.
    """
    if actor is not None:
        from projects.models import Membership

        membership = Membership.objects.filter(project_id=job.project_id, user=actor).first()
        if not job_can_cancel(job=job, membership=membership):
            raise PermissionDenied("You may not cancel this job.")
    now = timezone.now()
    with transaction.atomic():
        cancelled_queued = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            state=Job.State.CANCELLED, cancel_requested=True, finished_at=now, message="Cancelled before it started."
        )
        if not cancelled_queued:
            flagged = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
                cancel_requested=True, message="Cancelling…"
            )
            if not flagged:
                raise ValidationError("This job has already finished.")
    job.refresh_from_db()
    return job


def _queue_now(job: Job) -> str:
    """The queue for another attempt, chosen again: a GPU worker that died no longer draws torch jobs once its
    presence is stale. Keeps the job's queue if the choice fails (e.g. its run was deleted)."""
    try:
        return queue_for(resource_for(job.kind, job.params or {}))
    except Exception:
        logger.warning("Job %s: keeping queue %s for the retry", job.pk, job.queue, exc_info=True)
        return job.queue


def job_requeue(*, job: Job, worker: str | None = None, reason: str, now: datetime | None = None) -> bool:
    """Put a running job back in the queue (another attempt) and re-enqueue it through the tasks API on commit.

    Used by the reaper (lease expired) and the runner (retryable error). Returns True if requeued.
    """
    now = now or timezone.now()
    qs = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING)
    if worker is not None:
        qs = qs.filter(worker=worker)
    with transaction.atomic():
        written = qs.update(
            state=Job.State.QUEUED,
            worker="",
            lease_expires_at=None,
            task_id="",
            message=reason[:MESSAGE_MAX],
            queue=_queue_now(job),
        )
        if written:
            transaction.on_commit(partial(_enqueue_now, job.pk))
    return bool(written)


def jobs_reap(now: datetime | None = None) -> dict[str, list[int]]:
    """Requeue (attempt < max_attempts) or fail running jobs whose lease expired; honour pending cancels.

    Returns {"requeued": [ids], "failed": [ids], "cancelled": [ids]}.
    """
    now = now or timezone.now()
    outcome: dict[str, list[int]] = {"requeued": [], "failed": [], "cancelled": []}
    expired = Job.objects.filter(state=Job.State.RUNNING, lease_expires_at__lt=now).order_by("pk")
    for job in expired:
        # The conditional filter repeats the expiry test: a heartbeat that landed meanwhile wins.
        still_expired = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, lease_expires_at__lt=now)
        with transaction.atomic():
            if job.cancel_requested:
                if still_expired.update(
                    state=Job.State.CANCELLED,
                    partial=True,
                    finished_at=now,
                    lease_expires_at=None,
                    message=f"Cancelled; {job.progress_done} of {job.progress_total} finished and kept.",
                ):
                    outcome["cancelled"].append(job.pk)
            elif job.attempt < job.max_attempts:
                if still_expired.update(
                    state=Job.State.QUEUED,
                    worker="",
                    queue=_queue_now(job),
                    lease_expires_at=None,
                    task_id="",
                    message=f"The worker stopped responding; retrying (attempt {job.attempt + 1} of {job.max_attempts}).",
                ):
                    transaction.on_commit(partial(_enqueue_now, job.pk))
                    outcome["requeued"].append(job.pk)
            else:
                times = "once" if job.attempt == 1 else f"{job.attempt} times"
                if still_expired.update(
                    state=Job.State.FAILED,
                    finished_at=now,
                    lease_expires_at=None,
                    error=f"The worker stopped responding {times}; the job was given up.",
                ):
                    outcome["failed"].append(job.pk)
    if any(outcome.values()):
        logger.warning("Reaper: %s", outcome)
    return outcome
