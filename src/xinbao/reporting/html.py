"""The portfolio report as one self-contained HTML file (``make demo`` → ``report.html``).

Input is what the ledger kernels produce: key figures already formatted, a monthly frame of
premium and claim amounts in integer fen, and a vintage frame of cumulative defaults by months
on book. Output is one HTML file that works offline: inline CSS, charts drawn here as inline
SVG, system fonts only, no scripts and no network references (a Content-Security-Policy meta
tag forbids them).

Money is formatted from integer fen with integer arithmetic (``format_yuan``); floats are used
only for chart coordinates. Ratios are exact Decimals, rounded ROUND_HALF_UP for display.

The charts alone (``chart_figures``) are also drawn by the web console's dashboard, in the
reader's language: every chart text passes through a ``gettext`` function, English (the
identity) by default, so the report itself stays English.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from pathlib import Path
from typing import cast

import polars as pl

from xinbao.kernel.money import format_yuan, ratio
from xinbao.reporting import charts

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

#: Translates one English message (a msgid) into the reader's language.
Gettext = Callable[[str], str]


def english(message: str) -> str:
    """The default ``Gettext``: the English message itself."""
    return message


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
            _premium_chart(months, english),
            _claims_chart(months, english),
            _loss_ratio_chart(months, english),
        ]),
        _section("Vintage default curves", [_vintage_chart(curves, english)]),
        _section("Monthly figures (yuan)", [_monthly_table(months)]),
    ]
    return _PAGE.format(
        title=escape(title),
        subtitle=escape(subtitle),
        css=_CSS.replace("FONT_STACK", charts.FONT_STACK),
        body="\n".join(s for s in sections if s),
    )


def chart_figures(*, monthly: pl.DataFrame, vintages: pl.DataFrame,
                  gettext: Gettext = english) -> list[str]:
    """The report's four charts as ``<figure>`` elements of inline SVG, in the order premium,
    claims, loss ratio, vintages; every title, axis, legend and hover text through
    ``gettext``. Same inputs and checks as ``render_report``."""
    months = _monthly_rows(monthly)
    return [_premium_chart(months, gettext), _claims_chart(months, gettext),
            _loss_ratio_chart(months, gettext),
            _vintage_chart(_vintage_curves(vintages), gettext)]


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
        # polars types a column's max as any Python literal or None; here it is a count.
        policies = int(cast(int, group["policies"].max()))
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


def _no_data(title: str, _: Gettext) -> str:
    return (f'<figure class="chart-box"><figcaption>{escape(title)}</figcaption>'
            f'<p class="no-data">{escape(_(NO_DATA))}</p></figure>')


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


def _premium_chart(months: Sequence[_Month], _: Gettext) -> str:
    title = _("Monthly written and earned premium")
    if not months:
        return _no_data(title, _)
    return _money_chart("chart-premium", title, months, [
        (_("Written premium"), charts.BLUE, [m.written for m in months]),
        (_("Earned premium"), charts.ORANGE, [m.earned for m in months]),
    ], _)


def _claims_chart(months: Sequence[_Month], _: Gettext) -> str:
    title = _("Monthly claims paid and recoveries")
    if not months:
        return _no_data(title, _)
    return _money_chart("chart-claims", title, months, [
        (_("Claims paid"), charts.RED, [m.paid for m in months]),
        (_("Recoveries"), charts.GREEN, [m.recovered for m in months]),
    ], _)


def _money_chart(chart_id: str, title: str, months: Sequence[_Month],
                 lines: Sequence[tuple[str, str, Sequence[int]]], _: Gettext) -> str:
    largest = max((abs(v) for _n, _c, vs in lines for v in vs), default=0)
    divisor, unit = _money_unit(largest)
    tip = _("%(month)s · %(series)s: %(amount)s yuan")
    series = [
        charts.Series(name, colour, "bar",
                tuple(v / 100 / divisor for v in fen),
                tuple(tip % {"month": m.month, "series": name, "amount": format_yuan(v)}
                      for m, v in zip(months, fen, strict=True)))
        for name, colour, fen in lines
    ]
    return _figure(charts.category_chart(chart_id, title, [m.month for m in months], series,
                                   y_title=_(unit), y_suffix=""))


def _money_unit(largest_fen: int) -> tuple[int, str]:
    yuan = largest_fen // 100
    for divisor, unit in ((10**9, "billion yuan"), (10**6, "million yuan"),
                          (10**3, "thousand yuan")):
        if yuan >= 10 * divisor:
            return divisor, unit
    return 1, "yuan"


def _loss_ratio_chart(months: Sequence[_Month], _: Gettext) -> str:
    title = _("Loss ratio (claims incurred ÷ earned premium)")
    monthly, cumulative = _loss_ratios(months)
    if all(v is None for v in monthly + cumulative):
        return _no_data(title, _)
    names = [m.month for m in months]

    def series(name: str, colour: str, kind: str, values: list[Decimal | None]) -> charts.Series:
        return charts.Series(name, colour, kind,
                       tuple(None if v is None else float(v * 100) for v in values),
                       tuple("" if v is None else f"{month} · {name}: {_percent(v)}"
                             for month, v in zip(names, values, strict=True)))

    return _figure(charts.category_chart(
        "chart-loss-ratio", title, names,
        [series(_("Monthly loss ratio"), charts.SLATE, "bar", monthly),
         series(_("Cumulative loss ratio"), charts.RED, "line", cumulative)],
        y_title=_("percent"), y_suffix="%", reference=100.0,
    ))


def _vintage_chart(curves: Sequence[_Curve], _: Gettext) -> str:
    title = _("Cumulative default rate by vintage")
    if not curves:
        return _no_data(title, _)
    compact = len(curves) > 6
    right = 110 if compact else charts.RIGHT
    mobs = [mob for c in curves for mob, _ in c.points]
    rates = [float(r * 100) for c in curves for _, r in c.points]
    x_ticks = charts.month_ticks(min(mobs), max(mobs))
    y_ticks = charts.nice_ticks(0.0, max(rates))
    plot = charts.Plot(right_margin=right, x_lo=x_ticks[0], x_hi=x_ticks[-1],
                 y_lo=y_ticks[0], y_hi=y_ticks[-1])
    colours = charts.sequential(len(curves))
    out = charts.svg_open("chart-vintages", title)
    out += charts.y_axis(plot, y_ticks, "%", _("cumulative default rate, percent"))
    for t in x_ticks:
        x = plot.x(t)
        out.append(f'<line class="tickmark" x1="{x:.1f}" y1="{plot.bottom}" x2="{x:.1f}" '
                   f'y2="{plot.bottom + 5}"/>')
        out.append(charts.text(x, plot.bottom + 19, charts.fmt_tick(t, x_ticks), "tick", "middle"))
    out.append(charts.text(plot.left + plot.width / 2, charts.H - 8, _("months on book"),
                           "axis-title", "middle"))
    tip = _("Vintage %(vintage)s (%(policies)s policies): %(rate)s at %(months)s months on book")
    for curve, colour in zip(curves, colours, strict=True):
        pts = " ".join(f"{plot.x(mob):.1f},{plot.y(float(r * 100)):.1f}"
                       for mob, r in curve.points)
        last_mob, last_rate = curve.points[-1]
        said = escape(tip % {"vintage": curve.vintage, "policies": f"{curve.policies:,}",
                             "rate": _percent(last_rate, 2), "months": last_mob})
        out.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="1.8" '
                   f'stroke-linejoin="round" points="{pts}"><title>{said}</title>'
                   "</polyline>")
        if len(curve.points) == 1:
            x, y = plot.x(last_mob), plot.y(float(last_rate * 100))
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                       f"<title>{said}</title></circle>")
    names = [c.vintage for c in curves]
    if compact:
        out += charts.colour_bar_legend(plot, names, colours, title=_("Vintage"))
    else:
        out += charts.legend([(n, c, "line") for n, c in zip(names, colours, strict=True)])
    out.append("</svg>")
    return _figure("\n".join(out))


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
