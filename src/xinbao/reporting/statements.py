"""Claim settlement statements (理赔结算单): what the insurer sends a partner funder with each
payment batch of claims, as CSV for the funder's reconciliation and as PDF for its files.

A statement names the funder, its number, the settlement cycle and the payment date, and lists
every claim paid in the batch against the funder's loan contract: outstanding principal and
interest claimed, the deductible, and the amount paid. Both renderers are pure functions of a
``Statement``: no database, clock or file system beyond the font shipped in a package, and the
same statement always gives the same bytes (the PDF's creation date is the payment date, and
its file identifier is a hash of its content).

Money is integer fen throughout and is formatted with integer arithmetic, never through a
float: the CSV writes yuan as ``1234.56`` (no thousands separator, so it parses back to the
exact fen), the PDF as ``1,234.56``. The CSV is UTF-8 with a byte-order mark, which is what
makes Excel read its Chinese column names as UTF-8 rather than the locale's code page.

The PDF (A4 landscape, drawn with fpdf2) embeds Noto Sans SC Regular 2.004, Adobe's and
Google's open CJK typeface, licensed under the SIL Open Font License 1.1, which allows
embedding it in documents and redistributing it with software. It comes unmodified from
upstream ``notofonts/noto-cjk`` (``Sans/SubsetOTF/SC``, SHA-256 ``faa6c9df…6d5ea9``) in the
data-only PyPI package ``pylopdf-fonts-zh-cn``, so it installs from the lock file like any
other dependency: nothing is downloaded at run time and no system font is assumed. Only the
glyphs a statement uses are embedded (fpdf2 subsets the font), so a statement is tens of
kilobytes, not the font's 8 MB.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from xinbao.claims.repository import SettlementBatch
from xinbao.kernel.money import FEN_PER_YUAN, format_yuan
from xinbao.reporting.pdf import FONT_FAMILY, prepare


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One claim paid in the batch."""

    claim_id: int
    policy_no: str
    contract_no: str  # the funder's loan contract number
    product_code: str
    trigger_on: date  # the day the claim trigger was reached
    approved_on: date
    principal_fen: int  # outstanding principal claimed
    interest_fen: int
    deductible_fen: int
    amount_fen: int  # paid on this claim

    def __post_init__(self) -> None:
        for name in ("claim_id", "principal_fen", "interest_fen", "deductible_fen",
                     "amount_fen"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} is an integer, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Statement:
    """A payment batch of claims for one funder, numbered e.g. ``ST-BANK-A-2025-03``."""

    number: str
    funder_code: str
    funder_name: str  # as the funder is registered, in Chinese, e.g. "示例银行"
    cycle_from: date
    cycle_to: date
    paid_on: date
    lines: tuple[StatementLine, ...]

    def __post_init__(self) -> None:
        if self.cycle_from > self.cycle_to:
            raise ValueError(f"cycle from {self.cycle_from} is after cycle to {self.cycle_to}")

    @property
    def total_fen(self) -> int:
        """The amount paid in the batch: the sum of the lines' amounts."""
        return sum(line.amount_fen for line in self.lines)


def statement_of(batch: SettlementBatch) -> Statement:
    """The statement of a payment batch (``claims.services.settle_claims``): each claim it
    paid with what was claimed and what was paid."""
    s = batch.settlement
    return Statement(s.number, batch.funder_code, batch.funder_name, s.cycle_from, s.cycle_to,
                     s.paid_on,
                     tuple(StatementLine(
                         stored.claim.id or 0, stored.policy_no, stored.contract_no,
                         stored.product_code, stored.claim.trigger_on or stored.claim.opened_on,
                         stored.claim.decided_on or stored.claim.opened_on,
                         stored.claim.principal_fen, stored.claim.interest_fen,
                         stored.claim.deductible_fen, stored.claim.amount_fen)
                         for stored in batch.lines))


@dataclass(frozen=True, slots=True)
class _Column:
    zh: str
    en: str
    width: int  # share of the table's width
    money: bool
    value: Callable[[StatementLine], str | int | date]


