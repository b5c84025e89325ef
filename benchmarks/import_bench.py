"""Corpus import and document-list speed: `run() -> str` returns a Markdown section.

Measures, on a throwaway test database: documents per second and peak Python memory (tracemalloc) for
importing 20 Newsgroups (JSONL) and a generated CSV, then the document list's latency at that size with the
Django test client. Run alone with `python -m benchmarks.import_bench [--quick]`.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "20newsgroups" / "20newsgroups.jsonl"
WORDS = (
    "model data label tree level node path text corpus train test split metric score class leaf root branch "
    "signal noise sample batch query answer vector token layer weight graph market price river mountain city"
).split()


def _ensure_django() -> None:
    if "DJANGO_SETTINGS_MODULE" not in os.environ:
        os.environ.setdefault("HTC_DATA_DIR", tempfile.mkdtemp(prefix="htc-bench-"))
        os.environ["DJANGO_SETTINGS_MODULE"] = "htc_app.settings"
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def _generate_csv(path: Path, n: int, seed: int = 0) -> None:
    """n documents of ~30 words over a 3-level tree of 5 x 4 x 3 labels, with a split column."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("id,text,path,split\n")
        for i in range(n):
            a, b, c = rng.randrange(5), rng.randrange(4), rng.randrange(3)
            text = " ".join(rng.choice(WORDS) for _ in range(30))
            split = "test" if i % 5 == 0 else "train"
            fh.write(f"g{i},{text},Area{a} > Field{a}.{b} > Topic{a}.{b}.{c},{split}\n")


def _import(project, path: Path, traced: bool) -> tuple[float, int, float | None]:
    """(seconds, documents, peak MiB under tracemalloc or None)."""
    from corpora.services import corpus_import

    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    with open(path, "rb") as fh:
        corpus = corpus_import(project=project, file_name=path.name, fileobj=fh, actor=None, add_missing_labels=True)
    seconds = time.perf_counter() - start
    peak = None
    if traced:
        peak = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
        tracemalloc.stop()
    return seconds, corpus.stats["documents"], peak


def _measure_import(owner, name: str, path: Path) -> dict:
    """Import twice into fresh projects: once timed, once under tracemalloc for the peak."""
    from projects.services import project_create

    seconds, docs, _ = _import(project_create(name=f"{name} timed", owner=owner), path, traced=False)
    project = project_create(name=f"{name} traced", owner=owner)
    _, _, peak = _import(project, path, traced=True)
    return {
        "name": name,
        "docs": docs,
        "seconds": seconds,
        "peak": peak,
        "mb": path.stat().st_size / 2**20,
        "project": project,
    }


def _latency(client, url: str, params: dict, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, params)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return statistics.median(times) * 1000


def run(quick: bool = False) -> str:
    _ensure_django()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases
    from django.urls import reverse

    from corpora.models import Document
    from taxonomies.models import Node

    try:
        setup_test_environment()
    except RuntimeError:  # another benchmark in this process already did
        pass
    n_generated = 20_000 if quick else 100_000
    old = setup_databases(verbosity=0, interactive=False)
    rows, notes = [], []
    try:
        owner = get_user_model().objects.create_user("bench", password="bench-password-1")
        if DATASET.exists():
            rows.append(_measure_import(owner, "20 Newsgroups (JSONL)", DATASET))
        else:
            notes.append(f"20 Newsgroups skipped: {DATASET} is absent.")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "generated.csv"
            _generate_csv(path, n_generated)
            rows.append(_measure_import(owner, f"generated CSV ({n_generated:,} docs)", path))
        big = rows[-1]["project"]
        client = Client()
        client.force_login(owner)
        url = reverse("corpora:documents", args=[big.pk])
        node = Node.objects.get(taxonomy=big.taxonomy, name="Area1")
        pages = [
            ("page 1", {}),
            (f"page {n_generated // 100} (offset {n_generated // 2:,})", {"page": n_generated // 100}),
            ("label filter (Area1 and descendants)", {"node": node.pk}),
            ("split filter (test)", {"split": "test"}),
            ("text search 'river mountain'", {"q": "river mountain"}),
        ]
        latencies = [(label, _latency(client, url, params)) for label, params in pages]
        total = Document.objects.filter(project=big).count()
    finally:
        teardown_databases(old, verbosity=0)

    lines = [
        "## Corpus import",
        "",
        "Each file is imported twice into a fresh project: once timed, once under tracemalloc (peak Python memory",
        "of the whole import: both passes, label creation, batched inserts). Labels are created on the fly.",
        "",
        "| file | size (MiB) | documents | seconds | docs/s | peak memory (MiB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['mb']:.1f} | {r['docs']:,} | {r['seconds']:.1f} | {r['docs'] / r['seconds']:,.0f} "
            f"| {r['peak']:.1f} |"
        )
    lines += [
        "",
        f"## Document list at {total:,} documents",
        "",
        "Median of 5 requests through the Django test client (50 rows a page, gold paths named from one taxonomy load).",
        "",
        "| request | median ms |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {ms:.0f} |" for label, ms in latencies]
    lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(run(quick="--quick" in sys.argv))
