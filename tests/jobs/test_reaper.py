"""Housekeeping done by the worker's reaper thread."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone


def test_prune_deletes_only_old_finished_task_results(db, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from jobs.reaper import prune_task_results
    from jobs.tasks import run_job

    old, recent, waiting = (run_job.enqueue(job_id=i) for i in (1, 2, 3))
    DBTaskResult.objects.filter(id=old.id).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=timezone.now() - timedelta(days=30)
    )
    DBTaskResult.objects.filter(id=recent.id).update(status=TaskResultStatus.SUCCESSFUL, finished_at=timezone.now())
    assert prune_task_results() == 1
    assert {str(i) for i in DBTaskResult.objects.values_list("id", flat=True)} == {recent.id, waiting.id}


@pytest.mark.parametrize("lease, expected", [(2, 1.0), (60, 30.0), (600, 30.0)])
def test_reaper_runs_about_twice_per_lease(settings, lease, expected):
    from jobs.reaper import default_reap_interval

    settings.HTC_JOB_LEASE_SECONDS = lease
    assert default_reap_interval() == expected
