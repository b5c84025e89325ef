"""selection_bench keeps every part's rows when parts run side by side: rows are merged at write time."""

import json

import pytest

from benchmarks import selection_bench

pytestmark = pytest.mark.db_independent  # no database: `make test-pg` deselects it (SQLite leg only)


def _row(strategy: str, seed: int, exact: float) -> dict:
    return {"corpus": "c", "strategy": strategy, "shots": 4, "seed": seed, "n_test": 10, "exact": exact}


def test_rows_written_by_another_part_meanwhile_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(selection_bench, "RESULTS", tmp_path)
    monkeypatch.setattr(selection_bench, "ROWS", tmp_path / "rows.json")
    selection_bench.save_rows([_row("embed", 1, 0.5)])
    # another process adds its row after this one started
    (tmp_path / "rows.json").write_text(json.dumps([_row("embed", 1, 0.5), _row("tfidf", 2, 0.3)]))
    stored = selection_bench.save_rows([_row("auto", 1, 0.6), _row("embed", 1, 0.55)])
    on_disk = json.loads((tmp_path / "rows.json").read_text())
    assert on_disk == stored
    assert sorted((r["strategy"], r["exact"]) for r in on_disk) == [("auto", 0.6), ("embed", 0.55), ("tfidf", 0.3)]


def test_a_measured_again_row_keeps_its_place(tmp_path, monkeypatch):
    """Tables list rows in stored order: a row measured again replaces the old one where it stood."""
    monkeypatch.setattr(selection_bench, "ROWS", tmp_path / "rows.json")
    selection_bench.save_rows([_row("tfidf", 1, 0.3), _row("embed", 1, 0.5), _row("ensemble", 1, 0.6)])
    stored = selection_bench.save_rows([_row("embed", 1, 0.55), _row("auto", 1, 0.61)])
    assert [(r["strategy"], r["exact"]) for r in stored] == [
        ("tfidf", 0.3),
        ("embed", 0.55),
        ("ensemble", 0.6),
        ("auto", 0.61),
    ]
