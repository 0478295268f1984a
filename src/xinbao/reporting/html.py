"""The portfolio report as one self-contained HTML file (``make demo`` → ``report.html``).

Input is what the ledger kernels produce: key figures already formatted, a monthly frame of
premium and claim amounts in integer fen, and a vintage frame of cumulative defaults by months
on book. Output is one HTML file that works offline: inline CSS, charts drawn here as inline
SVG, system fonts only, no scripts and no network references (a Content-Security-Policy meta
tag forbids them).

Money is formatted from integer fen with integer arithmetic (``format_yuan``); floats are used
only for chart coordinates. Ratios are exact Decimals, rounded ROUND_HALF_UP for display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from pathlib import Path

import polars as pl

from xinbao.kernel.money import format_yuan, ratio

MONTHLY_COLUMNS = (
    "month",
    "written_premium_fen",
    "earned_premium_fen",
    "claims_paid_fen",
    "recoveries_fen",
    "claims_incurred_fen",
)
VINTAGE_COLUMNS = ("vintage", "months_on_book", "policies", "defaults")

NO_DATA = "no data"

# Chart geometry in SVG user units; the viewBox scales it to the page width.
_W = 900
_H = 360
_LEFT = 84
_RIGHT = 24
_TOP = 64
_BOTTOM = 52
_FONT_PX = 12
_MIN_X_LABEL_GAP = 64

_BLUE = "#2f6db5"
_ORANGE = "#e08a3c"
_RED = "#c0392b"
_GREEN = "#2e9d6b"
_SLATE = "#9fb1c8"
# Viridis, cut before its pale yellow end so that every line stays visible on white.
_SEQUENTIAL = ("#440154", "#414487", "#2a788e", "#22a884", "#7ad151")

_FONT_STACK = 'system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif'


def write_report(path: Path, *, title: str, subtitle: str, kpis: list[tuple[str, str]],
                 monthly: pl.DataFrame, vintages: pl.DataFrame) -> None:
    """Render the report and write it to ``path`` (UTF-8), creating parent directories."""
    text = render_report(title=title, subtitle=subtitle, kpis=kpis, monthly=monthly,
                         vintages=vintages)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def render_report(*, title: str, subtitle: str, kpis: list[tuple[str, str]],
                  monthly: pl.DataFrame, vintages: pl.DataFrame) -> str:
    """The report as HTML text: key figures, four charts, the monthly table and a footer."""
    months = _monthly_rows(monthly)
    curves = _vintage_curves(vintages)
    sections = [
        _kpi_section(kpis),
        _section("Premium and claims", [
            _premium_chart(months),
            _claims_chart(months),
            _loss_ratio_chart(months),
        ]),
        _section("Vintage default curves", [_vintage_chart(curves)]),
        _section("Monthly figures (yuan)", [_monthly_table(months)]),
    ]
    return _PAGE.format(
        title=escape(title),
        subtitle=escape(subtitle),
        css=_CSS.replace("FONT_STACK", _FONT_STACK),
        body="\n".join(s for s in sections if s),
    )


# --- input ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Month:
    month: str
    written: int
    earned: int
    paid: int
    recovered: int
    incurred: int


@dataclass(frozen=True, slots=True)
class _Curve:
    vintage: str
    policies: int
    points: tuple[tuple[int, Decimal], ...]  # (months on book, default rate as a fraction)


def _require(frame: pl.DataFrame, columns: Sequence[str], integer: Sequence[str],
             name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns: {', '.join(missing)}")
    # Money and counts must arrive as integers: a float column has already lost fen.
    floats = [c for c in integer if not frame.schema[c].is_integer()]
    if floats:
        raise ValueError(f"{name} columns must be integers: {', '.join(floats)}")


def _monthly_rows(monthly: pl.DataFrame) -> list[_Month]:
    _require(monthly, MONTHLY_COLUMNS, MONTHLY_COLUMNS[1:], "monthly")
    # A month without ledger movements on a line carries no amount on it.
    rows = monthly.select(MONTHLY_COLUMNS).fill_null(0).sort("month").iter_rows()
    return [_Month(str(m), int(w), int(e), int(p), int(r), int(i)) for m, w, e, p, r, i in rows]


def _vintage_curves(vintages: pl.DataFrame) -> list[_Curve]:
    _require(vintages, VINTAGE_COLUMNS, VINTAGE_COLUMNS[1:], "vintages")
    frame = (vintages.select(VINTAGE_COLUMNS)
             .drop_nulls()
             .filter(pl.col("policies") > 0)
             .sort("vintage", "months_on_book"))
    curves: list[_Curve] = []
    for (vintage,), group in frame.group_by(["vintage"], maintain_order=True):
        policies = int(group["policies"].max())
        points = tuple(
            (int(mob), Decimal(int(d)) / Decimal(int(p)))
            for mob, p, d in group.select("months_on_book", "policies", "defaults").iter_rows()
        )
        curves.append(_Curve(str(vintage), policies, points))
    return curves


def _loss_ratios(months: Sequence[_Month]) -> tuple[list[Decimal | None], list[Decimal | None]]:
    """Monthly and cumulative claims incurred ÷ earned premium; None where nothing was earned."""
    monthly: list[Decimal | None] = []
    cumulative: list[Decimal | None] = []
    earned = incurred = 0
    for m in months:
        earned += m.earned
        incurred += m.incurred
        monthly.append(ratio(m.incurred, m.earned))
        cumulative.append(ratio(incurred, earned))
    return monthly, cumulative


def _percent(fraction: Decimal, places: int = 1) -> str:
    quantum = Decimal(1).scaleb(-places)
    return f"{(fraction * 100).quantize(quantum, rounding=ROUND_HALF_UP):,}%"


# --- page sections --------------------------------------------------------------------------


def _section(heading: str, parts: Iterable[str]) -> str:
    body = "\n".join(parts)
    return f'<section>\n<h2>{escape(heading)}</h2>\n{body}\n</section>'


def _kpi_section(kpis: Sequence[tuple[str, str]]) -> str:
    if not kpis:
        return ""
    items = "\n".join(
        f'<div class="kpi"><dt>{escape(label)}</dt><dd>{escape(value)}</dd></div>'
        for label, value in kpis
    )
    return f'<section aria-label="Key figures">\n<dl class="kpis">\n{items}\n</dl>\n</section>'


def _figure(svg: str) -> str:
    return f'<figure class="chart-box">\n{svg}\n</figure>'


def _no_data(title: str) -> str:
    return (f'<figure class="chart-box"><figcaption>{escape(title)}</figcaption>'
            f'<p class="no-data">{NO_DATA}</p></figure>')


def _monthly_table(months: Sequence[_Month]) -> str:
    if not months:
        return f'<p class="no-data">{NO_DATA}</p>'
    head = ("Month", "Written premium", "Earned premium", "Claims paid", "Recoveries",
            "Claims incurred", "Loss ratio")
    monthly_lr, _ = _loss_ratios(months)
    rows = []
    for m, lr in zip(months, monthly_lr, strict=True):
        cells = [format_yuan(v) for v in (m.written, m.earned, m.paid, m.recovered, m.incurred)]
        rows.append(_table_row(m.month, cells, "—" if lr is None else _percent(lr)))
    totals = [sum(getattr(m, f) for m in months)
              for f in ("written", "earned", "paid", "recovered", "incurred")]
    total_lr = ratio(totals[4], totals[1])
    foot = _table_row("Total", [format_yuan(v) for v in totals],
                      "—" if total_lr is None else _percent(total_lr))
    header = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    return ('<div class="table-wrap"><table class="figures">\n'
            f"<thead><tr>{header}</tr></thead>\n"
            "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n"
            f"<tfoot>{foot}</tfoot>\n</table></div>")


def _table_row(label: str, cells: Sequence[str], last: str) -> str:
    tds = "".join(f"<td>{escape(c)}</td>" for c in (*cells, last))
    return f'<tr><th scope="row">{escape(label)}</th>{tds}</tr>'


# --- charts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    colour: str
    kind: str  # "bar" or "line"
    values: tuple[float | None, ...]
    tips: tuple[str, ...]


def _premium_chart(months: Sequence[_Month]) -> str:
    title = "Monthly written and earned premium"
    if not months:
        return _no_data(title)
    return _money_chart("chart-premium", title, months, [
        ("Written premium", _BLUE, [m.written for m in months]),
        ("Earned premium", _ORANGE, [m.earned for m in months]),
    ])


def _claims_chart(months: Sequence[_Month]) -> str:
    title = "Monthly claims paid and recoveries"
    if not months:
        return _no_data(title)
    return _money_chart("chart-claims", title, months, [
        ("Claims paid", _RED, [m.paid for m in months]),
        ("Recoveries", _GREEN, [m.recovered for m in months]),
    ])


def _money_chart(chart_id: str, title: str, months: Sequence[_Month],
                 lines: Sequence[tuple[str, str, Sequence[int]]]) -> str:
    largest = max((abs(v) for _, _, vs in lines for v in vs), default=0)
    divisor, unit = _money_unit(largest)
    series = [
        _Series(name, colour, "bar",
                tuple(v / 100 / divisor for v in fen),
                tuple(f"{m.month} · {name}: {format_yuan(v)} yuan"
                      for m, v in zip(months, fen, strict=True)))
        for name, colour, fen in lines
    ]
    return _figure(_category_chart(chart_id, title, [m.month for m in months], series,
                                   y_title=unit, y_suffix=""))


def _money_unit(largest_fen: int) -> tuple[int, str]:
    yuan = largest_fen // 100
    for divisor, unit in ((10**9, "billion yuan"), (10**6, "million yuan"),
                          (10**3, "thousand yuan")):
        if yuan >= 10 * divisor:
            return divisor, unit
    return 1, "yuan"


def _loss_ratio_chart(months: Sequence[_Month]) -> str:
    title = "Loss ratio (claims incurred ÷ earned premium)"
    monthly, cumulative = _loss_ratios(months)
    if all(v is None for v in monthly + cumulative):
        return _no_data(title)
    names = [m.month for m in months]

    def series(name: str, colour: str, kind: str, values: list[Decimal | None]) -> _Series:
        return _Series(name, colour, kind,
                       tuple(None if v is None else float(v * 100) for v in values),
                       tuple("" if v is None else f"{month} · {name}: {_percent(v)}"
                             for month, v in zip(names, values, strict=True)))

    return _figure(_category_chart(
        "chart-loss-ratio", title, names,
        [series("Monthly loss ratio", _SLATE, "bar", monthly),
         series("Cumulative loss ratio", _RED, "line", cumulative)],
        y_title="percent", y_suffix="%", reference=100.0,
    ))


def _vintage_chart(curves: Sequence[_Curve]) -> str:
    title = "Cumulative default rate by vintage"
    if not curves:
        return _no_data(title)
    compact = len(curves) > 6
    right = 110 if compact else _RIGHT
    mobs = [mob for c in curves for mob, _ in c.points]
    rates = [float(r * 100) for c in curves for _, r in c.points]
    x_ticks = _month_ticks(min(mobs), max(mobs))
    y_ticks = _nice_ticks(0.0, max(rates))
    plot = _Plot(right_margin=right, x_lo=x_ticks[0], x_hi=x_ticks[-1],
                 y_lo=y_ticks[0], y_hi=y_ticks[-1])
    colours = _sequential(len(curves))
    out = _svg_open("chart-vintages", title)
    out += _y_axis(plot, y_ticks, "%", "cumulative default rate, percent")
    for t in x_ticks:
        x = plot.x(t)
        out.append(f'<line class="tickmark" x1="{x:.1f}" y1="{plot.bottom}" x2="{x:.1f}" '
                   f'y2="{plot.bottom + 5}"/>')
        out.append(_text(x, plot.bottom + 19, _fmt_tick(t, x_ticks), "tick", "middle"))
    out.append(_text(plot.left + plot.width / 2, _H - 8, "months on book", "axis-title",
                     "middle"))
    for curve, colour in zip(curves, colours, strict=True):
        pts = " ".join(f"{plot.x(mob):.1f},{plot.y(float(r * 100)):.1f}"
                       for mob, r in curve.points)
        last_mob, last_rate = curve.points[-1]
        tip = (f"Vintage {curve.vintage} ({curve.policies:,} policies): "
               f"{_percent(last_rate, 2)} at {last_mob} months on book")
        out.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="1.8" '
                   f'stroke-linejoin="round" points="{pts}"><title>{escape(tip)}</title>'
                   "</polyline>")
        if len(curve.points) == 1:
            x, y = plot.x(last_mob), plot.y(float(last_rate * 100))
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                       f"<title>{escape(tip)}</title></circle>")
    names = [c.vintage for c in curves]
    if compact:
        out += _colour_bar_legend(plot, names, colours)
    else:
        out += _legend([(n, c, "line") for n, c in zip(names, colours, strict=True)])
    out.append("</svg>")
    return _figure("\n".join(out))


@dataclass(frozen=True, slots=True)
class _Plot:
    """The plotting rectangle and linear scales from data to SVG coordinates."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    right_margin: int = _RIGHT

    @property
    def left(self) -> float:
        return _LEFT

    @property
    def top(self) -> float:
        return _TOP

    @property
    def bottom(self) -> float:
        return _H - _BOTTOM

    @property
    def width(self) -> float:
        return _W - self.right_margin - _LEFT

    def x(self, value: float) -> float:
        span = (self.x_hi - self.x_lo) or 1.0
        return _LEFT + (value - self.x_lo) / span * self.width

    def y(self, value: float) -> float:
        span = (self.y_hi - self.y_lo) or 1.0
        return self.bottom - (value - self.y_lo) / span * (self.bottom - _TOP)


