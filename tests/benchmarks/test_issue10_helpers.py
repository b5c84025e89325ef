"""The pure helpers of the issue-10 benchmark: result sections, tables, JSON merging, the cascade replay, the plot."""

import json
import xml.etree.ElementTree as ET

import pytest

from benchmarks.cascade_bench import sweep
from benchmarks.issue10_common import seeded_subset
from benchmarks.report import md_table, parse_sections, replace_section, update_json
from benchmarks.svgplot import chart, nice_ticks

pytestmark = pytest.mark.db_independent  # no database: `make test-pg` deselects it (SQLite leg only)


def test_md_table_escapes_pipes_and_rejects_ragged_rows():
    lines = md_table(["a", "b"], [["x|y", 1]])
    assert lines == ["| a | b |", "|---|---|", "| x\\|y | 1 |"]
    with pytest.raises(ValueError):
        md_table(["a", "b"], [["only one"]])


def test_replace_section_keeps_other_sections_and_orders_them():
    doc = replace_section("", "issue10", "## Issue 10\nrows\n", order=["strategies", "issue10"])
    doc = replace_section(doc, "strategies", "## Strategies\n", order=["strategies", "issue10"])
    assert doc.index("## Strategies") < doc.index("## Issue 10")
    doc2 = replace_section(doc, "issue10", "## Issue 10\nnew rows", order=["strategies", "issue10"])
    sections = parse_sections(doc2)
    assert sections == {"strategies": "## Strategies\n", "issue10": "## Issue 10\nnew rows\n"}
    assert "rows\n" not in doc2.replace("new rows", "")


def test_update_json_merges_top_level_keys(tmp_path):
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps({"rows": [1], "issue10": {"old": True}}))
    merged = update_json(path, {"issue10": {"quick": False}})
    assert merged == {"rows": [1], "issue10": {"quick": False}}
    assert json.loads(path.read_text()) == merged
    path.write_text("not json")
    assert update_json(path, {"a": 1}) == {"a": 1}


def test_seeded_subset_is_deterministic_and_keeps_order():
    items = list(range(100))
    a, b = seeded_subset(items, 10, 550), seeded_subset(items, 10, 550)
    assert a == b and a == sorted(a) and len(set(a)) == 10
    assert seeded_subset(items, 10, 551) != a
    assert seeded_subset(items, None, 550) == items


def test_sweep_escalates_below_threshold_and_sums_per_document_costs():
    conf = [0.9, 0.3, 0.6, 0.1]
    cheap_ok = [True, False, True, False]
    next_ok = [False, True, False, True]
    next_costs = [{"calls": 2, "prompt_tokens": 100}, {"calls": 1, "prompt_tokens": 50},
                  {"calls": 3, "prompt_tokens": 70}, {"calls": 2, "prompt_tokens": 10}]  # fmt: skip
    rows = sweep(conf, cheap_ok, next_ok, {"seconds": 0.01}, next_costs, [0.0, 0.5, 1.01])
    alone, mid, everything = rows
    assert alone["accuracy"] == 0.5 and alone["escalated"] == 0 and alone["calls"] == 0
    assert mid["escalated_docs"] == 2 and mid["accuracy"] == 1.0  # docs 1 and 3 go to the right next stage
    assert mid["calls"] == 3 and mid["prompt_tokens"] == 60 and mid["prompt_tokens_per_doc"] == 15
    assert everything["accuracy"] == 0.5 and everything["calls"] == 8
    assert mid["seconds"] == pytest.approx(0.04)
    with pytest.raises(ValueError):
        sweep(conf, cheap_ok, next_ok[:2], {}, next_costs, [0.5])


def test_nice_ticks_cover_the_range():
    for hi in (0.7, 135.6, 170, 693, 5.2e6):
        ticks = nice_ticks(0, hi)
        assert ticks[0] <= 0 and ticks[-1] >= hi and len(ticks) <= 7
        assert all(b > a for a, b in zip(ticks, ticks[1:], strict=False))


def test_chart_is_valid_svg_with_escaped_text_and_points_inside_the_axes():
    svg = chart([{"title": "a <b> & c", "x_label": "ms", "y_label": "acc",
                  "series": [("s<1>", [(0, 0.5), (170, 0.2)])]}])  # fmt: skip
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert any(t.text == "a <b> & c" for t in root.iter(ns + "text"))
    xs = [float(c.get("cx")) for c in root.iter(ns + "circle")]
    axis = next(root.iter(ns + "line"))
    assert len(xs) == 2 and all(float(axis.get("x1")) <= x <= float(axis.get("x2")) for x in xs)
    assert "style" not in svg


def test_rate_keeps_slow_stages_readable():
    from benchmarks.cascade_bench import _rate

    assert _rate(0.001) == "1000"
    assert _rate(17.2) == "0.06"  # an LLM stage at 17 s per document is not "0 docs/s"
    assert _rate(0.0) != "0"
