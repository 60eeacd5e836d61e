"""Small static SVG charts: line/scatter plots and horizontal bars, with titled axes and units.

Drawn here rather than by a plotting library so that the page stays one
offline file with no script needed to show a chart, and so that nothing
heavy is imported. Every point carries a <title>: the browser shows it as a
tooltip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#000000", "#999999")
GRID = "#e3e3e3"
INK = "#222"
FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif"'


@dataclass(frozen=True)
class Series:
    name: str
    points: tuple[tuple[float, float], ...]
    color: str
    dash: str = ""  # stroke-dasharray, e.g. "6 4"
    line: bool = True
    marker: bool = True
    tips: tuple[str, ...] = ()  # one tooltip per point


@dataclass(frozen=True)
class Axis:
    label: str  # name and unit: "latency (ms)"
    log2: bool = False
    from_zero: bool = True


def fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e4:
        return f"{v / 1e3:g}k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    mag: float = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def linear_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    step = nice_step(hi - lo, count)
    start, stop = math.floor(lo / step), math.ceil(hi / step)
    return [round(i * step, 12) for i in range(start, stop + 1)]


def log2_ticks(lo: float, hi: float) -> list[float]:
    a, b = math.floor(math.log2(lo)), math.ceil(math.log2(hi))
    if a == b:
        a, b = a - 1, b + 1
    return [2.0 ** e for e in range(a, b + 1)]


class _Scale:
    def __init__(self, values: list[float], axis: Axis, pixels: tuple[float, float]) -> None:
        self.log2 = axis.log2 and all(v > 0 for v in values)
        if self.log2:
            self.ticks = log2_ticks(min(values), max(values))
        else:
            lo = min([*values, 0.0] if axis.from_zero else values)
            self.ticks = linear_ticks(lo, max(values))
        self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.p0, self.p1 = pixels

    def __call__(self, v: float) -> float:
        f = math.log2 if self.log2 else (lambda x: x)
        t = (f(v) - f(self.lo)) / ((f(self.hi) - f(self.lo)) or 1.0)
        return self.p0 + t * (self.p1 - self.p0)


def _title(text: str, x: float, width: float) -> str:
    # About 7.6 px per character at 14px; a long title is cut rather than run off the chart.
    room = int((width - x - 8) / 7.6)
    shown = text if len(text) <= room else text[: max(room - 1, 1)] + "\u2026"
    return (f'<text x="{x}" y="20" font-size="14" font-weight="600" fill="{INK}">{escape(shown)}'
            f"<title>{escape(text)}</title></text>")


def _legend(series: list[Series], x0: float, y0: float, width: float) -> tuple[list[str], float]:
    out, x, y = [], x0, y0
    for s in series:
        w = 34 + 6.6 * len(s.name)
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 18
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        if s.line:
            out.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 22:.1f}" y2="{y:.1f}" stroke="{s.color}" '
                       f'stroke-width="2.5"{dash}/>')
        if s.marker:
            out.append(f'<circle class="key" cx="{x + 11:.1f}" cy="{y:.1f}" r="3.5" fill="{s.color}"/>')
        out.append(f'<text x="{x + 28:.1f}" y="{y + 4:.1f}" font-size="12" fill="{INK}">{escape(s.name)}</text>')
        x += w
    return out, y + 18 - y0


def xy_chart(title: str, series: list[Series], x: Axis, y: Axis, *, width: int = 580, height: int = 340,
             legend_extra: tuple[Series, ...] = ()) -> str:
    """A line or scatter chart; points whose value is NaN are left out.

    The legend lists each series once by name (series sharing a name share an
    entry), then `legend_extra`: entries that only explain a line style.
    """
    series = [Series(s.name, tuple(p for p in s.points if all(math.isfinite(c) for c in p)), s.color, s.dash,
                     s.line, s.marker, s.tips) for s in series]
    series = [s for s in series if s.points]
    if not series:
        return ""
    left, right, top = 70, 20, 34
    named: dict[str, Series] = {}
    for s in series:
        named.setdefault(s.name, s)
    keyed = [*named.values(), *legend_extra]
    _, legend_h = _legend(keyed, left, 0, width - left - right)
    bottom = 52 + legend_h
    plot_h = height - top - bottom
    xs = [p[0] for s in series for p in s.points]
    ys = [p[1] for s in series for p in s.points]
    sx = _Scale(xs, x, (left, width - right))
    sy = _Scale(ys, y, (top + plot_h, top))
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
             f"<title>{escape(title)}</title>",
             _title(title, left, width)]
    for t in sx.ticks:
        px = sx(t)
        parts.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}" stroke="{GRID}"/>')
        parts.append(f'<text x="{px:.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle" '
                     f'fill="{INK}">{fmt(t)}</text>')
    for t in sy.ticks:
        py = sy(t)
        parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{width - right}" y2="{py:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{left - 6}" y="{py + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="{INK}">{fmt(t)}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{plot_h}" fill="none" '
                 f'stroke="#999"/>')
    parts.append(f'<text class="axis-label" x="{(left + width - right) / 2:.1f}" y="{top + plot_h + 36}" '
                 f'font-size="12" text-anchor="middle" fill="{INK}">{escape(x.label)}</text>')
    cy = top + plot_h / 2
    parts.append(f'<text class="axis-label" x="16" y="{cy:.1f}" font-size="12" text-anchor="middle" '
                 f'transform="rotate(-90 16 {cy:.1f})" fill="{INK}">{escape(y.label)}</text>')
    for s in series:
        coords = [(sx(px), sy(py)) for px, py in s.points]
        if s.line and len(coords) > 1:
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="2.5"{dash}/>')
        if s.marker or len(coords) == 1:
            for i, (a, b) in enumerate(coords):
                px, py = s.points[i]
                tip = s.tips[i] if i < len(s.tips) else f"{s.name}: {fmt(px)}, {fmt(py)}"
                parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{s.color}" stroke="#fff">'
                             f"<title>{escape(tip)}</title></circle>")
    legend, _ = _legend(keyed, left, top + plot_h + 56, width - left - right)
    parts += legend
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(title: str, bars: list[tuple[str, float, str, str]], x: Axis, *, width: int = 580) -> str:
    """Horizontal bars (label, value, colour, tooltip), in the order given."""
    bars = [b for b in bars if math.isfinite(b[1])]
    if not bars:
        return ""
    left = min(240, 16 + int(6.4 * max(len(b[0]) for b in bars)))
    right, top, row = 56, 34, 22
    plot_h = row * len(bars)
    height = top + plot_h + 52
    sx = _Scale([b[1] for b in bars], x, (left, width - right))
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
             f"<title>{escape(title)}</title>",
             _title(title, 8, width)]
    for t in sx.ticks:
        px = sx(t)
        parts.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}" stroke="{GRID}"/>')
        parts.append(f'<text x="{px:.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle" '
                     f'fill="{INK}">{fmt(t)}</text>')
    for i, (label, value, color, tip) in enumerate(bars):
        y0 = top + i * row + 3
        x0 = sx(max(sx.lo, 0.0))
        parts.append(f'<text x="{left - 6}" y="{y0 + 13}" font-size="11" text-anchor="end" '
                     f'fill="{INK}">{escape(label)}</text>')
        parts.append(f'<rect x="{x0:.1f}" y="{y0}" width="{max(sx(value) - x0, 1):.1f}" height="{row - 6}" '
                     f'fill="{color}"><title>{escape(tip)}</title></rect>')
        parts.append(f'<text x="{sx(value) + 4:.1f}" y="{y0 + 13}" font-size="11" fill="{INK}">{fmt(value)}</text>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>')
    parts.append(f'<text class="axis-label" x="{(left + width - right) / 2:.1f}" y="{top + plot_h + 36}" '
                 f'font-size="12" text-anchor="middle" fill="{INK}">{escape(x.label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def stacked_bars(title: str, rows: list[tuple[str, list[tuple[str, float, str]]]], x: Axis,
                 *, width: int = 580) -> str:
    """One horizontal bar per row, split into segments (name, value, colour) laid end to end; a
    legend names the segments (the names of the first row, in order)."""
    rows = [(label, [s for s in segs if math.isfinite(s[1]) and s[1] > 0]) for label, segs in rows]
    rows = [r for r in rows if r[1]]
    if not rows:
        return ""
    left = min(240, 16 + int(6.4 * max(len(r[0]) for r in rows)))
    right, top, row = 56, 34, 24
    plot_h = row * len(rows)
    legend = [(name, color) for name, _, color in rows[0][1]]
    height = top + plot_h + 52 + 18 * math.ceil(len(legend) / 4)
    sx = _Scale([sum(v for _, v, _ in segs) for _, segs in rows], x, (left, width - right))
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
             f"<title>{escape(title)}</title>", _title(title, 8, width)]
    for t in sx.ticks:
        px = sx(t)
        parts.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}" stroke="{GRID}"/>')
        parts.append(f'<text x="{px:.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle" '
                     f'fill="{INK}">{fmt(t)}</text>')
    for i, (label, segs) in enumerate(rows):
        y0 = top + i * row + 3
        parts.append(f'<text x="{left - 6}" y="{y0 + 13}" font-size="11" text-anchor="end" '
                     f'fill="{INK}">{escape(label)}</text>')
        acc = 0.0
        for name, value, color in segs:
            x0, x1 = sx(acc), sx(acc + value)
            parts.append(f'<rect x="{x0:.1f}" y="{y0}" width="{max(x1 - x0, 0.5):.1f}" height="{row - 6}" '
                         f'fill="{color}"><title>{escape(f"{label}: {name} {fmt(value)}")}</title></rect>')
            acc += value
        parts.append(f'<text x="{sx(acc) + 4:.1f}" y="{y0 + 13}" font-size="11" fill="{INK}">{fmt(acc)}</text>')
    parts.append(f'<text class="axis-label" x="{(left + width - right) / 2:.1f}" y="{top + plot_h + 36}" '
                 f'font-size="12" text-anchor="middle" fill="{INK}">{escape(x.label)}</text>')
    for i, (name, color) in enumerate(legend):
        lx, ly = left + (i % 4) * 120, top + plot_h + 50 + 18 * (i // 4)
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly}" font-size="11" fill="{INK}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
