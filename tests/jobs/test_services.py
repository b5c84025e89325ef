"""The job state machine on the Immediate backend: success, failure, cancel, claim, reaper, on_commit, progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, transaction
from django.utils import timezone

from jobs.diagnostics import sleep_items
from jobs.models import Job, JobItemResult
from jobs.progress import JobError, JobLeaseLost, Progress
from jobs.runner import run_job_inline
from jobs.services import job_cancel, job_claim, job_create, job_start, jobs_reap

pytestmark = pytest.mark.usefixtures("immediate_tasks")


def test_job_runs_to_success_with_result_progress_and_one_row_per_item(job_project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="sleep_items", project=job_project, params={"items": 5, "chunk_size": 2, "delay": 0})
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert (job.progress_done, job.progress_total, job.percent) == (5, 5, 100)
    assert job.result == {"items": 5}
    assert job.attempt == 1 and job.finished_at is not None and job.lease_expires_at is None
    assert sorted(JobItemResult.objects.filter(job=job).values_list("item", "attempts")) == [(i, 1) for i in range(5)]


def test_failing_handler_stores_a_plain_message_not_a_traceback(job_project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="sleep_items", project=job_project, params={"items": 6, "delay": 0, "fail_at": 4})
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error == "Item 4 failed on purpose."
    assert job.progress_done == 4  # the items before the failure are kept
    assert JobItemResult.objects.filter(job=job).count() == 4


def test_unexpected_exception_is_reported_in_words(job_project, handlers, django_capture_on_commit_callbacks):
    def broken(job, progress):
        return {}["missing"]

    handlers("broken", broken)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="broken", project=job_project)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error.startswith("Unexpected error (KeyError)")
    assert "Traceback" not in job.error and "File " not in job.error


def test_cancel_of_a_running_job_stops_at_the_next_tick_and_keeps_finished_work(
    job_project, handlers, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("jobs.progress.FLUSH_INTERVAL", 0)  # every advance is a tick

    def cancelled_midway(job, progress):
        progress.set_total(10)

        for index in range(10):
            JobItemResult.objects.create(job=job, item=index, attempts=1)
            if index == 3:  # a user presses Cancel while item 3 runs
                job_cancel(job=Job.objects.get(pk=job.pk), actor=None)
            progress.advance(1)

    handlers("cancel_me", cancelled_midway)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="cancel_me", project=job_project)
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert job.partial is True
    assert job.progress_done == 4 and job.progress_total == 10
    assert JobItemResult.objects.filter(job=job).count() == 4
    assert "4 of 10" in job.message


def test_cancel_of_a_queued_job_means_it_never_runs(job_project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_start(kind="sleep_items", project=job_project, params={"items": 3, "delay": 0})
    job_cancel(job=job, actor=job_project.owner_user)
    for callback in callbacks:
        callback()  # the task arrives after the cancel
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and job.attempt == 0
    assert not JobItemResult.objects.filter(job=job).exists()


def test_cancelling_a_finished_job_is_refused(job_project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="noop", project=job_project)
    job.refresh_from_db()
    with pytest.raises(ValidationError):
        job_cancel(job=job, actor=None)


def test_claim_refuses_a_job_already_running_under_a_live_lease(job_project):
    job = job_create(kind="noop", project=job_project)
    first = job_claim(job_id=job.pk, worker="w1")
    assert first is not None and first.state == Job.State.RUNNING and first.attempt == 1
    assert first.lease_expires_at > timezone.now()
    assert job_claim(job_id=job.pk, worker="w2") is None
    job.refresh_from_db()
    assert job.worker == "w1" and job.attempt == 1


def test_reaper_requeues_an_expired_job_and_a_new_attempt_finishes_it(job_project, django_capture_on_commit_callbacks):
    job = job_create(kind="sleep_items", project=job_project, params={"items": 4, "delay": 0})
    job_claim(job_id=job.pk, worker="dead-worker")
    later = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = jobs_reap(now=later)
    assert outcome["requeued"] == [job.pk]
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.attempt == 2
    assert JobItemResult.objects.filter(job=job).count() == 4


def test_reaper_fails_a_job_whose_worker_died_max_attempts_times(job_project, django_capture_on_commit_callbacks):
    job = job_create(kind="noop", project=job_project, max_attempts=2)
    job_claim(job_id=job.pk, worker="w1")
    with django_capture_on_commit_callbacks(execute=False):
        assert jobs_reap(now=timezone.now() + timedelta(hours=1))["requeued"] == [job.pk]
    job_claim(job_id=job.pk, worker="w2")
    assert jobs_reap(now=timezone.now() + timedelta(hours=2))["failed"] == [job.pk]
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error == "The worker stopped responding 2 times; the job was given up."


def test_reaper_leaves_jobs_with_a_live_lease_alone(job_project):
    job = job_create(kind="noop", project=job_project)
    job_claim(job_id=job.pk, worker="w1")
    assert jobs_reap() == {"requeued": [], "failed": [], "cancelled": []}
    job.refresh_from_db()
    assert job.state == Job.State.RUNNING


def test_a_job_dispatched_in_a_transaction_that_rolls_back_never_runs(job_project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                job = job_start(kind="noop", project=job_project)
                raise RuntimeError("the request failed after dispatch")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not Job.objects.filter(pk=job.pk).exists()


def test_dispatch_enqueues_only_on_commit(job_project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_start(kind="noop", project=job_project)
        job.refresh_from_db()
        assert job.state == Job.State.QUEUED
    assert len(callbacks) == 1
    callbacks[0]()
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.task_id


def test_progress_percent_and_writes_are_throttled(job_project):
    job = job_create(kind="noop", project=job_project)
    job = job_claim(job_id=job.pk, worker="w1")
    progress = Progress(job, worker="w1", interval=3600)
    progress.set_total(8)  # always written
    progress.advance(2, message="two done")
    job.refresh_from_db()
    assert (job.progress_total, job.progress_done) == (8, 0)  # throttled: not written yet
    assert progress.percent == 25
    progress.flush(force=True)
    job.refresh_from_db()
    assert (job.progress_done, job.percent, job.message) == (2, 25, "two done")


def test_progress_notices_when_another_worker_took_the_job(job_project):
    job = job_claim(job_id=job_create(kind="noop", project=job_project).pk, worker="w1")
    progress = Progress(job, worker="w1", interval=0)
    Job.objects.filter(pk=job.pk).update(worker="w2")
    with pytest.raises(JobLeaseLost):
        progress.advance()


def test_a_retried_attempt_skips_the_items_an_earlier_attempt_wrote(job_project):
    params = {"items": 6, "chunk_size": 2, "delay": 0}
    job = job_claim(job_id=job_create(kind="sleep_items", project=job_project, params=params).pk, worker="w1")
    JobItemResult.objects.bulk_create([JobItemResult(job=job, item=i, attempts=1) for i in (0, 1, 4)])
    progress = Progress(job, worker="w1", interval=0)
    sleep_items(job, progress)
    assert dict(JobItemResult.objects.filter(job=job).values_list("item", "attempts")) == {i: 1 for i in range(6)}
    assert progress.done == 6


def test_a_locked_database_is_retried_not_reported_as_a_failure(
    job_project, handlers, settings, django_capture_on_commit_callbacks
):
    settings.HTC_JOB_LOCKED_RETRY_PAUSE = 0
    calls = {"n": 0}

    def flaky(job, progress):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("database is locked")
        return {"ok": True}

    handlers("flaky", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_start(kind="flaky", project=job_project)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED and job.attempt == 2 and calls["n"] == 2


def test_job_create_validates_kind_and_params(job_project):
    with pytest.raises(ValidationError):
        job_create(kind="no_such_kind", project=job_project)
    with pytest.raises(ValidationError):
        job_create(kind="noop", project=job_project, params={"when": timezone.now()})


def test_run_job_inline_shows_a_tqdm_bar_and_finishes(job_project, capsys):
    job = job_create(kind="sleep_items", project=job_project, params={"items": 3, "delay": 0})
    job = run_job_inline(job, show_progress=True)
    assert job.state == Job.State.SUCCEEDED
    err = capsys.readouterr().err
    assert "sleep_items" in err and "3/3" in err


def test_job_error_raised_by_a_handler_is_shown_as_written(job_project, handlers):
    def refuses(job, progress):
        raise JobError("The corpus has no documents in the test split.")

    handlers("refuses", refuses)
    job = run_job_inline(job_create(kind="refuses", project=job_project), show_progress=False)
    assert job.state == Job.State.FAILED
    assert job.error == "The corpus has no documents in the test split."


@pytest.mark.parametrize(
    "role, own_job, allowed",
    [("viewer", True, False), ("annotator", True, True), ("annotator", False, False), ("owner", False, True)],
)
def test_who_may_cancel(job_project, quick_user, role, own_job, allowed):
    from projects.models import Membership

    user = quick_user(f"u-{role}")
    Membership.objects.create(project=job_project, user=user, role=role)
    job = job_create(kind="noop", project=job_project, created_by=user if own_job else job_project.owner_user)
    if allowed:
        assert job_cancel(job=job, actor=user).state == Job.State.CANCELLED
    else:
        with pytest.raises(PermissionDenied):
            job_cancel(job=job, actor=user)
        job.refresh_from_db()
        assert job.state == Job.State.QUEUED


def test_htc_reap_command_requeues_expired_jobs(job_project, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    job = job_create(kind="noop", project=job_project)
    job_claim(job_id=job.pk, worker="gone")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=5))
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("htc_reap", stdout=out)
    assert "requeued 1" in out.getvalue() and len(callbacks) == 1
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.worker == ""


def test_htc_worker_refuses_a_backend_that_has_no_queue(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="nothing for a worker to do"):
        call_command("htc_worker", "--no-reaper")


def test_progress_inside_the_handlers_own_transaction_is_not_written_but_cancel_is_still_seen(
    job_project, handlers, monkeypatch
):
    monkeypatch.setattr("jobs.progress.FLUSH_INTERVAL", 0)
    seen: list = []

    def in_transaction(job, progress):
        progress.set_total(5)
        with transaction.atomic():
            progress.advance(2)
            seen.append(Job.objects.get(pk=job.pk).progress_done)  # no row write (and no row lock) mid-transaction
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)  # a user presses Cancel
        with transaction.atomic():
            progress.advance(1)
            seen.append("not reached")

    handlers("in_transaction", in_transaction)
    job = run_job_inline(job_create(kind="in_transaction", project=job_project), show_progress=False)
    assert seen == [0]
    assert job.state == Job.State.CANCELLED and job.progress_done == 3 and job.partial
