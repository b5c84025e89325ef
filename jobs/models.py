"""The Job row: the source of truth for background work, whatever task backend runs it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Job(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    kind = models.CharField(max_length=64, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    params = models.JSONField(default=dict, blank=True, help_text="Non-secret parameters only.")
    result = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    partial = models.BooleanField(default=False, help_text="Stopped early; what finished is kept.")
    # Named phases of a multi-phase job (train, predict, evaluate): [{"key", "label", "weight", "fraction"}].
    phases = models.JSONField(default=list, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # The queue the job waits in (by the resource it needs, jobs/queues.py) and the device of the worker that
    # ran its latest attempt ("cpu", "cuda:0 (NVIDIA …)").
    queue = models.CharField(max_length=64, default="default", db_index=True)
    device = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    task_id = models.CharField(max_length=200, blank=True)
    # What the job produces, for a link from the jobs page (e.g. "run", 12).
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == self.State.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def display_message(self) -> str:
        """What the job is doing, or how it ended: a finished job never shows its last progress message."""
        if self.error:
            return self.error
        if self.state == self.State.SUCCEEDED:
            return "Finished."
        return self.message

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def elapsed_seconds(self) -> float:
        """Seconds since the job first started (until it finished); 0 while it waits in the queue."""
        if not self.started_at:
            return 0.0
        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def remaining_seconds(self) -> float | None:
        """A running job's estimated seconds left, by its pace so far (elapsed x steps left / steps done);
        None before the first step is reported, once it has finished, or without a step count."""
        if self.state != self.State.RUNNING or not self.progress_total or not self.progress_done:
            return None
        left = max(0, self.progress_total - self.progress_done)
        return self.elapsed_seconds * left / self.progress_done


class WorkerPresence(models.Model):
    """A running `htc_worker`: which queues it serves and its device, refreshed while it runs (so the app can
    tell whether a GPU worker exists). Removed when the worker stops; a killed worker's row just goes stale."""

    name = models.CharField(max_length=200, unique=True)
    host = models.CharField(max_length=200, blank=True)
    queues = models.JSONField(default=list)
    device = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"worker {self.name} ({', '.join(self.queues)}; {self.device})"


class JobItemResult(models.Model):
    """Output of the diagnostic "sleep_items" job: one row per item, so "done exactly once" can be checked."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="item_results")
    item = models.PositiveIntegerField()
    attempts = models.PositiveIntegerField(default=0, help_text="How many times the item was computed.")
    worker = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job", "item"]
        constraints = [models.UniqueConstraint(fields=["job", "item"], name="unique_job_item")]

    def __str__(self) -> str:
        return f"item {self.item} of job {self.job_id}"
