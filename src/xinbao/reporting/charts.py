"""Charts as inline SVG: a plotting rectangle with linear scales, bar and line series by
category, axes with round ticks, legends. System fonts only, no scripts (the report's
Content-Security-Policy forbids them); floats only for coordinates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Chart geometry in SVG user units; the viewBox scales it to the page width.
W = 900
H = 360
LEFT = 84
RIGHT = 24
TOP = 64
BOTTOM = 52
FONT_PX = 12
MIN_X_LABEL_GAP = 64

BLUE = "#2f6db5"
ORANGE = "#e08a3c"
RED = "#c0392b"
GREEN = "#2e9d6b"
SLATE = "#9fb1c8"
# Viridis, cut before its pale yellow end so that every line stays visible on white.
SEQUENTIAL = ("#440154", "#414487", "#2a788e", "#22a884", "#7ad151")

FONT_STACK = 'system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'



@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    kind: str  # "bar" or "line"
    values: tuple[float | None, ...]
    tips: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plot:
    """The plotting rectangle and linear scales from data to SVG coordinates."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    right_margin: int = RIGHT

    @property
    def left(self) -> float:
        return LEFT

    @property
    def top(self) -> float:
        return TOP

    @property
    def bottom(self) -> float:
        return H - BOTTOM

    @property
    def width(self) -> float:
        return W - self.right_margin - LEFT

    def x(self, value: float) -> float:
        span = (self.x_hi - self.x_lo) or 1.0
        return LEFT + (value - self.x_lo) / span * self.width

    def y(self, value: float) -> float:
        span = (self.y_hi - self.y_lo) or 1.0
        return self.bottom - (value - self.y_lo) / span * (self.bottom - TOP)


def category_chart(chart_id: str, title: str, categories: Sequence[str],
                    series: Sequence[Series], *, y_title: str, y_suffix: str,
                    reference: float | None = None) -> str:
    values = [v for s in series for v in s.values if v is not None]
    ticks = nice_ticks(min(values, default=0.0), max(values, default=0.0))
    plot = Plot(x_lo=0.0, x_hi=float(len(categories)), y_lo=ticks[0], y_hi=ticks[-1])
    band = plot.width / len(categories)
    out = svg_open(chart_id, title)
    out += y_axis(plot, ticks, y_suffix, y_title)
    step = month_step(math.ceil(MIN_X_LABEL_GAP / band))
    for i, name in enumerate(categories):
        if i % step == 0:
            x = plot.x(i + 0.5)
            out.append(f'<line class="tickmark" x1="{x:.1f}" y1="{plot.bottom}" x2="{x:.1f}" '
                       f'y2="{plot.bottom + 5}"/>')
            out.append(text(x, plot.bottom + 19, name, "tick", "middle"))
    if reference is not None and ticks[0] < reference < ticks[-1]:
        y = plot.y(reference)
        out.append(f'<line class="reference" x1="{plot.left}" y1="{y:.1f}" '
                   f'x2="{plot.left + plot.width}" y2="{y:.1f}"/>')
    bars = [s for s in series if s.kind == "bar"]
    slot = band * 0.8 / max(1, len(bars))
    zero = plot.y(0.0)
    for k, s in enumerate(bars):
        for i, (v, tip) in enumerate(zip(s.values, s.tips, strict=True)):
            if v is None:
                continue
            x = plot.x(i) + band * 0.1 + k * slot
            y = plot.y(v)
            top, height = min(y, zero), abs(zero - y)
            out.append(f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" '
                       f'width="{max(slot - 1, 1):.1f}" height="{height:.1f}" '
                       f'fill="{s.colour}"><title>{escape(tip)}</title></rect>')
    for s in series:
        if s.kind == "line":
            out += line(plot, s)
    out += legend([(s.name, s.colour, s.kind) for s in series])
    out.append("</svg>")
    return "\n".join(out)


def line(plot: Plot, s: Series) -> list[str]:
    """A polyline through the category centres, broken where a value is missing."""
    out: list[str] = []
    segment: list[str] = []
    points: list[str] = []
    radius = 3.2 if len(s.values) <= 36 else 2.2
    for i, (v, tip) in enumerate(zip(s.values, s.tips, strict=True)):
        if v is None:
            if segment:
                out.append(polyline(segment, s.colour))
            segment = []
            continue
        x, y = plot.x(i + 0.5), plot.y(v)
        segment.append(f"{x:.1f},{y:.1f}")
        points.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" '
                      f'fill="{s.colour}"><title>{escape(tip)}</title></circle>')
    if segment:
        out.append(polyline(segment, s.colour))
    return out + points


def polyline(points: Sequence[str], colour: str) -> str:
    return (f'<polyline fill="none" stroke="{colour}" stroke-width="2.2" '
            f'stroke-linejoin="round" points="{" ".join(points)}"/>')


def svg_open(chart_id: str, title: str) -> list[str]:
    return [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {W} {H}" role="img" '
        f'aria-labelledby="{chart_id}-title">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        text(16, 24, title, "chart-title", "start"),
    ]