#: The statement's columns, CSV and PDF alike; money columns are in yuan (元, CNY).
COLUMNS: Final = (
    _Column("理赔编号", "Claim ID", 15, False, lambda line: line.claim_id),
    _Column("保单号", "Policy no.", 32, False, lambda line: line.policy_no),
    _Column("借款合同号", "Loan contract no.", 38, False, lambda line: line.contract_no),
    _Column("产品代码", "Product", 24, False, lambda line: line.product_code),
    _Column("触发日期", "Trigger date", 20, False, lambda line: line.trigger_on),
    _Column("核赔日期", "Approved on", 20, False, lambda line: line.approved_on),
    _Column("理赔本金(元)", "Principal (CNY)", 27, True, lambda line: line.principal_fen),
    _Column("利息(元)", "Interest (CNY)", 24, True, lambda line: line.interest_fen),
    _Column("免赔额(元)", "Deductible (CNY)", 24, True, lambda line: line.deductible_fen),
    _Column("赔付金额(元)", "Amount paid (CNY)", 28, True, lambda line: line.amount_fen),
)
MONEY_FIELDS: Final = ("principal_fen", "interest_fen", "deductible_fen", "amount_fen")
TOTAL_LABEL: Final = "合计 / Total"
TITLE_ZH: Final = "理赔结算单"
TITLE_EN: Final = "Claim settlement statement"


def plain_yuan(fen: int) -> str:
    """``123456`` → ``"1234.56"``: yuan without thousands separators, exact to the fen."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def _totals(lines: Iterable[StatementLine]) -> dict[str, int]:
    totals = dict.fromkeys(MONEY_FIELDS, 0)
    for line in lines:
        for name in MONEY_FIELDS:
            totals[name] += getattr(line, name)
    return totals


def _cells(line: StatementLine, money: Callable[[int], str]) -> list[str]:
    cells = []
    for column in COLUMNS:
        value = column.value(line)
        if column.money:
            assert isinstance(value, int)
            cells.append(money(value))
        elif isinstance(value, date):
            cells.append(value.isoformat())
        else:
            cells.append(str(value))
    return cells


def _total_cells(statement: Statement, money: Callable[[int], str]) -> list[str]:
    totals = _totals(statement.lines)
    sums = iter(money(totals[name]) for name in MONEY_FIELDS)
    cells = [TOTAL_LABEL] + [""] * (len(COLUMNS) - 1)
    for index, column in enumerate(COLUMNS):
        if column.money:
            cells[index] = next(sums)
    return cells


def statement_csv(statement: Statement) -> bytes:
    """The statement as CSV: a header row, one row a claim, and a total row last."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f"{column.zh} / {column.en}" for column in COLUMNS])
    writer.writerows(_cells(line, plain_yuan) for line in statement.lines)
    writer.writerow(_total_cells(statement, plain_yuan))
    return buffer.getvalue().encode("utf-8-sig")


#: Page layout in millimetres (A4 landscape), and the table's type size in points.
MARGIN: Final = 12.0
FOOTER_ROOM: Final = 14.0
ROW_HEIGHT: Final = 5.0
HEADING_LINE_HEIGHT: Final = 4.0
TABLE_FONT_SIZE: Final = 7.5
SHADE: Final = 235  # grey level of the heading and total rows


