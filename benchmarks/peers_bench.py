"""htc side by side with Label Studio Community: import speed, peak memory and queue page latency.

    make bench-peers                      # or: python -m benchmarks.peers_bench [--docs 100000] [--repeat 3]

Optional and never part of CI: Label Studio is installed into its own virtualenv OUTSIDE the repository
(`$HTC_PEERS_DIR`, default ~/.cache/htc-peers; the first run downloads it with pip), started on a free local port
with a throwaway data folder, and driven over its REST API. The same files are imported by both systems, the
runs alternate (htc, LS, htc, LS, ...) and the medians are compared. Writes benchmarks/results/peers.md with the
ratios, the load average before and after, and both versions.

htc's import time ends when the documents are committed; PostgreSQL's search vectors are computed next (the
import job's last phase) and shown in their own column. Label Studio builds no text index.
Label Studio rows: the import time is from the POST of the file until the project reports every task; its
peak RSS is the largest resident size of the server process tree sampled every 0.2 s during the import. The
queue rows time GET /api/tasks (page 1, a deep page) for LS and the review queue page for htc (see import_bench).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from benchmarks.import_bench import DATASET, PG_URL, generate_csv

LS_VERSION = os.environ.get("HTC_PEERS_LS_VERSION", "1.23.2")
PEERS_DIR = Path(os.environ.get("HTC_PEERS_DIR", Path.home() / ".cache" / "htc-peers"))
RESULTS = Path(__file__).resolve().parent / "results"
LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="x"/></Choices></View>'
)


def ensure_label_studio() -> Path:
    """The label-studio executable in its own virtualenv outside the repository (installed on first use)."""
    venv = PEERS_DIR / f"label-studio-{LS_VERSION}"
    exe = venv / "bin" / "label-studio"
    if not exe.exists():
        PEERS_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"label-studio=={LS_VERSION}"], check=True)
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_tree_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (from /proc), MB."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as fh:
                stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


class LabelStudio:
    def __init__(self, exe: Path):
        self.port = _free_port()
        self.data = Path(tempfile.mkdtemp(prefix="htc-peers-ls-"))
        self.token = uuid.uuid4().hex
        env = dict(
            os.environ,
            LABEL_STUDIO_BASE_DATA_DIR=str(self.data),
            LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
            DATA_UPLOAD_MAX_MEMORY_SIZE=str(2**31),
            DATA_UPLOAD_MAX_NUMBER_FILES="100",
            LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="false",
            # 1.2x answers 401 to the --user-token (a "legacy" token) unless the organisation allows such tokens
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        )
        cmd = [str(exe), "start", "--no-browser", "--port", str(self.port), "--username", "bench@example.com"]
        cmd += ["--password", uuid.uuid4().hex, "--user-token", self.token]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                self.get("/api/version")
                return
            except OSError:
                time.sleep(1)
        raise RuntimeError("Label Studio did not start within 300 s")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        req.add_header("Authorization", f"Token {self.token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        with urllib.request.urlopen(req, timeout=3600) as resp:
            data = resp.read()
        return json.loads(data) if data else None

    def get(self, path: str):
        return self.request("GET", path)

    def post_json(self, path: str, obj: dict):
        return self.request("POST", path, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def version(self) -> str:
        info = self.get("/api/version")
        return str(info.get("release") or info.get("label-studio-os-package", {}).get("version") or LS_VERSION)

    def import_file(self, path: Path, label_config: str = LABEL_CONFIG) -> dict:
        """Create a project with `label_config` and import `path` into it; time until every task is there."""
        project = self.post_json(
            "/api/projects", {"title": f"bench {uuid.uuid4().hex[:6]}", "label_config": label_config}
        )
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + path.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        peak = [0.0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], _rss_tree_mb(self.proc.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        expected = _lines(path)
        start = time.perf_counter()
        self.request(
            "POST",
            f"/api/projects/{project['id']}/import",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        while True:  # imports may finish in the background
            count = self.get(f"/api/projects/{project['id']}")["task_number"]
            if count and count >= expected:
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        return {"project": project["id"], "docs": count, "seconds": seconds, "peak_rss": peak[0]}

    def page_ms(self, project: int, page: int, repeat: int = 20, query: dict | None = None) -> float:
        """p95 ms of GET /api/tasks (50 a page); `query`: a data manager query (filters), as its UI sends."""
        extra = f"&query={urllib.parse.quote(json.dumps(query))}" if query else ""
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            self.get(f"/api/tasks?project={project}&page={page}&page_size=50{extra}")
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        return times[int(0.95 * (len(times) - 1))]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.data, ignore_errors=True)


def _lines(path: Path) -> int:
    """Records in the file: JSON array items, JSONL lines, CSV lines after the header."""
    if path.suffix == ".json":
        return len(json.loads(path.read_text(encoding="utf-8")))
    with open(path, "rb") as fh:
        n = sum(1 for line in fh if line.strip())
    return n - 1 if path.suffix == ".csv" else n


def _htc_import(path: Path, db: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="htc-p-") as data_dir:
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="htc_app.settings", HTC_DATA_DIR=data_dir)
        env["DATABASE_URL"] = PG_URL if db == "postgres" else ""
        cmd = [sys.executable, "-m", "benchmarks.import_bench", "--child", "import", "--file", str(path)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _text_only_jsonl(source: Path, target: Path) -> None:
    """20 Newsgroups with the text and id only (what Label Studio imports as plain tasks)."""
    with open(source, encoding="utf-8") as fh, open(target, "w", encoding="utf-8") as out:
        for line in fh:
            obj = json.loads(line)
            out.write(json.dumps({"id": str(obj["id"]), "text": obj["text"]}) + "\n")


def _as_json_array(source: Path) -> Path:
    """The same records as one JSON array: Label Studio refuses .jsonl ("extension is not supported")."""
    target = source.with_suffix(".json")
    if target.exists():
        return target
    with open(source, encoding="utf-8") as fh:
        target.write_text(json.dumps([json.loads(line) for line in fh if line.strip()]), encoding="utf-8")
    return target


def _annotated_json(csv_path: Path) -> tuple[Path, str]:
    """The generated CSV as Label Studio tasks that carry their label as an annotation (a choice per leaf path, the
    way Label Studio holds a gold label), and the label config listing those choices."""
    import csv

    tasks, leaves = [], set()
    with open(csv_path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            leaf = row["path"].split(" > ")[-1]
            leaves.add(leaf)
            result = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [leaf]}}]
            tasks.append({"data": {"id": row["id"], "text": row["text"]}, "annotations": [{"result": result}]})
    target = csv_path.with_name(csv_path.stem + "-annotated.json")
    target.write_text(json.dumps(tasks), encoding="utf-8")
    choices = "".join(f'<Choice value="{leaf}"/>' for leaf in sorted(leaves))
    config = f'<View><Text name="text" value="$text"/><Choices name="label" toName="text">{choices}</Choices></View>'
    return target, config


def _htc_pages(docs: int, db: str) -> dict:
    """htc's list and review-queue p95s at `docs` documents (import_bench's page child: the same requests as
    import.md, here in the same run as Label Studio's)."""
    from benchmarks.import_bench import _child

    out = _child("pages", db, ["--docs", str(docs)])
    if isinstance(out, str):
        raise RuntimeError(f"htc page child failed: {out}")
    return out


