"""Real worker processes on the real test database: finish, SIGTERM, kill -9 + reaper + new worker, cancel.

Runs on the database backend (django-tasks-db, the `make test-sqlite` settings) and again on PostgreSQL with RQ
on Redis (`make test-pg`: DATABASE_URL=postgres://..., HTC_TASKS_BACKEND=rq); each variant skips under the other.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import Job, JobItemResult
from jobs.services import job_cancel, job_start, jobs_reap
from tests.conftest import REPO

LEASE_SECONDS = 3


def backend_name() -> str:
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends

    return type(task_backends[DEFAULT_TASK_BACKEND_ALIAS]).__name__


def test_database_url() -> str:
    """The URL of the database pytest-django created, for the worker subprocesses."""
    sd = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{sd['NAME']}"
    auth = quote(sd.get("USER") or "")
    if sd.get("PASSWORD"):
        auth += ":" + quote(sd["PASSWORD"])
    host = sd.get("HOST") or "127.0.0.1"
    port = f":{sd['PORT']}" if sd.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{sd['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture(
    params=[
        pytest.param("db", marks=pytest.mark.slow),
        pytest.param("rq", marks=[pytest.mark.slow, pytest.mark.services]),
    ]
)
def backend(request, transactional_db):
    name = backend_name()
    if request.param == "db" and name != "DatabaseBackend":
        pytest.skip("database-backend worker tests run when TASKS uses django-tasks-db (make test-sqlite)")
    if request.param == "rq":
        if name != "RQBackend" or connection.vendor != "postgresql":
            pytest.skip("needs PostgreSQL + Redis: DATABASE_URL=postgres://..., HTC_TASKS_BACKEND=rq (make test-pg)")
        import django_rq

        queue = django_rq.get_queue("default")
        try:
            queue.connection.ping()
        except Exception as exc:  # pragma: no cover - depends on the machine
            pytest.skip(f"Redis is not reachable: {exc}")
        queue.empty()
    return request.param


class Workers:
    """Starts `manage.py htc_worker` subprocesses on the test database; kills whatever is left at teardown."""

    def __init__(self):
        self.procs: list[tuple[subprocess.Popen, str]] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "HTC_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, name: str, *extra: str) -> subprocess.Popen:
        log = tempfile.NamedTemporaryFile(prefix=f"htc-worker-{name}-", suffix=".log", delete=False)
        cmd = [sys.executable, "manage.py", "htc_worker", "--name", name, "--interval", "0.2", "--reap-interval", "1"]
        proc = subprocess.Popen(
            [*cmd, *extra], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append((proc, log.name))
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """kill -9 the worker and everything it started (its whole process group)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def logs(self) -> str:
        parts = []
        for proc, path in self.procs:
            with open(path, errors="replace") as fh:
                parts.append(f"--- worker pid {proc.pid} rc={proc.poll()} ---\n{fh.read()[-3000:]}")
        return "\n".join(parts)

    def stop_all(self) -> None:
        for proc, path in self.procs:
            if proc.poll() is None:
                self.kill(proc)
            os.unlink(path)


@pytest.fixture
def workers(backend):
    pool = Workers()
    yield pool
    pool.stop_all()


def fresh(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def wait_for(predicate, *, timeout: float, what: str, workers: Workers) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{workers.logs()}")


def test_worker_runs_jobs_and_finishes_the_current_one_on_sigterm(workers, job_project):
    quick = job_start(kind="noop", project=job_project)
    job = job_start(kind="sleep_items", project=job_project, params={"items": 10, "delay": 0.1})
    proc = workers.start("graceful")
    wait_for(lambda: fresh(quick).state == Job.State.SUCCEEDED, timeout=90, what="the noop job", workers=workers)
    wait_for(lambda: fresh(job).progress_done >= 2, timeout=30, what="the slow job to start", workers=workers)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, workers.logs()
    job = fresh(job)
    assert job.state == Job.State.SUCCEEDED, workers.logs()
    assert JobItemResult.objects.filter(job=job).count() == 10


def test_kill_9_mid_job_then_reaper_and_new_worker_finish_every_item_exactly_once(workers, job_project):
    n_items, chunk = 24, 2
    job = job_start(
        kind="sleep_items", project=job_project, params={"items": n_items, "chunk_size": chunk, "delay": 0.1}
    )
    first = workers.start("doomed")
    wait_for(lambda: fresh(job).progress_done >= 6, timeout=90, what="progress before the kill", workers=workers)
    workers.kill(first)

    killed = fresh(job)
    assert killed.state == Job.State.RUNNING and killed.attempt == 1
    done_before = set(JobItemResult.objects.filter(job=job).values_list("item", flat=True))
    assert 0 < len(done_before) < n_items
    while timezone.now() <= killed.lease_expires_at:  # the dead worker's lease runs out
        time.sleep(0.2)
    assert jobs_reap()["requeued"] == [job.pk]
    assert fresh(job).state == Job.State.QUEUED

    workers.start("rescuer")
    wait_for(lambda: fresh(job).state == Job.State.SUCCEEDED, timeout=90, what="the retried job", workers=workers)
    job = fresh(job)
    assert job.attempt == 2 and job.progress_done == n_items
    rows = dict(JobItemResult.objects.filter(job=job).values_list("item", "attempts"))
    assert sorted(rows) == list(range(n_items))  # one row per item: nothing lost, nothing duplicated
    assert all(rows[item] == 1 for item in done_before)  # items written before the kill were not redone
    assert sum(rows.values()) <= n_items + chunk  # at most the chunk in flight was computed twice


def test_cancel_stops_a_running_job_within_seconds_and_keeps_what_finished(workers, job_project):
    job = job_start(kind="sleep_items", project=job_project, params={"items": 400, "delay": 0.05})
    workers.start("cancellable")
    wait_for(lambda: fresh(job).progress_done >= 3, timeout=90, what="the job to run", workers=workers)
    asked = time.monotonic()
    job_cancel(job=fresh(job), actor=None)
    wait_for(lambda: fresh(job).state == Job.State.CANCELLED, timeout=15, what="the cancel", workers=workers)
    assert time.monotonic() - asked < 5
    job = fresh(job)
    assert job.partial is True and 0 < job.progress_done < 400
    assert JobItemResult.objects.filter(job=job).count() == job.progress_done


def test_a_handler_silent_for_longer_than_the_lease_keeps_its_job(workers, job_project):
    # One item of 4 s: no progress tick for longer than the 3 s lease; only the heartbeat thread keeps it alive
    # while the worker's own reaper (every second) looks for expired leases.
    job = job_start(kind="sleep_items", project=job_project, params={"items": 1, "delay": LEASE_SECONDS + 1})
    workers.start("quiet")
    wait_for(lambda: fresh(job).state == Job.State.SUCCEEDED, timeout=90, what="the quiet job", workers=workers)
    assert fresh(job).attempt == 1