def y_axis(plot: Plot, ticks: Sequence[float], suffix: str, title: str) -> list[str]:
    out = []
    for t in ticks:
        y = plot.y(t)
        css = "axis" if t == 0 else "grid"
        out.append(f'<line class="{css}" x1="{plot.left}" y1="{y:.1f}" '
                   f'x2="{plot.left + plot.width}" y2="{y:.1f}"/>')
        out.append(text(plot.left - 8, y + 4, fmt_tick(t, ticks) + suffix, "tick", "end"))
    out.append(f'<line class="axis" x1="{plot.left}" y1="{plot.top}" x2="{plot.left}" '
               f'y2="{plot.bottom}"/>')
    if ticks[0] != 0:
        out.append(f'<line class="axis" x1="{plot.left}" y1="{plot.bottom}" '
                   f'x2="{plot.left + plot.width}" y2="{plot.bottom}"/>')
    cy = (plot.top + plot.bottom) / 2
    out.append(f'<text class="axis-title" x="18" y="{cy:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 18 {cy:.1f})">{escape(title)}</text>')
    return out


def legend(items: Sequence[tuple[str, str, str]]) -> list[str]:
    """One row of swatches under the chart title; wraps to a second row when needed."""
    out = []
    x, y = float(LEFT), 46.0
    for name, colour, kind in items:
        width = 24 + text_width(name) + 18
        if x + width > W - RIGHT and x > LEFT:
            x, y = float(LEFT), y + 16
        if kind == "line":
            out.append(f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 16:.1f}" y2="{y - 4:.1f}" '
                       f'stroke="{colour}" stroke-width="2.5"/>')
        else:
            out.append(f'<rect class="swatch" x="{x + 2:.1f}" y="{y - 10:.1f}" '
                       f'width="12" height="12" fill="{colour}"/>')
        out.append(text(x + 22, y, name, "legend", "start"))
        x += width
    return out


def colour_bar_legend(plot: Plot, names: Sequence[str], colours: Sequence[str], *,
                      title: str = "Vintage") -> list[str]:
    """A discrete colour bar right of the plot, oldest vintage on top; every k-th one named;
    ``title`` above it."""
    x = plot.left + plot.width + 16
    top = plot.top + 18
    height = min(14.0, (plot.bottom - top) / len(names))
    every = max(1, math.ceil(15 / height))
    out = [text(x, plot.top + 4, title, "legend-title", "start")]
    last = len(names) - 1
    for i, (name, colour) in enumerate(zip(names, colours, strict=True)):
        y = top + i * height
        out.append(f'<rect class="swatch" x="{x:.1f}" y="{y:.1f}" width="14" '
                   f'height="{height + 0.3:.1f}" fill="{colour}">'
                   f"<title>{escape(name)}</title></rect>")
        # Anchored on the newest vintage so the latest cohort is always named.
        if (last - i) % every == 0:
            out.append(text(x + 20, y + height / 2 + 4, name, "legend", "start"))
    return out


def text(x: float, y: float, text: str, css: str, anchor: str) -> str:
    return (f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
            f"{escape(text)}</text>")


def text_width(text: str, size: float = FONT_PX) -> float:
    """Rough rendered width: CJK and other wide characters take a full em, Latin about 0.6."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def sequential(n: int) -> list[str]:
    """``n`` colours evenly spaced along the sequential scale, oldest first."""
    stops = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in SEQUENTIAL]
    colours = []
    for k in range(n):
        t = k / (n - 1) if n > 1 else 0.0
        pos = t * (len(stops) - 1)
        i = min(int(pos), len(stops) - 2)
        f = pos - i
        rgb = (round(a + (b - a) * f) for a, b in zip(stops[i], stops[i + 1], strict=True))
        colours.append("#" + "".join(f"{c:02x}" for c in rgb))
    return colours


def nice_ticks(lo: float, hi: float, *, target: int = 5) -> list[float]:
    """Round-number ticks (1, 2, 2.5 or 5 × 10ⁿ apart) covering ``lo..hi`` and zero."""
    lo, hi = min(lo, hi, 0.0), max(lo, hi, 0.0)
    if hi == lo:
        hi = lo + 1.0
    raw = (hi - lo) / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0)
                if m * magnitude >= raw * (1 - 1e-9))
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(k * step, 10) for k in range(first, last + 1)]


def month_step(at_least: int) -> int:
    """The smallest step of at least ``at_least`` months that falls on quarters and years."""
    for step in (1, 2, 3, 4, 6, 12):
        if step >= at_least:
            return step
    return 12 * math.ceil(at_least / 12)


def month_ticks(lo: int, hi: int, *, target: int = 5) -> list[float]:
    """Ticks for a months-on-book axis from zero: every 1, 2, 3, 4, 6 or 12k months."""
    hi = max(hi, lo, 1)
    step = month_step(math.ceil(hi / target))
    first = min(0, lo // step)
    return [float(k * step) for k in range(first, -(-hi // step) + 1)]


def fmt_tick(value: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    places = next((d for d in range(7) if abs(round(step, d) - step) < 1e-9 * max(step, 1)), 6)
    return f"{value:,.{places}f}"
