"""SQLite under contention: a job holds the write lock while a user saves. The save waits and succeeds, or gets a
clear 503 with Retry-After; never a 500 and never a replay."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from django.urls import reverse

from jobs.models import Job
from jobs.services import job_claim, job_create

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_only(transactional_db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite locking behaviour; PostgreSQL has row locks")


def hold_write_lock(job_id: int, seconds: float, started: threading.Event) -> threading.Thread:
    """A worker-like thread writing progress inside one long transaction (its own connection)."""

    def run():
        try:
            with transaction.atomic():  # BEGIN IMMEDIATE: takes the write lock at once
                Job.objects.filter(pk=job_id).update(progress_done=1, message="busy writing")
                started.set()
                time.sleep(seconds)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "the writer thread never got the lock"
    return thread


def test_a_save_waits_for_a_short_job_transaction_and_succeeds(sqlite_only, client, job_project):
    job = job_claim(job_id=job_create(kind="noop", project=job_project).pk, worker="w1")
    client.force_login(job_project.owner_user)
    started = threading.Event()
    writer = hold_write_lock(job.pk, 1.0, started)
    began = time.monotonic()
    response = client.post(reverse("jobs:cancel", args=[job_project.pk, job.pk]))
    waited = time.monotonic() - began
    writer.join(10)
    assert response.status_code == 302
    assert waited >= 0.5  # it really waited for the writer
    job.refresh_from_db()
    assert job.cancel_requested is True and job.progress_done == 1  # both writes landed


def test_a_save_blocked_past_the_busy_timeout_gets_a_clear_503(sqlite_only, client, job_project, quick_user):
    from projects.models import Membership

    job = job_claim(job_id=job_create(kind="noop", project=job_project).pk, worker="w1")
    newcomer = quick_user("newcomer")
    client.force_login(job_project.owner_user)
    options = connection.settings_dict["OPTIONS"]
    old_timeout = options.get("timeout")
    connection.close()
    options["timeout"] = 0.3  # as HTC_SQLITE_TIMEOUT=0.3 would
    try:
        started = threading.Event()
        writer = hold_write_lock(job.pk, 1.5, started)
        cancel = client.post(reverse("jobs:cancel", args=[job_project.pk, job.pk]))
        add_member = client.post(
            reverse("projects:members", args=[job_project.pk]), {"username": newcomer.username, "role": "viewer"}
        )
        writer.join(10)
    finally:
        connection.close()
        options["timeout"] = old_timeout
    for response in (cancel, add_member):
        assert response.status_code == 503
        assert response["Retry-After"]
        assert "busy" in response.content.decode().lower()
    job.refresh_from_db()
    assert job.cancel_requested is False  # not saved, and not replayed later
    assert not Membership.objects.filter(project=job_project, user=newcomer).exists()
