"""SVG geometry of the metrics plots."""

from __future__ import annotations

import pytest

from classifiers import plots

pytestmark = pytest.mark.db_independent  # no database: `make test-pg` deselects it (SQLite leg only)


def test_grouped_bars_heights_follow_values():
    chart = plots.grouped_bars(["Level 1", "Level 2"], [("a", [1.0, 0.5]), ("b", [0.25, 0.0])])
    heights = [bar["h"] for bar in chart["bars"]]
    full = heights[0]
    assert heights == [full, full / 4, full / 2, 0.0]
    assert {bar["cls"] for bar in chart["bars"]} == {"s0", "s1"}
    assert plots.grouped_bars([], []) is None


def test_lines_leave_gaps_for_missing_points():
    chart = plots.lines(["1", "4", "all"], [("tfidf", [0.5, None, 1.0])])
    markers = chart["series"][0]["markers"]
    assert len(markers) == 2 and markers[1]["y"] < markers[0]["y"]  # higher value is drawn higher


def test_heatmap_shades_by_share_of_the_gold_row():
    chart = plots.heatmap(["A", "B"], [[3.0, 1.0], [0.0, 2.0]])
    cells = {(c["x"], c["y"]): c for c in chart["cells"]}
    first_row = sorted((c for c in chart["cells"] if c["y"] == chart["margin"]), key=lambda c: c["x"])
    assert first_row[0]["opacity"] > first_row[1]["opacity"] > 0
    assert first_row[0]["cls"] == "diag" and first_row[1]["cls"] == "off"
    assert len(cells) == 4 and [c["text"] for c in first_row] == ["3", "1"]


def test_lines_take_a_tooltip_format_and_label_every_nth_category():
    chart = plots.lines(
        ["0.0", "0.5", "1.0"], [("accuracy", [0.2, 0.6, 1.0])], point_title="{name} at {x}: {value:.2f}", label_every=2
    )
    assert [m["title"] for m in chart["series"][0]["markers"]] == ["accuracy at 0.0: 0.20", "accuracy at 0.5: 0.60"] + [
        "accuracy at 1.0: 1.00"
    ]
    assert [label["text"] for label in chart["labels"]] == ["0.0", "1.0"]