class _StatementPDF(FPDF):
    """fpdf2's document, drawing the statement's table row by row: a row never splits across
    pages, the heading repeats on every page, and every page carries a running footer.

    Rows are drawn as single-line cells (fpdf2's table layout, which wraps every cell, took
    four times as long); a value too wide for its column is set smaller, never cut.
    """

    def __init__(self, statement: Statement) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.statement = statement
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=FOOTER_ROOM)
        share = self.epw / sum(column.width for column in COLUMNS)
        self.widths = tuple(column.width * share for column in COLUMNS)
        self.aligns = tuple(Align.R if column.money else Align.L for column in COLUMNS)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT_FAMILY, size=7)
        self.set_text_color(90)
        self.cell(
            0, 4,
            f"{TITLE_ZH} / {TITLE_EN}  {self.statement.number}    "
            f"第 {self.page_no()} / {{nb}} 页 · Page {self.page_no()} of {{nb}}",
            align=Align.C,
        )
        self.set_text_color(0)

    def table_heading(self) -> None:
        self.set_font(FONT_FAMILY, size=TABLE_FONT_SIZE)
        self.set_fill_color(SHADE)
        top = self.y
        for column, width, align in zip(COLUMNS, self.widths, self.aligns, strict=True):
            left = self.x
            self.rect(left, top, width, 2 * HEADING_LINE_HEIGHT + 1, style="DF")
            self.set_xy(left, top + 0.5)
            self.cell(width, HEADING_LINE_HEIGHT, column.zh, align=align)
            self.set_xy(left, top + 0.5 + HEADING_LINE_HEIGHT)
            self.cell(width, HEADING_LINE_HEIGHT, column.en, align=align)
            self.set_xy(left + width, top)
        self.set_xy(self.l_margin, top + 2 * HEADING_LINE_HEIGHT + 1)

    def table_row(self, cells: list[str]) -> None:
        if self.will_page_break(ROW_HEIGHT):
            self.add_page()
            self.table_heading()
        for text, width, align in zip(cells, self.widths, self.aligns, strict=True):
            self.fitted_cell(text, width, align, shaded=False)
        self.ln(ROW_HEIGHT)

    def total_row(self, cells: list[str]) -> None:
        """The total row: its label spans the columns that are not money (they come first)."""
        if self.will_page_break(ROW_HEIGHT):
            self.add_page()
            self.table_heading()
        label_width = sum(w for w, c in zip(self.widths, COLUMNS, strict=True) if not c.money)
        self.fitted_cell(cells[0], label_width, Align.L, shaded=True)
        for text, width, column in zip(cells, self.widths, COLUMNS, strict=True):
            if column.money:
                self.fitted_cell(text, width, Align.R, shaded=True)
        self.ln(ROW_HEIGHT)

    def fitted_cell(self, text: str, width: float, align: Align, *, shaded: bool) -> None:
        room = width - 2 * self.c_margin
        needed = self.get_string_width(text)
        if needed > room:
            self.set_font_size(TABLE_FONT_SIZE * room / needed)
        self.set_fill_color(SHADE)
        self.cell(width, ROW_HEIGHT, text, border=1, align=align, fill=shaded)
        if needed > room:
            self.set_font_size(TABLE_FONT_SIZE)


def statement_pdf(statement: Statement) -> bytes:
    """The statement as an A4 PDF in Chinese and English, its table's heading on every page."""
    pdf = _StatementPDF(statement)
    prepare(pdf, dated=statement.paid_on, title=f"{TITLE_ZH} / {TITLE_EN} {statement.number}",
            subject=f"{statement.funder_name} ({statement.funder_code})")
    pdf.add_page()

    pdf.set_font(FONT_FAMILY, size=16)
    pdf.cell(0, 9, f"{TITLE_ZH} / {TITLE_EN}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, size=9)
    header = (
        ("合作机构 / Funder", f"{statement.funder_name} ({statement.funder_code})"),
        ("结算单号 / Statement no.", statement.number),
        ("结算周期 / Settlement cycle",
         f"{statement.cycle_from.isoformat()} – {statement.cycle_to.isoformat()}"),
        ("付款日期 / Payment date", statement.paid_on.isoformat()),
        ("理赔笔数 / Claims", str(len(statement.lines))),
        ("赔付合计 / Total paid", f"{format_yuan(statement.total_fen)} 元 (CNY)"),
    )
    for label, value in header:
        pdf.cell(52, 5.5, label)
        pdf.cell(0, 5.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    pdf.table_heading()
    for line in statement.lines:
        pdf.table_row(_cells(line, format_yuan))
    pdf.total_row(_total_cells(statement, format_yuan))

    pdf.ln(4)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.multi_cell(
        0, 5,
        f"本批共 {len(statement.lines)} 笔理赔，赔付合计 {format_yuan(statement.total_fen)} 元，"
        f"已于 {statement.paid_on.isoformat()} 支付。\n"
        f"{len(statement.lines)} claims in this batch, "
        f"{format_yuan(statement.total_fen)} CNY in all, paid on {statement.paid_on.isoformat()}.",
        new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )
    return bytes(pdf.output())