def _category_chart(chart_id: str, title: str, categories: Sequence[str],
                    series: Sequence[_Series], *, y_title: str, y_suffix: str,
                    reference: float | None = None) -> str:
    values = [v for s in series for v in s.values if v is not None]
    ticks = _nice_ticks(min(values, default=0.0), max(values, default=0.0))
    plot = _Plot(x_lo=0.0, x_hi=float(len(categories)), y_lo=ticks[0], y_hi=ticks[-1])
    band = plot.width / len(categories)
    out = _svg_open(chart_id, title)
    out += _y_axis(plot, ticks, y_suffix, y_title)
    step = _month_step(math.ceil(_MIN_X_LABEL_GAP / band))
    for i, name in enumerate(categories):
        if i % step == 0:
            x = plot.x(i + 0.5)
            out.append(f'<line class="tickmark" x1="{x:.1f}" y1="{plot.bottom}" x2="{x:.1f}" '
                       f'y2="{plot.bottom + 5}"/>')
            out.append(_text(x, plot.bottom + 19, name, "tick", "middle"))
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
            out += _line(plot, s)
    out += _legend([(s.name, s.colour, s.kind) for s in series])
    out.append("</svg>")
    return "\n".join(out)


def _line(plot: _Plot, s: _Series) -> list[str]:
    """A polyline through the category centres, broken where a value is missing."""
    out: list[str] = []
    segment: list[str] = []
    points: list[str] = []
    radius = 3.2 if len(s.values) <= 36 else 2.2
    for i, (v, tip) in enumerate(zip(s.values, s.tips, strict=True)):
        if v is None:
            if segment:
                out.append(_polyline(segment, s.colour))
            segment = []
            continue
        x, y = plot.x(i + 0.5), plot.y(v)
        segment.append(f"{x:.1f},{y:.1f}")
        points.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="{radius}" '
                      f'fill="{s.colour}"><title>{escape(tip)}</title></circle>')
    if segment:
        out.append(_polyline(segment, s.colour))
    return out + points


