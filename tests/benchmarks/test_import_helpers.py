"""The import and peer benchmarks' helpers (the benchmarks themselves are run by `make bench`, not in tests)."""

from __future__ import annotations

import csv
import json
import os

import pytest

from benchmarks.import_bench import generate_csv
from benchmarks.peers_bench import _lines, _rss_tree_mb, _text_only_jsonl

pytestmark = pytest.mark.db_independent  # no database: `make test-pg` deselects it (SQLite leg only)


def test_generated_csv_has_three_level_paths_and_a_split(tmp_path):
    path = tmp_path / "g.csv"
    generate_csv(path, 50, seed=1)
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert len(rows) == 50 == _lines(path)
    assert all(len(r["path"].split(" > ")) == 3 and r["split"] in ("train", "test") for r in rows)
    assert [r["id"] for r in rows[:3]] == ["g0", "g1", "g2"]


def test_text_only_copy_keeps_ids_and_texts(tmp_path):
    source = tmp_path / "s.jsonl"
    source.write_text(
        json.dumps({"id": 1, "text": "a", "path": ["x"]}) + "\n" + json.dumps({"id": "b", "text": "c"}) + "\n"
    )
    target = tmp_path / "t.jsonl"
    _text_only_jsonl(source, target)
    assert [json.loads(line) for line in target.read_text().splitlines()] == [
        {"id": "1", "text": "a"},
        {"id": "b", "text": "c"},
    ]
    assert _lines(target) == 2


def test_rss_of_this_process_tree_is_positive():
    assert _rss_tree_mb(os.getpid()) > 1
