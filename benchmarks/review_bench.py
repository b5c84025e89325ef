"""Review queue and review page latency with many predictions, on SQLite and on PostgreSQL.

`run() -> str` returns a Markdown section. Each database is measured in its own process (settings are
read once per process): `python -m benchmarks.review_bench --db sqlite|postgres [--quick]` prints one table row set.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

PG_URL = os.environ.get("HTC_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/htc_bench")


def _measure(quick: bool) -> list[tuple[str, float, float]]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases
    from django.urls import reverse

    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document
    from projects.services import project_create
    from taxonomies.services import node_create

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    n = 20_000 if quick else 100_000
    try:
        owner = get_user_model().objects.create_user("bench", password="bench-password-1")
        project = project_create(name="bench", owner=owner)
        paths = []
        for a in range(5):
            na = node_create(taxonomy=project.taxonomy, name=f"Area{a}", record=False)
            for b in range(4):
                nb = node_create(taxonomy=project.taxonomy, name=f"Field{a}.{b}", parent=na, record=False)
                for c in range(3):
                    nc = node_create(taxonomy=project.taxonomy, name=f"Topic{a}.{b}.{c}", parent=nb, record=False)
                    paths.append([na.pk, nb.pk, nc.pk])
        corpus = Corpus.objects.create(project=project, name="bench")
        rng = random.Random(0)
        Document.objects.bulk_create(
            [
                Document(project=project, corpus=corpus, external_id=f"d{i}", text=f"document {i} " * 20, split="test")
                for i in range(n)
            ],
            batch_size=5000,
        )
        run = Run.objects.create(project=project, name="bench-run", strategy="tfidf")
        doc_ids = list(Document.objects.filter(project=project).values_list("pk", flat=True))
        preds = []
        for doc_id in doc_ids:
            p = rng.choice(paths)
            preds.append(
                Prediction(
                    run=run,
                    document_id=doc_id,
                    paths=[p],
                    scores=[rng.random() for _ in p],
                    margin=rng.random(),
                    consistent=rng.random() > 0.05,
                    valid=rng.random() > 0.01,
                    leaf_node=p[-1],
                    stage="tfidf",
                )
            )
        Prediction.objects.bulk_create(preds, batch_size=5000)
        client = Client()
        client.force_login(owner)
        queue = reverse("review:queue", args=[project.pk, run.pk])
        sample = (
            Prediction.objects.filter(run=run).order_by("?")[:20]
            if not quick
            else Prediction.objects.filter(run=run)[:20]
        )
        cases = [
            ("queue, most uncertain first, page 1", lambda: client.get(queue)),
            ("queue, page 500", lambda: client.get(queue, {"page": 500})),
            (
                "queue, filter by label (Area1 subtree), not reviewed",
                lambda: client.get(queue, {"node": paths[12][0], "reviewed": "no"}),
            ),
            ("next item (skips decided ones)", lambda: client.get(reverse("review:next", args=[project.pk, run.pk]))),
        ]
        items = [reverse("review:item", args=[project.pk, run.pk, p.pk]) for p in sample]
        out = []
        for label, call in cases:
            out.append((label, *_timed(call)))
        it = iter(items * 2)
        out.append(("review page", *_timed(lambda: client.get(next(it)))))
    finally:
        teardown_databases(old, verbosity=0)
    return out


def _timed(call, repeat: int = 20) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code in (200, 302), response.status_code
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def run(quick: bool = False) -> str:
    n = "20,000" if quick else "100,000"
    lines = [
        "## Review pages",
        "",
        f"{n} predictions in one run (3-level tree of 60 leaves); median and p95 of 20 requests through the",
        "Django test client, each database in its own process.",
        "",
        "| database | request | median ms | p95 ms |",
        "|---|---|---:|---:|",
    ]
    for db in ("sqlite", "postgres"):
        with tempfile.TemporaryDirectory(prefix="htc-bench-") as data_dir:
            env = dict(os.environ, DJANGO_SETTINGS_MODULE="htc_app.settings", HTC_DATA_DIR=data_dir)
            env["DATABASE_URL"] = PG_URL if db == "postgres" else ""
            cmd = [sys.executable, "-m", "benchmarks.review_bench", "--db", db] + (["--quick"] if quick else [])
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            lines.append(
                f"| {db} | failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode} | | |"
            )
            continue
        lines.extend(line for line in proc.stdout.splitlines() if line.startswith("|"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if "--db" in sys.argv:
        db = sys.argv[sys.argv.index("--db") + 1]
        for label, median, p95 in _measure(quick="--quick" in sys.argv):
            print(f"| {db} | {label} | {median:.0f} | {p95:.0f} |")
    else:
        sys.stdout.write(run(quick="--quick" in sys.argv))