def _polyline(points: Sequence[str], colour: str) -> str:
    return (f'<polyline fill="none" stroke="{colour}" stroke-width="2.2" '
            f'stroke-linejoin="round" points="{" ".join(points)}"/>')


def _svg_open(chart_id: str, title: str) -> list[str]:
    return [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-labelledby="{chart_id}-title">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        _text(16, 24, title, "chart-title", "start"),
    ]


def _y_axis(plot: _Plot, ticks: Sequence[float], suffix: str, title: str) -> list[str]:
    out = []
    for t in ticks:
        y = plot.y(t)
        css = "axis" if t == 0 else "grid"
        out.append(f'<line class="{css}" x1="{plot.left}" y1="{y:.1f}" '
                   f'x2="{plot.left + plot.width}" y2="{y:.1f}"/>')
        out.append(_text(plot.left - 8, y + 4, _fmt_tick(t, ticks) + suffix, "tick", "end"))
    out.append(f'<line class="axis" x1="{plot.left}" y1="{plot.top}" x2="{plot.left}" '
               f'y2="{plot.bottom}"/>')
    if ticks[0] != 0:
        out.append(f'<line class="axis" x1="{plot.left}" y1="{plot.bottom}" '
                   f'x2="{plot.left + plot.width}" y2="{plot.bottom}"/>')
    cy = (plot.top + plot.bottom) / 2
    out.append(f'<text class="axis-title" x="18" y="{cy:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 18 {cy:.1f})">{escape(title)}</text>')
    return out


