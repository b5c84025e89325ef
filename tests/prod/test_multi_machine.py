"""Several machines on one: a web process and workers with *different* HTC_DATA_DIRs sharing only PostgreSQL,
Redis (RQ) and an S3 object store (moto's server mode, started here). Nothing reaches another process's disk.

Upload through the web process -> import on worker A (queue default) -> train on worker B (queue cpu) -> predict
on worker A with the model B wrote -> export from the web process. Then kill -9 the worker holding an import:
a new worker (another empty data directory) finishes it and nothing is lost or written twice.

Runs in the PostgreSQL + RQ leg (`make test-pg`: DATABASE_URL=postgres://..., REDIS_URL, HTC_TASKS_BACKEND=rq).
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.db import connection

from jobs.models import Job
from tests.conftest import PASSWORD, REPO
from tests.jobs.test_workers import Workers, test_database_url

pytestmark = [pytest.mark.services, pytest.mark.slow]

LEASE_SECONDS = 5
BUCKET = "htc-multi"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Machines:
    """Processes that stand for machines: each gets its own HTC_DATA_DIR and log; all are killed at teardown."""

    def __init__(self, env: dict, root: Path):
        self.env, self.root = env, root
        self.procs: dict[str, tuple[subprocess.Popen, Path]] = {}

    def start(self, name: str, *argv: str) -> subprocess.Popen:
        data_dir = self.root / f"data-{name}"
        data_dir.mkdir()
        log = self.root / f"{name}.log"
        env = {**self.env, "HTC_DATA_DIR": str(data_dir)}
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, *argv], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[name] = (proc, log)
        return proc

    def worker(self, name: str, queues: str) -> subprocess.Popen:
        return self.start(name, "manage.py", "htc_worker", "--name", name, "--queues", queues, "--reap-interval", "1")

    def kill(self, name: str) -> None:
        """kill -9 the machine's process group."""
        Workers.kill(self.procs[name][0])

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} rc={proc.poll()} ---\n{log.read_text(errors='replace')[-4000:]}"
            for name, (proc, log) in self.procs.items()
        )

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name)


def wait_for(predicate, *, timeout: float, what: str, machines: Machines, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}\n{machines.logs()}")


@pytest.fixture
def object_store():
    """moto's S3 server in this process, on a free port; yields its endpoint URL (the bucket exists)."""
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    port = free_port()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


@pytest.fixture
def machines(transactional_db, object_store, tmp_path, settings):
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends

    if connection.vendor != "postgresql" or type(task_backends[DEFAULT_TASK_BACKEND_ALIAS]).__name__ != "RQBackend":
        pytest.skip("needs PostgreSQL + Redis: DATABASE_URL=postgres://..., HTC_TASKS_BACKEND=rq (make test-pg)")
    import django_rq

    for name in settings.HTC_QUEUES:
        queue = django_rq.get_queue(name)
        try:
            queue.connection.ping()
        except Exception as exc:  # pragma: no cover - depends on the machine
            pytest.skip(f"Redis is not reachable: {exc}")
        queue.empty()
    endpoint, _client = object_store
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.RQ_QUEUES["default"]["URL"],
        "HTC_TASKS_BACKEND": "rq",
        "HTC_STORAGE": "s3",
        "HTC_S3_ENDPOINT_URL": endpoint,
        "HTC_S3_BUCKET": BUCKET,
        "HTC_S3_REGION": "us-east-1",
        "HTC_S3_ACCESS_KEY_ID": "k",
        "HTC_S3_SECRET_ACCESS_KEY": "s",
        "HTC_SECRET_KEY": "multi-machine-test-" + "x7Qp2" * 10,
        "HTC_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "HTC_INLINE_IMPORT_BYTES": "100",  # every upload becomes a background import
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for name in ("HTC_UPLOAD_DIR", "HTC_MODEL_DIR"):
        env.pop(name, None)
    pool = Machines(env, tmp_path)
    yield pool
    pool.stop_all()


class Web:
    """HTTP to the web process: the API with a bearer token, pages with a logged-in session."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token
        self.session = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def api(self, method: str, path: str, body: dict | None = None, files: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if files:
            boundary = uuid.uuid4().hex
            parts = []
            for field, (name, content) in files.items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                    f"Content-Type: text/csv\r\n\r\n".encode()
                    + content
                    + b"\r\n"
                )
            for field, value in (body or {}).items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode()
                )
            data = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def login(self, username: str) -> None:
        page = self.session.open(self.base + "/accounts/login/", timeout=60).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
        request = urllib.request.Request(
            self.base + "/accounts/login/", data=form.encode(), headers={"Referer": self.base + "/accounts/login/"}
        )
        self.session.open(request, timeout=60).read()

    def page(self, path: str) -> bytes:
        with self.session.open(self.base + path, timeout=60) as response:
            return response.read()


def worker_pid(job: Job) -> int:
    """The process that ran the job's latest attempt (Job.worker is host:pid:token)."""
    return int(job.worker.split(":")[1])


def corpus_csv(n: int, prefix: str) -> bytes:
    words = {
        "Sci > Med": "aspirin dose patient",
        "Sci > Space": "orbit rocket planet",
        "Arts": "paint canvas sculpture",
    }
    rows = ["id,text,split,path"]
    for i in range(n):
        path = list(words)[i % 3]
        rows.append(f"{prefix}{i},{words[path]} note {i},{'test' if i % 5 == 0 else 'train'},{path}")
    return ("\n".join(rows) + "\n").encode()