def run(docs: int = 100_000, repeat: int = 3, dbs: tuple[str, ...] = ("sqlite",), annotate: bool = True) -> str:
    exe = ensure_label_studio()
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        if DATASET.exists():
            ng = Path(tmp) / "20newsgroups-text.jsonl"
            _text_only_jsonl(DATASET, ng)
            files.append(("20 Newsgroups, text only (htc: JSONL; LS: the same records as a JSON array)", ng))
        csv_path = Path(tmp) / f"generated-{docs}.csv"
        generate_csv(csv_path, docs)
        files.append((f"generated CSV, {docs:,} short docs", csv_path))
        ls = LabelStudio(exe)
        try:
            version = ls.version()
            rows = []
            for label, path in files:
                htc_runs: dict[str, list[dict]] = {db: [] for db in dbs}
                ls_runs = []
                for _ in range(repeat):  # alternate the systems: htc on each database, then Label Studio
                    for db in dbs:
                        htc_runs[db].append(_htc_import(path, db))
                    ls_runs.append(ls.import_file(_as_json_array(path) if path.suffix == ".jsonl" else path))
                    print(
                        f"peers: {label}: htc {[r[-1]['seconds'] for r in htc_runs.values()]} s, "
                        f"LS {ls_runs[-1]['seconds']:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                rows.append((label, htc_runs, ls_runs))
            last_ls = rows[-1][2][-1]
            deep = max(1, docs // 50 // 2)
            ls_queue = (ls.page_ms(last_ls["project"], 1), ls.page_ms(last_ls["project"], deep))
            # Label Studio with the labels: the same CSV as tasks with annotations (htc's CSV row imports its paths)
            # htc's label filter row is the Area1 subtree; Label Studio's CSV tasks keep the path column as data
            area1 = {"filter": "filter:tasks:data.path", "operator": "contains", "type": "String", "value": "Area1 >"}
            query = {"filters": {"conjunction": "and", "items": [area1]}}
            ls_filter = ls.page_ms(last_ls["project"], 1, query=query)
            ls_annotated = ls.import_file(*_annotated_json(csv_path)) if annotate else None
        finally:
            ls.stop()
    htc_pages = {db: _htc_pages(docs, db) for db in dbs}
    load_after = os.getloadavg()

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    lines = [
        "## htc and Label Studio side by side",
        "",
        f"htc ({', '.join(dbs)}) against Label Studio Community {version} (its own virtualenv, SQLite), on "
        f"{os.cpu_count()} cores; runs alternate (htc on each database, then Label Studio), medians of {repeat}. "
        f"Load average (1/5/15 min) before: {' / '.join(f'{x:.2f}' for x in load_before)}, after: "
        f"{' / '.join(f'{x:.2f}' for x in load_after)}; {time.monotonic() - started:.0f} s in all. "
        f'Command: `make bench-peers PEERS_ARGS="--docs {docs} --repeat {repeat} --db {",".join(dbs)}"`.',
        "",
        "| file | htc database | htc docs/s | Label Studio docs/s | htc / LS | htc: then search index s "
        "| htc peak RSS (MB) | LS peak RSS (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, htc_runs, ls_runs in rows:
        s = med(ls_runs, "docs") / med(ls_runs, "seconds")
        for db, runs in htc_runs.items():
            h = med(runs, "docs") / med(runs, "seconds")
            lines.append(
                f"| {label} | {db} | {h:,.0f} | {s:,.0f} | {h / s:.2f} | {med(runs, 'index_seconds'):.1f} "
                f"| {med(runs, 'peak_rss'):.0f} "
                f"| {med(ls_runs, 'peak_rss'):.0f} |"
            )
    if ls_annotated is not None:
        a = ls_annotated["docs"] / ls_annotated["seconds"]
        csv_runs = rows[-1][1]
        ratios = ", ".join(f"{db} {med(runs, 'docs') / med(runs, 'seconds') / a:.1f}x" for db, runs in csv_runs.items())
        lines += [
            "",
            f"Label Studio with the labels: the same {docs:,} documents as tasks carrying their leaf label as an "
            f"annotation (a JSON array; CSV cannot carry annotations), one run: {a:,.0f} docs/s, peak RSS "
            f"{ls_annotated['peak_rss']:.0f} MB. htc's CSV rows above import the same labels as gold paths: {ratios}.",
        ]
    deep = max(1, docs // 50 // 2)
    lines += [
        "",
        f"Lists at {docs:,} documents, p95 ms of 20 requests (Label Studio: GET /api/tasks, 50 a page, on the "
        "tasks of its last import; htc: the review queue of a run with a prediction per document, and the "
        "document list, as in import.md). Label Studio's label filter: its data manager filter on the CSV's path "
        "column (`data.path` contains `Area1 >`, the subtree htc's row filters on), page 1. Filtering on the "
        "annotation results of its annotated import instead did not answer one request within 12 minutes at "
        "100,000 tasks (2026-12-05, loaded machine).",
        "",
        "| request | Label Studio | " + " | ".join(f"htc {db}" for db in dbs) + " |",
        "|---|---:|" + "---:|" * len(dbs),
    ]

    def htc_ms(db: str, prefix: str) -> str:
        found = [r for r in htc_pages[db]["rows"] if r[0].startswith(prefix)]
        return f"{found[0][2]:,.0f}" if found else "-"

    for label, ls_ms, prefix in (
        ("queue page 1", ls_queue[0], "review queue, page 1"),
        (f"queue page {deep:,}", ls_queue[1], "review queue, page "),
        ("queue, label filter (Area1)", ls_filter, "review queue, label filter"),
        ("document list, text search", None, "documents, text search"),
    ):
        if prefix == "review queue, page ":
            cells = [htc_ms(db, "review queue, page " + f"{deep:,}") for db in dbs]
        else:
            cells = [htc_ms(db, prefix) for db in dbs]
        ls_cell = f"{ls_ms:,.0f}" if ls_ms is not None else "-"
        lines.append(f"| {label} | {ls_cell} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default="sqlite,postgres", help="htc's databases, comma-separated")
    parser.add_argument(
        "--annotations",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time Label Studio importing the CSV's labels as annotations (slow: about 700 docs/s)",
    )
    args = parser.parse_args()
    body = run(
        docs=args.docs, repeat=args.repeat, dbs=tuple(d for d in args.db.split(",") if d), annotate=args.annotations
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "peers.md").write_text(body)
    sys.stdout.write(body)


if __name__ == "__main__":
    main()