def _legend(items: Sequence[tuple[str, str, str]]) -> list[str]:
    """One row of swatches under the chart title; wraps to a second row when needed."""
    out = []
    x, y = float(_LEFT), 46.0
    for name, colour, kind in items:
        width = 24 + _text_width(name) + 18
        if x + width > _W - _RIGHT and x > _LEFT:
            x, y = float(_LEFT), y + 16
        if kind == "line":
            out.append(f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 16:.1f}" y2="{y - 4:.1f}" '
                       f'stroke="{colour}" stroke-width="2.5"/>')
        else:
            out.append(f'<rect class="swatch" x="{x + 2:.1f}" y="{y - 10:.1f}" '
                       f'width="12" height="12" fill="{colour}"/>')
        out.append(_text(x + 22, y, name, "legend", "start"))
        x += width
    return out


def _colour_bar_legend(plot: _Plot, names: Sequence[str], colours: Sequence[str]) -> list[str]:
    """A discrete colour bar right of the plot, oldest vintage on top; every k-th one named."""
    x = plot.left + plot.width + 16
    top = plot.top + 18
    height = min(14.0, (plot.bottom - top) / len(names))
    every = max(1, math.ceil(15 / height))
    out = [_text(x, plot.top + 4, "Vintage", "legend-title", "start")]
    last = len(names) - 1
    for i, (name, colour) in enumerate(zip(names, colours, strict=True)):
        y = top + i * height
        out.append(f'<rect class="swatch" x="{x:.1f}" y="{y:.1f}" width="14" '
                   f'height="{height + 0.3:.1f}" fill="{colour}">'
                   f"<title>{escape(name)}</title></rect>")
        # Anchored on the newest vintage so the latest cohort is always named.
        if (last - i) % every == 0:
            out.append(_text(x + 20, y + height / 2 + 4, name, "legend", "start"))
    return out


