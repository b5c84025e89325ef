"""Jobs benchmark: dispatch overhead of an empty job on each available backend, and throughput of the chunked
diagnostic job ("sleep_items") with 1 and 2 workers on PostgreSQL + RQ.

Every measurement runs in a child process on its own throw-away database (a temporary SQLite file, or the
PostgreSQL database in HTC_BENCH_PG_URL, dropped afterwards), never on the install's own data.
`run()` returns Markdown; `python -m benchmarks.jobs_bench` prints it.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("HTC_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/htc_bench_jobs")
REDIS_URL = os.environ.get("HTC_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ROUND_TRIPS = int(os.environ.get("HTC_BENCH_JOB_ROUND_TRIPS", "20"))
THROUGHPUT_JOBS, THROUGHPUT_ITEMS, ITEM_SECONDS, CHUNK = 6, 60, 0.01, 10
WORKER_POLL = "0.05"  # django-tasks-db poll interval used by the benchmark workers (htc_worker --interval)

MODES = {
    "sqlite-immediate": ("SQLite", "Immediate (in the request)"),
    "sqlite-db": ("SQLite", "django-tasks-db, 1 worker"),
    "pg-db": ("PostgreSQL", "django-tasks-db, 1 worker"),
    "pg-rq": ("PostgreSQL", "RQ on Redis, 1 worker"),
}


# --- parent side -------------------------------------------------------------------------------------------


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(_admin_url(PG_URL), connect_timeout=2):
            return True
    except Exception:
        return False


def _redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except Exception:
        return False


def _admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def _pg_recreate(drop_only: bool = False) -> None:
    import psycopg

    name = urlsplit(PG_URL).path.lstrip("/")
    with psycopg.connect(_admin_url(PG_URL), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def _child_env(mode: str, data_dir: str) -> dict:
    env = {**os.environ, "HTC_DATA_DIR": data_dir, "PYTHONUNBUFFERED": "1", "HTC_LOG_LEVEL": "ERROR"}
    env["DATABASE_URL"] = PG_URL if mode.startswith("pg") else ""
    env["REDIS_URL"] = REDIS_URL if mode == "pg-rq" else ""
    env["HTC_TASKS_BACKEND"] = {"sqlite-immediate": "immediate", "pg-rq": "rq"}.get(mode, "db")
    return env


def _run_child(mode: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="htc-jobs-bench-") as data_dir:
        if mode.startswith("pg"):
            _pg_recreate()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.jobs_bench", "--child", mode],
                cwd=REPO,
                env=_child_env(mode, data_dir),
                capture_output=True,
                text=True,
                timeout=900,
            )
        finally:
            if mode.startswith("pg"):
                _pg_recreate(drop_only=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]}
    return json.loads(lines[-1])


def run() -> str:
    """Run every mode this machine supports; return the Markdown report."""
    pg, rq = _pg_available(), _pg_available() and _redis_available()
    modes = ["sqlite-immediate", "sqlite-db"] + (["pg-db"] if pg else []) + (["pg-rq"] if rq else [])
    results = {mode: _run_child(mode) for mode in modes}

    out = ["# Jobs: dispatch overhead and throughput", ""]
    out.append(
        f"Machine: {os.cpu_count()} CPU(s), shared. Round trip = `job_start` (commit + enqueue) until the Job row "
        f"reads `succeeded`, for an empty job (`noop`), {ROUND_TRIPS} jobs one after another, a worker already "
        f"running (django-tasks-db workers poll every {WORKER_POLL} s)."
    )
    out += ["", "| Database | Backend | median ms | p90 ms | max ms |", "|---|---|---:|---:|---:|"]
    for mode in modes:
        db, backend = MODES[mode]
        res = results[mode]
        if "error" in res:
            out.append(f"| {db} | {backend} | failed: {' '.join(res['error'])[:80]} | | |")
            continue
        ms = sorted(res["round_trip_ms"])
        p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
        out.append(f"| {db} | {backend} | {statistics.median(ms):.1f} | {p90:.1f} | {ms[-1]:.1f} |")
    skipped = [MODES[m] for m in MODES if m not in modes]
    if skipped:
        out.append("")
        out.append("Not measured (service unreachable): " + "; ".join(f"{d} + {b}" for d, b in skipped) + ".")

    out += ["", "## Throughput on PostgreSQL + RQ", ""]
    if "pg-rq" not in results or "error" in results["pg-rq"]:
        out.append("Not measured: PostgreSQL and Redis are needed (HTC_BENCH_PG_URL, HTC_BENCH_REDIS_URL).")
    else:
        out.append(
            f"{THROUGHPUT_JOBS} `sleep_items` jobs of {THROUGHPUT_ITEMS} items ({ITEM_SECONDS * 1000:.0f} ms of "
            f"simulated work per item, results upserted in chunks of {CHUNK}), all dispatched at once; wall time "
            "from the first dispatch until every job succeeded. The work is a sleep, so the table measures the job "
            "machinery and its parallelism, not model speed."
        )
        out += ["", "| RQ workers | wall s | items/s | speed-up |", "|---:|---:|---:|---:|"]
        rows = results["pg-rq"]["throughput"]
        base = rows[0]["items_per_s"]
        for row in rows:
            out.append(
                f"| {row['workers']} | {row['seconds']:.2f} | {row['items_per_s']:.0f} | {row['items_per_s'] / base:.2f}x |"
            )
    return "\n".join(out) + "\n"


# --- child side (a fresh database, Django configured from the environment) -----------------------------------


class _Workers:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, n: int) -> None:
        for i in range(n):
            cmd = [sys.executable, "manage.py", "htc_worker", "--interval", WORKER_POLL, "--name", f"bench-{i}"]
            self.procs.append(
                subprocess.Popen(
                    cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = []


def _wait_all(job_ids: list[int], timeout: float = 300) -> None:
    from jobs.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = list(Job.objects.filter(pk__in=job_ids).values_list("state", flat=True))
        if all(s not in Job.ACTIVE_STATES for s in states):
            bad = [s for s in states if s != Job.State.SUCCEEDED]
            if bad:
                raise RuntimeError(f"jobs ended as {bad}")
            return
        time.sleep(0.002 if len(job_ids) == 1 else 0.05)
    raise RuntimeError("jobs did not finish in time")


def _round_trips(project) -> list[float]:
    from jobs.services import job_start

    timings = []
    for _ in range(ROUND_TRIPS):
        began = time.perf_counter()
        job = job_start(kind="noop", project=project)
        _wait_all([job.pk])
        timings.append((time.perf_counter() - began) * 1000)
    return timings


def _throughput(project, workers: _Workers) -> list[dict]:
    from jobs.services import job_start

    rows = []
    for n in (1, 2):
        workers.start(n)
        _wait_all([job_start(kind="noop", project=project).pk for _ in range(n)], timeout=120)  # warm-up
        params = {"items": THROUGHPUT_ITEMS, "chunk_size": CHUNK, "delay": ITEM_SECONDS}
        began = time.perf_counter()
        ids = [job_start(kind="sleep_items", project=project, params=params).pk for _ in range(THROUGHPUT_JOBS)]
        _wait_all(ids)
        seconds = time.perf_counter() - began
        workers.stop()
        rows.append({"workers": n, "seconds": seconds, "items_per_s": THROUGHPUT_JOBS * THROUGHPUT_ITEMS / seconds})
    return rows


def _child(mode: str) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "htc_app.settings")
    django.setup()
    from django.core.management import call_command

    from projects.models import Project

    call_command("migrate", verbosity=0)
    if mode == "pg-rq":
        import django_rq

        django_rq.get_queue("default").empty()
    project = Project.objects.create(name=f"jobs-bench-{mode}")
    result: dict = {"mode": mode}
    workers = _Workers()
    try:
        if mode != "sqlite-immediate":
            workers.start(1)
            _wait_all([_warm_up(project)], timeout=120)
        result["round_trip_ms"] = _round_trips(project)
        workers.stop()
        if mode == "pg-rq":
            result["throughput"] = _throughput(project, workers)
    finally:
        workers.stop()
    return result


def _warm_up(project) -> int:
    from jobs.services import job_start

    return job_start(kind="noop", project=project).pk


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2])))
    else:
        print(run())