def test_web_and_two_workers_share_only_the_database_redis_and_the_object_store(
    machines, object_store, make_user, make_project, build_tree
):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from api.services import token_create
    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document

    user = make_user("multi")
    hasher = PBKDF2PasswordHasher()  # the web process does not use the tests' fast MD5 hasher
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    project = make_project(name="Multi", owner=user)
    build_tree(project, {"Sci": {"Med": {}, "Space": {}}, "Arts": {}})
    _, key = token_create(user=user, name="multi-machine")
    _endpoint, s3 = object_store

    port = free_port()
    machines.start(
        "web", "-m", "gunicorn", "htc_app.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "120"
    )
    worker_a = machines.worker("a", "default")
    worker_b = machines.worker("b", "cpu")
    web = Web(f"http://127.0.0.1:{port}", key)

    def up():
        try:
            return web.api("GET", "/api/v1/projects/")
        except (urllib.error.URLError, ConnectionError):
            return None

    wait_for(up, timeout=120, what="the web process", machines=machines)
    base = f"/api/v1/projects/{project.pk}"

    def finished(job_id: int):
        job = Job.objects.get(pk=job_id)
        return job if job.state in (Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED) else None

    # 1. Upload through the web process; it waits in the bucket, not on the web machine's disk.
    queued = web.api(
        "POST", f"{base}/corpora/", {"add_missing_labels": "false"}, {"file": ("c.csv", corpus_csv(90, "d"))}
    )
    job = Job.objects.get(pk=queued["id"])
    assert job.kind == "corpus_import" and job.queue == "default"
    web_dir = machines.root / "data-web"
    assert not any(p.is_file() and "uploads" in p.parts for p in web_dir.rglob("*"))

    # 2. Imported on worker A (the only one serving default), from the bucket; the upload is removed after.
    job = wait_for(lambda: finished(job.pk), timeout=180, what="the import", machines=machines)
    assert job.state == Job.State.SUCCEEDED, (job.error, machines.logs())
    assert worker_pid(job) == worker_a.pid and job.device == "cpu"
    assert Document.objects.filter(project=project).count() == 90
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/").get("Contents")

    # 3. Trained (and the test split predicted) on worker B, the only one serving cpu; the model goes to the bucket.
    started = web.api("POST", f"{base}/runs/", {"strategy": "tfidf", "shots": 0, "seed": 1, "split": "test"})
    job = Job.objects.get(pk=started["job"]["id"])
    assert job.queue == "cpu"
    job = wait_for(lambda: finished(job.pk), timeout=240, what="training", machines=machines)
    assert job.state == Job.State.SUCCEEDED, (job.error, machines.logs())
    assert worker_pid(job) == worker_b.pid
    run = Run.objects.get(pk=started["run"]["id"])
    assert run.model_dir.startswith(f"store:run-{run.pk}-")
    model_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/")["Contents"]]
    assert f"models/{run.model_dir[len('store:') :]}/READY.json" in model_keys
    assert not (machines.root / "data-a" / "model_cache").exists() or not any(
        (machines.root / "data-a" / "model_cache").glob("[0-9a-f]*")
    )

    # 4. Predicted on worker A, which never saw the model: it downloads it from the bucket into its own cache.
    queued = web.api("POST", f"{base}/runs/{run.pk}/jobs/", {"kind": "predict", "split": "train"})
    job = Job.objects.get(pk=queued["id"])
    assert job.queue == "default"
    job = wait_for(lambda: finished(job.pk), timeout=180, what="prediction", machines=machines)
    assert job.state == Job.State.SUCCEEDED, (job.error, machines.logs())
    assert worker_pid(job) == worker_a.pid
    assert Prediction.objects.filter(run=run).count() == 90
    assert any((machines.root / "data-a" / "model_cache").glob("[0-9a-f]*"))

    # 5. An export downloaded from the web process (a logged-in session).
    web.login("multi")
    exported = web.page(f"/projects/{project.pk}/documents/export/?format=csv").decode()
    assert exported.count("\n") >= 91 and "aspirin dose patient note 0" in exported

    # 6. kill -9 the worker holding an import: a new worker with another empty data directory finishes it.
    n_big = 40_000
    queued = web.api("POST", f"{base}/corpora/", {"name": "big"}, {"file": ("big.csv", corpus_csv(n_big, "big"))})
    big = Job.objects.get(pk=queued["id"])
    running = wait_for(
        lambda: Job.objects.filter(pk=big.pk, state=Job.State.RUNNING).first(),
        timeout=120,
        what="the big import to start",
        machines=machines,
        every=0.05,
    )
    assert worker_pid(running) == worker_a.pid
    machines.kill("a")
    assert Job.objects.get(pk=big.pk).state == Job.State.RUNNING, "the import finished before the kill; make it bigger"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/").get("KeyCount") == 1  # the upload is still there
    rescuer = machines.worker("a2", "default")
    big = wait_for(lambda: finished(big.pk), timeout=300, what="the retried import", machines=machines)
    assert big.state == Job.State.SUCCEEDED, (big.error, machines.logs())
    assert big.attempt == 2 and worker_pid(big) == rescuer.pid
    corpus = Corpus.objects.get(project=project, name="big")
    assert Document.objects.filter(corpus=corpus).count() == n_big  # nothing lost, nothing written twice
    assert Corpus.objects.filter(project=project).count() == 2
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/").get("Contents")
