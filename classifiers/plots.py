"""Geometry for the server-side SVG plots of the metrics page.

Each function returns plain numbers and strings; the templates draw them as SVG elements (text is
escaped by the template engine, colours come from CSS classes, so the CSP needs no inline styles). Names in
tooltips and heatmap labels are bidi-isolated with FSI ... PDI (htc_app.bidi): SVG <text> and <title> hold no
<bdi>, and an RTL override in a run or label name must not reorder the rest of the label.
"""

from __future__ import annotations

from collections.abc import Sequence

from htc_app.bidi import isolate

PALETTE_SIZE = 8
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 40


def _y_ticks(height: float) -> list[dict]:
    """Ticks for a 0..1 axis."""
    return [{"y": round(TOP + height * (1 - v), 1), "label": f"{v:.1f}"} for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]


def grouped_bars(
    groups: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, width: int = 720, height: int = 260
) -> dict | None:
    """Bars for values in [0, 1]: one group per entry of `groups`, one bar per series inside each group."""
    if not groups or not series:
        return None
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    group_w = plot_w / len(groups)
    bar_w = max(2.0, (group_w * 0.8) / len(series))
    bars = []
    for g, group in enumerate(groups):
        x0 = LEFT + g * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series):
            value = min(max(float(values[g]) if g < len(values) else 0.0, 0.0), 1.0)
            h = plot_h * value
            bars.append(
                {
                    "x": round(x0 + s * bar_w, 1),
                    "y": round(TOP + plot_h - h, 1),
                    "w": round(bar_w - 1, 1),
                    "h": round(h, 1),
                    "cls": f"s{s % PALETTE_SIZE}",
                    "title": f"{isolate(name)}, {group}: {value:.3f}",
                }
            )
    labels = [{"x": round(LEFT + (g + 0.5) * group_w, 1), "text": group} for g, group in enumerate(groups)]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "labels": labels,
        "label_y": height - BOTTOM + 16,
        "ticks": _y_ticks(plot_h),
        "axis_x0": LEFT,
        "axis_x1": width - RIGHT,
        "axis_y": TOP + plot_h,
        "legend": [{"name": name, "cls": f"s{s % PALETTE_SIZE}"} for s, (name, _) in enumerate(series)],
    }


def lines(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    width: int = 720,
    height: int = 260,
    point_title: str = "{name}, {x} shots: {value:.3f}",
    label_every: int = 1,
) -> dict | None:
    """A line per series over categorical x values (values in [0, 1]; None leaves a gap).

    `point_title` formats each marker's tooltip ({name}, {x}, {value}); `label_every` labels every n-th x."""
    if not categories or not series:
        return None
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    step = plot_w / len(categories)
    xs = [LEFT + (k + 0.5) * step for k in range(len(categories))]
    out = []
    for s, (name, values) in enumerate(series):
        points = []
        for k, value in enumerate(values):
            if value is None:
                continue
            v = min(max(float(value), 0.0), 1.0)
            points.append(
                {
                    "x": round(xs[k], 1),
                    "y": round(TOP + plot_h * (1 - v), 1),
                    "title": point_title.format(name=isolate(name), x=categories[k], value=v),
                }
            )
        out.append(
            {
                "name": name,
                "cls": f"s{s % PALETTE_SIZE}",
                "markers": points,
                "points": " ".join(f"{p['x']},{p['y']}" for p in points),
            }
        )
    return {
        "width": width,
        "height": height,
        "series": out,
        "ticks": _y_ticks(plot_h),
        "labels": [
            {"x": round(x, 1), "text": c}
            for k, (x, c) in enumerate(zip(xs, categories, strict=True))
            if k % max(1, label_every) == 0
        ],
        "label_y": height - BOTTOM + 16,
        "axis_x0": LEFT,
        "axis_x1": width - RIGHT,
        "axis_y": TOP + plot_h,
    }


def heatmap(
    labels: Sequence[str], matrix: Sequence[Sequence[float]], *, cell: int = 26, margin: int = 150
) -> dict | None:
    """Cells of a confusion matrix (rows gold, columns predicted), shaded by the share of the gold row."""
    n = len(labels)
    if not n:
        return None
    cells = []
    for g, row in enumerate(matrix):
        row_total = sum(row) or 1.0
        for p, value in enumerate(row):
            share = value / row_total
            cells.append(
                {
                    "x": margin + p * cell,
                    "y": margin + g * cell,
                    "size": cell - 1,
                    "tx": margin + p * cell + cell / 2,
                    "ty": margin + g * cell + cell / 2 + 4,
                    "opacity": round(0.06 + 0.94 * share, 3) if value else 0.0,
                    "cls": "diag" if g == p else "off",
                    "text": f"{value:.0f}"
                    if value and float(value).is_integer()
                    else (f"{value:.1f}" if value else ""),
                    "dark": share > 0.5,
                    "title": f"gold {isolate(labels[g])} → predicted {isolate(labels[p])}: {value:g}",
                }
            )
    size = margin + n * cell + 8
    return {
        "width": size + margin // 2,  # room on the right for the last rotated column labels
        "height": size,
        "cells": cells,
        "cell": cell,
        "margin": margin,
        "rows": [{"y": margin + g * cell + cell / 2 + 4, "text": _short(label)} for g, label in enumerate(labels)],
        "cols": [{"x": margin + p * cell + cell / 2, "text": _short(label)} for p, label in enumerate(labels)],
        "text_x": margin - 6,
        "text_y": margin - 6,
    }


def _short(label: str, limit: int = 22) -> str:
    return isolate(label if len(label) <= limit else label[: limit - 1] + "…")
