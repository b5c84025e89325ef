"""Corpus import speed and peak memory, and page latency at scale, on SQLite and on PostgreSQL.

`run(quick=False) -> str` returns the Markdown of benchmarks/results/import.md. Every measurement runs in a
fresh child process (settings are read once per process, and the peak RSS of a process only grows):

    python -m benchmarks.import_bench [--quick] [--docs 100000,200000] [--pages 100000] [--db sqlite,postgres]
    python -m benchmarks.import_bench --child import --file F      # one import, prints JSON
    python -m benchmarks.import_bench --child pages --docs N       # import N generated docs + predictions, p95s
    python -m benchmarks.import_bench --ab DIR [--rounds 2] [--docs 100000] [--db sqlite,postgres]
        # import speed of the checkout in DIR (A, e.g. `git worktree add DIR main`) against this one (B),
        # alternating A B A B on the same files, with the load average beside every number

Documents per second are whole `corpus_import` calls (read, check, write, commit). Peak RSS is the child's
`ru_maxrss` (the whole process: Python, Django, the driver); the RSS just before the import is shown beside it.
The 1,000,000-document scale run is `--no-imports --pages 1000000` (its page child imports the million documents
and reports that import's speed and peak RSS; about an hour per database on two shared cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "20newsgroups" / "20newsgroups.jsonl"
PG_URL = os.environ.get("HTC_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/htc_bench")
WORDS = (
    "model data label tree level node path text corpus train test split metric score class leaf root branch "
    "signal noise sample batch query answer vector token layer weight graph market price river mountain city"
).split()
REPEAT = 20


def generate_csv(path: Path, n: int, seed: int = 0) -> None:
    """n documents of ~30 words over a 3-level tree of 5 x 4 x 3 labels, with a split column."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("id,text,path,split\n")
        for i in range(n):
            a, b, c = rng.randrange(5), rng.randrange(4), rng.randrange(3)
            text = " ".join(rng.choice(WORDS) for _ in range(30))
            split = "test" if i % 5 == 0 else "train"
            fh.write(f"g{i},{text},Area{a} > Field{a}.{b} > Topic{a}.{b}.{c},{split}\n")


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _setup():
    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    return setup_databases(verbosity=0, interactive=False)


def _import(path: Path, project=None) -> dict:
    from django.contrib.auth import get_user_model

    from corpora.services import corpus_import
    from projects.services import project_create

    if project is None:
        owner = get_user_model().objects.create_user("bench", password="bench-password-1")
        project = project_create(name="bench", owner=owner)
    from corpora.search import search_index_pending

    before = _rss_mb()
    start = time.perf_counter()
    with open(path, "rb") as fh:
        # as the import job does: the documents are committed, then (PostgreSQL) their search vectors computed
        corpus = corpus_import(
            project=project, file_name=path.name, fileobj=fh, actor=None, add_missing_labels=True, index_search=False
        )
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    search_index_pending()
    index_seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "docs": corpus.stats["documents"],
        "seconds": seconds,
        "index_seconds": index_seconds,
        "rss_before": before,
        "peak_rss": peak,
    }


def child_import(path: Path) -> dict:
    from django.test.utils import teardown_databases

    old = _setup()
    try:
        return _import(path)
    finally:
        teardown_databases(old, verbosity=0)


