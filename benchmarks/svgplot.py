"""A small self-contained SVG line chart with a numeric x axis (classifiers/plots.py has categorical x only).

Presentation attributes only (no style attributes or elements), text escaped; one or more panels side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
W, H, LEFT, RIGHT, TOP, BOTTOM = 420, 300, 52, 14, 30, 46


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values from <= lo to >= hi (about n steps of 1, 2, 2.5 or 5 x a power of ten)."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < hi - step * 1e-9:
        ticks.append(round(start + step * len(ticks), 10))
    return ticks


def panel(
    title: str, x_label: str, y_label: str, series: Sequence[tuple[str, Sequence[tuple[float, float]]]], x0: float = 0
) -> str:
    """One chart as an SVG <g> at horizontal offset x0; y is fixed to [0, 1], x spans the data."""
    xs = [x for _, pts in series for x, _ in pts] or [0.0, 1.0]
    ticks_x = nice_ticks(min(0.0, min(xs)), max(xs))
    lo, hi = ticks_x[0], ticks_x[-1]
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x: float) -> float:
        return round(LEFT + pw * (x - lo) / ((hi - lo) or 1.0), 1)

    def py(y: float) -> float:
        return round(TOP + ph * (1 - min(max(y, 0.0), 1.0)), 1)

    out = [f'<g transform="translate({x0:g},0)">']
    out.append(f'<text x="{W / 2:g}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" stroke="#333"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" stroke="#333"/>')
    for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        y = py(v)
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + pw}" y2="{y}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" font-size="10">{v:.1f}</text>')
    for t in ticks_x:
        x = px(t)
        out.append(f'<text x="{x}" y="{TOP + ph + 14}" text-anchor="middle" font-size="10">{t:g}</text>')
    out.append(f'<text x="{LEFT + pw / 2:g}" y="{H - 8}" text-anchor="middle" font-size="11">{escape(x_label)}</text>')
    out.append(
        f'<text x="12" y="{TOP + ph / 2:g}" text-anchor="middle" font-size="11" '
        f'transform="rotate(-90 12 {TOP + ph / 2:g})">{escape(y_label)}</text>'
    )
    for s, (name, pts) in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        pts = sorted(pts)
        coords = " ".join(f"{px(x)},{py(y)}" for x, y in pts)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            out.append(
                f'<circle cx="{px(x)}" cy="{py(y)}" r="3" fill="{colour}"><title>{escape(name)}: '
                f"cost {x:g}, accuracy {y:.3f}</title></circle>"
            )
        ly = TOP + 14 + 14 * s
        out.append(f'<rect x="{LEFT + 8}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{LEFT + 22}" y="{ly + 1}" font-size="10">{escape(name)}</text>')
    out.append("</g>")
    return "\n".join(out)


def chart(panels: Sequence[dict]) -> str:
    """A whole SVG document; each panel is {"title", "x_label", "y_label", "series": [(name, [(x, y)])]}."""
    width = W * max(1, len(panels))
    body = [panel(p["title"], p["x_label"], p["y_label"], p["series"], x0=k * W) for k, p in enumerate(panels)]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{H}" viewBox="0 0 {width} {H}" '
        'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n"
    )