def _text(x: float, y: float, text: str, css: str, anchor: str) -> str:
    return (f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
            f"{escape(text)}</text>")


def _text_width(text: str, size: float = _FONT_PX) -> float:
    """Rough rendered width: CJK and other wide characters take a full em, Latin about 0.6."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def _sequential(n: int) -> list[str]:
    """``n`` colours evenly spaced along the sequential scale, oldest first."""
    stops = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in _SEQUENTIAL]
    colours = []
    for k in range(n):
        t = k / (n - 1) if n > 1 else 0.0
        pos = t * (len(stops) - 1)
        i = min(int(pos), len(stops) - 2)
        f = pos - i
        rgb = (round(a + (b - a) * f) for a, b in zip(stops[i], stops[i + 1], strict=True))
        colours.append("#" + "".join(f"{c:02x}" for c in rgb))
    return colours


def _nice_ticks(lo: float, hi: float, *, target: int = 5) -> list[float]:
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


def _month_step(at_least: int) -> int:
    """The smallest step of at least ``at_least`` months that falls on quarters and years."""
    for step in (1, 2, 3, 4, 6, 12):
        if step >= at_least:
            return step
    return 12 * math.ceil(at_least / 12)


def _month_ticks(lo: int, hi: int, *, target: int = 5) -> list[float]:
    """Ticks for a months-on-book axis from zero: every 1, 2, 3, 4, 6 or 12k months."""
    hi = max(hi, lo, 1)
    step = _month_step(math.ceil(hi / target))
    first = min(0, lo // step)
    return [float(k * step) for k in range(first, -(-hi // step) + 1)]


def _fmt_tick(value: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    places = next((d for d in range(7) if abs(round(step, d) - step) < 1e-9 * max(step, 1)), 6)
    return f"{value:,.{places}f}"


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" \
content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<main>
<header>
<h1>{title}</h1>
<p class="subtitle">{subtitle}</p>
</header>
{body}
<footer>All amounts are in yuan (元), derived from the ledger (integer fen, shown without \
rounding). Loss ratio = claims incurred ÷ earned premium; months with no earned premium have \
no monthly ratio.</footer>
</main>
</body>
</html>
"""