def _p95(call) -> tuple[float, float]:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code in (200, 302), response.status_code
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def child_pages(n: int) -> dict:
    """Import n generated documents, add a run with a prediction per document, time the list and queue pages."""
    old = _setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import teardown_databases
    from django.urls import reverse

    from classifiers.models import Prediction, Run
    from corpora.models import Document
    from projects.services import project_create
    from review.selectors import QueueCursor, review_queue_page
    from taxonomies.models import Node
    from taxonomies.selectors import taxonomy_tree

    try:
        owner = get_user_model().objects.create_user("bench", password="bench-password-1")
        project = project_create(name="bench", owner=owner)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "generated.csv"
            generate_csv(path, n)
            imported = _import(path, project)
        _say(f"imported {json.dumps(imported)}")
        tree = taxonomy_tree(taxonomy=project.taxonomy)
        leaves = [nid for nid in tree.nodes if tree.is_leaf(nid)]
        run = Run.objects.create(project=project, name="bench-run", strategy="tfidf")
        rng = random.Random(0)
        table = Prediction._meta.db_table
        cols = "run_id, document_id, paths, scores, raw_paths, consistent, valid, raw_output, margin, stage, leaf_node"
        started = time.perf_counter()
        with connection.cursor() as cursor:
            last = 0
            while True:  # 5,000 document ids at a time (by seek), so memory stays flat at a million documents
                ids = list(
                    Document.objects.filter(project=project, pk__gt=last)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:5000]
                )
                if not ids:
                    break
                last = ids[-1]
                rows = []
                for doc_id in ids:
                    leaf = rng.choice(leaves)
                    path_ids = tree.path_ids(leaf)
                    scores = [round(rng.random(), 3) for _ in path_ids]
                    rows.append(
                        (run.pk, doc_id, json.dumps([path_ids]), json.dumps(scores), "[]", rng.random() > 0.05)
                        + (rng.random() > 0.01, "", rng.random(), "tfidf", leaf)
                    )
                marks = ", ".join(["%s"] * 11)
                cursor.executemany(
                    f"INSERT INTO {table} ({cols}, created_at) VALUES ({marks}, CURRENT_TIMESTAMP)", rows
                )
        predictions_s = time.perf_counter() - started
        _say(f"predictions written in {predictions_s:.0f} s")
        if connection.vendor == "postgresql":
            # What autovacuum does within a minute of a bulk load: fresh statistics for the planner.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        client = Client()
        client.force_login(owner)
        documents = reverse("corpora:documents", args=[project.pk])
        queue = reverse("review:queue", args=[project.pk, run.pk])
        area = Node.objects.get(taxonomy=project.taxonomy, name="Area1")
        deep = max(1, n // 50 // 2)
        # The seek keys a user reaches by following "Next" (deep - 1) times.
        doc_after = (
            Document.objects.filter(project=project).order_by("id").values_list("id", flat=True)[(deep - 1) * 50 - 1]
        )
        queue_after, remaining = None, (deep - 1) * 50
        while remaining > 0:
            walked = review_queue_page(run=run, cursor=QueueCursor.decode(queue_after), size=min(5000, remaining))
            remaining -= len(walked.items)
            queue_after = walked.next_cursor
        cases = [
            ("documents, page 1", lambda: client.get(documents)),
            (
                f"documents, page {deep:,} (seek after row {(deep - 1) * 50:,})",
                lambda: client.get(documents, {"page": deep, "after": doc_after}),
            ),
            ("documents, label filter (Area1 subtree)", lambda: client.get(documents, {"node": area.pk})),
            ("documents, text search 'river mountain'", lambda: client.get(documents, {"q": "river mountain"})),
            ("review queue, page 1", lambda: client.get(queue)),
            (
                f"review queue, page {deep:,} (seek)",
                lambda: client.get(queue, {"page": deep, "after": queue_after}),
            ),
            ("review queue, label filter (Area1), not reviewed", lambda: client.get(queue, {"node": area.pk})),
            ("review, next item", lambda: client.get(reverse("review:next", args=[project.pk, run.pk]))),
            (
                "export CSV (streamed, whole project)",
                lambda: _drain(client.get(reverse("corpora:export", args=[project.pk]), {"format": "csv"})),
            ),
        ]
        rows = []
        for label, call in cases:
            if "export" in label:
                rss_before_export = _rss_mb()
                rows.append((label, *_once(call)))
            else:
                rows.append((label, *_p95(call)))
            _say(f"{label}: median {rows[-1][1]:,.0f} ms, p95 {rows[-1][2]:,.0f} ms")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {
            "docs": imported["docs"],
            "import": imported,
            "predictions_s": predictions_s,
            "rows": rows,
            "rss_before_export": rss_before_export,
            "peak_rss_end": peak,
        }
    finally:
        teardown_databases(old, verbosity=0)


def _say(message: str) -> None:
    """Progress of a long child on stderr (a scale run that is stopped still shows what it measured)."""
    print(f"{time.strftime('%H:%M:%S')} load {_load()}: {message}", file=sys.stderr, flush=True)


def _drain(response):
    for _ in response.streaming_content if response.streaming else [response.content]:
        pass
    return response


def _once(call) -> tuple[float, float]:
    start = time.perf_counter()
    call()
    ms = (time.perf_counter() - start) * 1000
    return ms, ms


def _child(kind: str, db: str, extra: list[str], timeout: int | None = None, cwd: Path | None = None) -> dict | str:
    with tempfile.TemporaryDirectory(prefix="htc-b-") as data_dir:  # the child's data folder, removed after it
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="htc_app.settings", HTC_DATA_DIR=data_dir)
        env["DATABASE_URL"] = PG_URL if db == "postgres" else ""
        env.setdefault("OMP_NUM_THREADS", "1")
        cmd = [sys.executable, "-m", "benchmarks.import_bench", "--child", kind, *extra]
        # A page child's progress goes straight to this process's stderr (a long scale run shows what it measured).
        stderr = subprocess.PIPE if kind == "import" else None
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=timeout, cwd=cwd)
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()
        return tail[-1] if tail else f"exit {proc.returncode} (see stderr)"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def run(
    quick: bool = False,
    docs: list[int] | None = None,
    pages: int | None = None,
    dbs: tuple[str, ...] = ("sqlite", "postgres"),
    imports: bool = True,
) -> str:
    docs = docs or ([20_000] if quick else [100_000, 200_000])
    pages = pages or (20_000 if quick else 100_000)
    lines = [
        "## Corpus import",
        "",
        "One streaming pass in one transaction (read, check, bulk write: `executemany` on SQLite, `COPY` on",
        "PostgreSQL). Each import runs in a fresh process into an empty project; labels are created on the fly.",
        "`seconds` ends when the documents are committed (listed, browsable, trainable); `then search index s` is",
        "the text index of those documents (SQLite FTS5 rows, PostgreSQL search vectors), built next: the import",
        "job's last phase (search finds the documents meanwhile, more slowly).",
        'Peak RSS is the whole process (`ru_maxrss`); "RSS before" is the same process just before the import.',
        f"Load average (1/5/15 min) at the start: {_load()} on {os.cpu_count()} cores shared with other work.",
        "",
        "| database | file | documents | seconds | docs/s | then search index s | RSS before (MB) | peak RSS (MB) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        files = _files(tmp, docs, notes) if imports else []
        for db in dbs:
            for label, path in files:
                r = _child("import", db, ["--file", str(path)])
                if isinstance(r, str):
                    lines.append(f"| {db} | {label} | failed: {r} | | | | | |")
                    continue
                lines.append(
                    f"| {db} | {label} | {r['docs']:,} | {r['seconds']:.1f} | {r['docs'] / r['seconds']:,.0f} "
                    f"| {r.get('index_seconds', 0):.1f} | {r['rss_before']:.0f} | {r['peak_rss']:.0f} |"
                )
    if not imports:
        lines = [f"Load average (1/5/15 min) at the start: {_load()} on {os.cpu_count()} cores shared with other work."]
    lines += [
        "",
        f"## Pages at {pages:,} documents (one prediction each)",
        "",
        f"Median and p95 of {REPEAT} requests through the Django test client (the export: one full streamed read).",
        "",
        "| database | request | median ms | p95 ms |",
        "|---|---|---:|---:|",
    ]
    for db in dbs:
        r = _child("pages", db, ["--docs", str(pages)])
        if isinstance(r, str):
            lines.append(f"| {db} | failed: {r} | | |")
            continue
        lines += [f"| {db} | {label} | {median:,.0f} | {p95:,.0f} |" for label, median, p95 in r["rows"]]
        imp = r["import"]
        notes.append(
            f"{db}: import of {r['docs']:,} documents {imp['seconds']:.0f} s ({r['docs'] / imp['seconds']:,.0f} docs/s),"
            f" peak RSS {imp['peak_rss']:.0f} MB after the import; RSS {r['rss_before_export']:.0f} MB before the"
            f" export, peak RSS {r['peak_rss_end']:.0f} MB at the end; load average {_load()} after the pages."
        )
    lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def _files(tmp: str, docs: list[int], notes: list[str]) -> list[tuple[str, Path]]:
    files = []
    if DATASET.exists():
        files.append(("20 Newsgroups (JSONL, 38 MB)", DATASET))
    else:
        notes.append(f"20 Newsgroups skipped: {DATASET} is absent.")
    for n in docs:
        path = Path(tmp) / f"generated-{n}.csv"
        generate_csv(path, n)
        files.append((f"generated CSV, {n:,} docs ({path.stat().st_size / 2**20:.0f} MB)", path))
    return files


def run_ab(other: Path, rounds: int = 2, docs: list[int] | None = None, dbs: tuple[str, ...] = ("sqlite",)) -> str:
    """Import speed of the checkout `other` (A) and this one (B), alternating A B A B per file and database.

    Each import runs in a fresh process of its own checkout with this interpreter; the 1-minute load average is
    read just before and just after each import, so a row taken under heavy load says so.
    """
    docs = [100_000] if docs is None else docs
    here = Path(__file__).resolve().parent.parent
    lines = [
        f"A = {other}, B = {here}; {rounds} rounds of A then B; {os.cpu_count()} cores shared with other work.",
        "",
        "| database | file | round | A docs/s | A peak RSS (MB) | load before/after A | B docs/s "
        "| B peak RSS (MB) | load before/after B |",
        "|---|---|---:|---:|---:|---|---:|---:|---|",
    ]
    medians = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        files = _files(tmp, docs, notes)
        for db in dbs:
            for label, path in files:
                speeds: dict[str, list[float]] = {"A": [], "B": []}
                for n in range(1, rounds + 1):
                    cells = []
                    for name, cwd in (("A", other), ("B", here)):
                        load = os.getloadavg()[0]
                        r = _child("import", db, ["--file", str(path)], cwd=cwd)
                        after = os.getloadavg()[0]
                        if isinstance(r, str):
                            cells += [f"failed: {r}", "", f"{load:.1f} / {after:.1f}"]
                            continue
                        speed = r["docs"] / r["seconds"]
                        speeds[name].append(speed)
                        cells += [f"{speed:,.0f}", f"{r['peak_rss']:.0f}", f"{load:.1f} / {after:.1f}"]
                    lines.append(f"| {db} | {label} | {n} | " + " | ".join(cells) + " |")
                if speeds["A"] and speeds["B"]:
                    a, b = statistics.median(speeds["A"]), statistics.median(speeds["B"])
                    medians.append(f"| {db} | {label} | {a:,.0f} | {b:,.0f} | {b / a:.2f} |")
    lines += ["", "| database | file | A median docs/s | B median docs/s | B / A |", "|---|---|---:|---:|---:|"]
    lines += medians + [""] + [f"- {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=["import", "pages"])
    parser.add_argument("--file")
    parser.add_argument("--docs", default="", help="Generated CSV sizes, comma-separated (child pages: one number).")
    parser.add_argument("--pages", type=int, default=None, help="Documents for the page latency rows.")
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--ab", type=Path, help="Another checkout to compare import speed with (A B A B).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--imports", action=argparse.BooleanOptionalAction, default=True, help="--no-imports: the page rows only."
    )
    args = parser.parse_args(argv)
    if args.child == "import":
        print(json.dumps(child_import(Path(args.file))))
    elif args.child == "pages":
        print(json.dumps(child_pages(int(args.docs))))
    elif args.ab:
        docs = [int(x) for x in args.docs.split(",") if x]
        sys.stdout.write(run_ab(args.ab.resolve(), args.rounds, docs or None, tuple(args.db.split(","))))
    else:
        docs = [int(x) for x in args.docs.split(",") if x] or None
        sys.stdout.write(
            run(quick=args.quick, docs=docs, pages=args.pages, dbs=tuple(args.db.split(",")), imports=args.imports)
        )


if __name__ == "__main__":
    main()
