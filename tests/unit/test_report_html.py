"""The offline HTML portfolio report: self-contained, exact money, charts that parse."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest

from xinbao.reporting.html import chart_figures, render_report, write_report

MONTHLY_SCHEMA = {
    "month": pl.String,
    "written_premium_fen": pl.Int64,
    "earned_premium_fen": pl.Int64,
    "claims_paid_fen": pl.Int64,
    "recoveries_fen": pl.Int64,
    "claims_incurred_fen": pl.Int64,
}
VINTAGE_SCHEMA = {
    "vintage": pl.String,
    "months_on_book": pl.Int64,
    "policies": pl.Int64,
    "defaults": pl.Int64,
}
KPIS = [("Policies in force", "1,234"), ("Loss ratio <cumulative>", "48.2% & rising"),
        ("赔付率", "45.0%")]


def monthly(rows: list[tuple[str, int, int, int, int, int]] | None = None) -> pl.DataFrame:
    if rows is None:
        rows = [
            (f"2024-{m:02d}", 1_000_000 + 10_000 * m, 80_000 * m, 30_000 * m, 3_000 * m,
             35_000 * m)
            for m in range(1, 13)
        ]
    return pl.DataFrame(rows, schema=MONTHLY_SCHEMA, orient="row")


def vintages(count: int = 3, horizon: int = 6) -> pl.DataFrame:
    rows = [
        (f"{2023 + v // 12}-{v % 12 + 1:02d}", mob, 1_000, 5 * mob + v)
        for v in range(count)
        for mob in range(1, horizon + 1)
    ]
    return pl.DataFrame(rows, schema=VINTAGE_SCHEMA, orient="row")


def render(**changes: object) -> str:
    args: dict[str, object] = {
        "title": "Portfolio report", "subtitle": "Scripted book", "kpis": KPIS,
        "monthly": monthly(), "vintages": vintages(),
    }
    args.update(changes)
    return render_report(**args)  # type: ignore[arg-type]


def svg_blocks(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)


def chart(html: str, chart_id: str) -> ET.Element:
    (block,) = [b for b in svg_blocks(html) if f'id="{chart_id}"' in b]
    return ET.fromstring(block)


def tooltips(svg: ET.Element, tag: str) -> list[str]:
    """The hover texts of the data marks (legend swatches have none)."""
    return [el.findtext("title") or "" for el in svg.iter(tag) if el.get("class") != "swatch"]


def table_row(html: str, label: str) -> list[str]:
    match = re.search(rf"<tr><th scope=\"row\">{re.escape(label)}</th>(.*?)</tr>", html)
    assert match, f"no table row {label}"
    return re.findall(r"<td>(.*?)</td>", match.group(1))


# --- self-contained -------------------------------------------------------------------------


def test_report_has_no_network_references_and_no_external_scripts() -> None:
    html = render(vintages=vintages(24, 24))

    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html
    assert "<link" not in html
    assert "@import" not in html and "url(" not in html


def test_report_draws_one_svg_per_chart() -> None:
    html = render()

    assert html.count("<svg") == 4
    for chart_id in ("chart-premium", "chart-claims", "chart-loss-ratio", "chart-vintages"):
        assert html.count(f'id="{chart_id}"') == 1


def test_every_svg_block_is_well_formed_xml() -> None:
    html = render(title="组合报告 <Q4> & more", monthly=monthly(), vintages=vintages(24, 24))

    blocks = svg_blocks(html)
    assert len(blocks) == 4
    for block in blocks:
        root = ET.fromstring(block)
        assert root.tag == "svg"
        assert root.get("viewBox")


def test_svgs_scale_with_the_page_through_their_viewbox() -> None:
    for block in svg_blocks(render()):
        root = ET.fromstring(block)
        assert root.get("viewBox") == "0 0 900 360"
        assert root.get("width") is None and root.get("height") is None


# --- text and key figures -------------------------------------------------------------------


def test_every_kpi_label_and_value_appears_escaped_and_in_order() -> None:
    html = render()

    positions = []
    for label, value in KPIS:
        cell = ("<dt>" + label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                + "</dt><dd>"
                + value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                + "</dd>")
        assert cell in html
        positions.append(html.index(cell))
    assert positions == sorted(positions)
    assert "<cumulative>" not in html


def test_title_and_subtitle_are_escaped() -> None:
    html = render(title="融资性信用保证保险 <b>", subtitle='"Q4" & \'more\'')

    assert "<title>融资性信用保证保险 &lt;b&gt;</title>" in html
    assert "<h1>融资性信用保证保险 &lt;b&gt;</h1>" in html
    assert "&quot;Q4&quot; &amp; &#x27;more&#x27;" in html


def test_page_uses_the_system_font_stack_with_chinese_fallbacks() -> None:
    html = render()

    assert 'font: 15px/1.5 system-ui, "Noto Sans CJK SC", "PingFang SC"' in html
    assert "@font-face" not in html


def test_footer_says_figures_are_yuan_from_the_ledger() -> None:
    footer = re.search(r"<footer>(.*?)</footer>", render(), flags=re.DOTALL)

    assert footer is not None
    assert "yuan" in footer.group(1)
    assert "ledger" in footer.group(1)


# --- money ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (123456, "1,234.56"),
        (0, "0.00"),
        (5, "0.05"),
        (-5, "-0.05"),
        (-123456, "-1,234.56"),
        (2**53 + 1, "90,071,992,547,409.93"),
        (-(2**53) - 1, "-90,071,992,547,409.93"),
        (2**62 + 7, "46,116,860,184,273,879.11"),
    ],
)
def test_monthly_table_shows_fen_as_exact_yuan(fen: int, shown: str) -> None:
    html = render(monthly=monthly([("2024-01", fen, 100, fen, 0, 0)]))

    cells = table_row(html, "2024-01")
    assert cells[0] == shown  # written premium
    assert cells[2] == shown  # claims paid


def test_table_total_sums_fen_exactly_beyond_float_precision() -> None:
    big = 2**53 + 1
    html = render(monthly=monthly([("2024-01", big, 0, 0, 0, 0), ("2024-02", 2, 0, 0, 0, 0)]))

    assert table_row(html, "Total")[0] == "90,071,992,547,409.95"


def test_money_column_of_floats_is_refused() -> None:
    frame = monthly().with_columns(pl.col("earned_premium_fen").cast(pl.Float64))

    with pytest.raises(ValueError, match="earned_premium_fen"):
        render(monthly=frame)


def test_missing_monthly_column_is_refused() -> None:
    with pytest.raises(ValueError, match="recoveries_fen"):
        render(monthly=monthly().drop("recoveries_fen"))


def test_money_charts_state_their_unit_and_exact_amounts_on_hover() -> None:
    html = render(monthly=monthly([("2024-01", 123_456_789_00, 98_765_43, 0, 0, 0)]))
    premium = chart(html, "chart-premium")

    assert "million yuan" in "".join(premium.itertext())
    assert tooltips(premium, "rect") == [
        "2024-01 · Written premium: 123,456,789.00 yuan",
        "2024-01 · Earned premium: 98,765.43 yuan",
    ]


# --- loss ratio -----------------------------------------------------------------------------


def test_loss_ratio_points_skip_months_without_earned_premium() -> None:
    rows = [
        ("2024-01", 500_00, 0, 0, 0, 10_00),  # nothing earned yet: no monthly ratio
        ("2024-02", 500_00, 200_00, 0, 0, 100_00),
        ("2024-03", 0, 0, 0, 0, 0),  # a quiet month: nothing earned, nothing incurred
        ("2024-04", 500_00, 300_00, 0, 0, 60_00),
    ]
    svg = chart(render(monthly=monthly(rows)), "chart-loss-ratio")

    bars = tooltips(svg, "rect")
    assert bars == ["2024-02 · Monthly loss ratio: 50.0%", "2024-04 · Monthly loss ratio: 20.0%"]


def test_cumulative_loss_ratio_divides_running_totals() -> None:
    rows = [
        ("2024-01", 500_00, 0, 0, 0, 10_00),
        ("2024-02", 500_00, 200_00, 0, 0, 100_00),
        ("2024-03", 0, 0, 0, 0, 0),
        ("2024-04", 500_00, 300_00, 0, 0, 60_00),
    ]
    svg = chart(render(monthly=monthly(rows)), "chart-loss-ratio")

    # (10 + 100) / 200 = 55%, unchanged in March, then (110 + 60) / 500 = 34%.
    assert tooltips(svg, "circle") == [
        "2024-02 · Cumulative loss ratio: 55.0%",
        "2024-03 · Cumulative loss ratio: 55.0%",
        "2024-04 · Cumulative loss ratio: 34.0%",
    ]


def test_loss_ratio_table_cell_is_a_dash_when_nothing_was_earned() -> None:
    html = render(monthly=monthly([("2024-01", 500_00, 0, 0, 0, 10_00),
                                   ("2024-02", 500_00, 300_00, 0, 0, -30_00)]))

    assert table_row(html, "2024-01")[-1] == "—"
    assert table_row(html, "2024-02")[-1] == "-10.0%"


def test_months_are_drawn_in_calendar_order_whatever_the_frame_order() -> None:
    rows = [("2024-03", 0, 100, 0, 0, 30), ("2024-01", 0, 100, 0, 0, 10),
            ("2024-02", 0, 100, 0, 0, 20)]
    svg = chart(render(monthly=monthly(rows)), "chart-loss-ratio")

    assert [t[:7] for t in tooltips(svg, "rect")] == ["2024-01", "2024-02", "2024-03"]


# --- vintages -------------------------------------------------------------------------------


def test_vintage_curves_plot_defaults_over_policies_one_line_per_vintage() -> None:
    frame = pl.DataFrame([("2024-01", 1, 400, 2), ("2024-01", 2, 400, 6),
                          ("2024-02", 1, 800, 1)], schema=VINTAGE_SCHEMA, orient="row")
    svg = chart(render(vintages=frame), "chart-vintages")

    lines = tooltips(svg, "polyline")
    assert lines == [
        "Vintage 2024-01 (400 policies): 1.50% at 2 months on book",
        "Vintage 2024-02 (800 policies): 0.13% at 1 months on book",
    ]


def test_many_vintages_get_a_sequential_colour_bar_with_every_few_labelled() -> None:
    svg = chart(render(vintages=vintages(24, 24)), "chart-vintages")

    strokes = [el.get("stroke") for el in svg.iter("polyline")]
    assert len(strokes) == 24
    assert len(set(strokes)) == 24
    texts = {t.text for t in svg.iter("text")}
    labelled = [v for v in (f"{2023 + i // 12}-{i % 12 + 1:02d}" for i in range(24))
                if v in texts]
    assert "2024-12" in labelled  # the newest vintage is always named
    assert 3 <= len(labelled) <= 12


def test_months_on_book_axis_is_ticked_in_quarters_or_years() -> None:
    svg = chart(render(vintages=vintages(2, 24)), "chart-vintages")

    texts = [t.text for t in svg.iter("text")]
    assert texts[texts.index("0"):texts.index("24") + 1] == ["0", "6", "12", "18", "24"]


def test_vintages_without_policies_are_left_out() -> None:
    frame = pl.DataFrame([("2024-01", 1, 0, 0), ("2024-02", 1, 100, 1)],
                         schema=VINTAGE_SCHEMA, orient="row")
    svg = chart(render(vintages=frame), "chart-vintages")

    assert [t[:15] for t in tooltips(svg, "polyline")] == ["Vintage 2024-02"]


# --- empty input ----------------------------------------------------------------------------


def test_empty_frames_render_no_data_instead_of_charts() -> None:
    html = render(monthly=monthly([]), vintages=vintages(0))

    assert "<svg" not in html
    assert html.count('<p class="no-data">no data</p>') == 5  # four charts and the table
    assert "Portfolio report" in html


def test_empty_vintages_leave_the_monthly_charts_in_place() -> None:
    html = render(vintages=vintages(0))

    assert html.count("<svg") == 3
    assert html.count("no data") == 1


def test_months_with_no_earned_premium_at_all_show_no_loss_ratio_chart() -> None:
    html = render(monthly=monthly([("2024-01", 100, 0, 0, 0, 0)]))

    assert 'id="chart-loss-ratio"' not in html
    assert html.count("<svg") == 3


def test_all_zero_months_still_draw_axes() -> None:
    svg = chart(render(monthly=monthly([("2024-01", 0, 0, 0, 0, 0)])), "chart-claims")

    assert len(tooltips(svg, "rect")) == 2
    assert "2024-01" in {t.text for t in svg.iter("text")}


# --- writing --------------------------------------------------------------------------------


def test_write_report_creates_parent_directories_and_writes_utf8(tmp_path: Path) -> None:
    target = tmp_path / "out" / "demo" / "report.html"

    write_report(target, title="组合报告", subtitle="演示", kpis=KPIS, monthly=monthly(),
                 vintages=vintages())

    text = target.read_bytes().decode("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<h1>组合报告</h1>" in text
    assert '<meta charset="utf-8">' in text


# --- the charts alone, in another language (the console's dashboard) ----------------------


def test_chart_figures_are_the_report_s_four_charts_in_english_by_default() -> None:
    figures = chart_figures(monthly=monthly(), vintages=vintages(count=8))

    assert len(figures) == 4
    assert all(f.startswith('<figure class="chart-box">') for f in figures)
    report = render(vintages=vintages(count=8))
    assert all(f in report for f in figures)


def test_every_word_in_the_charts_goes_through_the_given_gettext() -> None:
    """With a translation that marks what it translated, no unmarked word is left in any
    text or hover title: only numbers, months and vintages stay as they are."""
    figures = chart_figures(monthly=monthly(), vintages=vintages(count=8),
                            gettext=lambda message: "§" + message)
    svgs = [ET.fromstring(block) for block in svg_blocks("\n".join(figures))]
    shown = [el.text or "" for svg in svgs for el in svg.iter() if el.tag in ("text", "title")]

    assert shown and all("§" in t for t in shown if re.search("[A-Za-z]", t))
    assert any(t.startswith("§Vintage 2023-08 (1,000 policies): ") for t in shown)
    assert "§Vintage" in shown  # the colour bar's heading, eight vintages being many
    empty = chart_figures(monthly=monthly([]), vintages=vintages(count=0),
                          gettext=lambda message: "§" + message)
    assert all('<p class="no-data">§no data</p>' in f for f in empty)