_CSS = """:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f6f9; color: #1f2933;
  font: 15px/1.5 FONT_STACK; }
main { max-width: 1000px; margin: 0 auto; padding: 32px 24px 48px; }
header { border-bottom: 3px solid #2f6db5; margin-bottom: 24px; padding-bottom: 12px; }
h1 { margin: 0; font-size: 26px; font-weight: 650; letter-spacing: 0.01em; }
.subtitle { margin: 4px 0 0; color: #52606d; }
h2 { font-size: 18px; font-weight: 600; margin: 32px 0 12px; color: #243b53; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
  gap: 12px; margin: 0; }
.kpi { background: #fff; border: 1px solid #e1e6ec; border-left: 4px solid #2f6db5;
  border-radius: 6px; padding: 12px 14px; }
.kpi dt { color: #52606d; font-size: 13px; }
.kpi dd { margin: 2px 0 0; font-size: 21px; font-weight: 650;
  font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.chart-box { margin: 0 0 16px; background: #fff; border: 1px solid #e1e6ec;
  border-radius: 6px; padding: 8px; break-inside: avoid; }
.chart-box figcaption { font-weight: 600; padding: 8px 8px 0; }
.chart { display: block; width: 100%; height: auto; }
.chart text { fill: #3e4c59; font-size: 12px; }
.chart .chart-title { fill: #1f2933; font-size: 16px; font-weight: 600; }
.chart .axis-title { fill: #616e7c; font-size: 12px; }
.chart .legend-title { fill: #1f2933; font-weight: 600; }
.chart .grid { stroke: #e4e7eb; stroke-width: 1; }
.chart .axis, .chart .tickmark { stroke: #9aa5b1; stroke-width: 1; }
.chart .reference { stroke: #7b8794; stroke-width: 1; stroke-dasharray: 5 4; }
.chart .bar:hover, .chart .point:hover { opacity: 0.75; }
.chart polyline:hover { stroke-width: 3.5; }
.no-data { margin: 0; padding: 40px; text-align: center; color: #7b8794; font-style: italic; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid #e1e6ec;
  border-radius: 6px; }
table.figures { border-collapse: collapse; width: 100%; font-size: 13px;
  font-variant-numeric: tabular-nums; }
.figures th, .figures td { padding: 6px 10px; text-align: right; white-space: nowrap;
  border-bottom: 1px solid #edf0f3; }
.figures thead th { background: #f0f4f8; color: #334e68; font-weight: 600;
  position: sticky; top: 0; }
.figures th:first-child { text-align: left; }
.figures tbody th { font-weight: 500; }
.figures tbody tr:nth-child(even) { background: #fafbfc; }
.figures tfoot th, .figures tfoot td { font-weight: 650; border-top: 2px solid #bcccdc;
  border-bottom: none; }
footer { margin-top: 28px; color: #616e7c; font-size: 13px; border-top: 1px solid #d9e2ec;
  padding-top: 12px; }
@media print { body { background: #fff; } .chart-box, .kpi { border-color: #ccc; } }"""
