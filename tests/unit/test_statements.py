"""Claim settlement statements: the CSV reads back to the exact fen, the PDF is an A4 document
with the Chinese font embedded, its text readable, its table's heading on every page."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pylopdf_fonts_zh_cn import sans_path
from pypdf import PdfReader

from tests.pdf_text import pages_text
from xinbao.reporting.statements import (
    COLUMNS,
    FONT_FAMILY,
    TABLE_FONT_SIZE,
    Statement,
    StatementLine,
    plain_yuan,
    statement_csv,
    statement_pdf,
)

BOM = b"\xef\xbb\xbf"
A4_LANDSCAPE_PT = (841.89, 595.28)


def line(n: int, **changes: Any) -> StatementLine:
    built = StatementLine(
        claim_id=1000 + n,
        policy_no=f"XB-CG-2025-{n:06d}",
        contract_no=f"HT-2025-03-{n:08d}",
        product_code="CONSUMER-G",
        trigger_on=date(2025, 2, 1),
        approved_on=date(2025, 3, 3),
        principal_fen=1_234_500 + n,
        interest_fen=2_345 + 7 * n,
        deductible_fen=10_000,
        amount_fen=1_226_845 + 8 * n,
    )
    return replace(built, **changes)


def statement(lines: tuple[StatementLine, ...] | int = 10, **changes: Any) -> Statement:
    if isinstance(lines, int):
        lines = tuple(line(n) for n in range(1, lines + 1))
    built = Statement(
        number="ST-BANK-A-2025-03",
        funder_code="BANK-A",
        funder_name="示例银行",
        cycle_from=date(2025, 3, 1),
        cycle_to=date(2025, 3, 31),
        paid_on=date(2025, 4, 5),
        lines=lines,
    )
    return replace(built, **changes)


# Amounts at the edges of formatting: a single fen, tens of fen, whole yuan, a large sum.
TRICKY = (
    line(1, principal_fen=1, interest_fen=0, deductible_fen=0, amount_fen=1),
    line(2, principal_fen=10, interest_fen=99, deductible_fen=100, amount_fen=9),
    line(3, principal_fen=123_456, interest_fen=100, deductible_fen=5, amount_fen=123_551),
    line(4, principal_fen=99_999_999_999, interest_fen=1, deductible_fen=0,
         amount_fen=100_000_000_000),
)


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM):].decode("utf-8"), newline="")))


def fen(yuan: str) -> int:
    """Yuan text back to fen, refusing anything that is not exact to the fen."""
    assert re.fullmatch(r"-?\d+\.\d{2}", yuan), yuan
    exact = Decimal(yuan) * 100
    assert exact == exact.to_integral_value()
    return int(exact)


def parse_line(row: list[str]) -> StatementLine:
    claim_id, policy_no, contract_no, product, trigger, approved, *money = row
    principal, interest, deductible, amount = (fen(cell) for cell in money)
    return StatementLine(int(claim_id), policy_no, contract_no, product,
                         date.fromisoformat(trigger), date.fromisoformat(approved),
                         principal, interest, deductible, amount)


def font_sizes(pdf: bytes) -> set[float]:
    (page,) = PdfReader(io.BytesIO(pdf)).pages
    content = page.get_contents()
    assert content is not None
    return {float(size) for size in re.findall(rb"/F\d+ ([\d.]+) Tf", content.get_data())}


@pytest.fixture(scope="module")
def long_pdf() -> bytes:
    return statement_pdf(statement(120))


@pytest.fixture(scope="module")
def short_pdf() -> bytes:
    return statement_pdf(statement(TRICKY))


# --- money --------------------------------------------------------------------------------


@pytest.mark.parametrize("amount, text", [
    (0, "0.00"), (1, "0.01"), (10, "0.10"), (100, "1.00"), (123_456, "1234.56"),
    (-5, "-0.05"), (100_000_000_000, "1000000000.00"),
])
def test_plain_yuan_is_formatted_from_integer_fen_without_separators(
        amount: int, text: str) -> None:
    assert plain_yuan(amount) == text


def test_the_total_is_the_sum_of_the_amounts_paid() -> None:
    assert statement(TRICKY).total_fen == 1 + 9 + 123_551 + 100_000_000_000
    assert statement(()).total_fen == 0


def test_an_amount_in_float_is_refused() -> None:
    with pytest.raises(TypeError, match="amount_fen"):
        line(1, amount_fen=12.5)
    with pytest.raises(TypeError, match="principal_fen"):
        line(1, principal_fen=True)


def test_a_cycle_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        statement(cycle_from=date(2025, 4, 1))


# --- CSV ----------------------------------------------------------------------------------


def test_csv_is_utf8_with_a_bom_and_bilingual_column_names() -> None:
    data = statement_csv(statement(TRICKY))

    header = csv_rows(data)[0]
    assert header == [f"{column.zh} / {column.en}" for column in COLUMNS]
    assert header[0] == "理赔编号 / Claim ID"
    assert header[-1] == "赔付金额(元) / Amount paid (CNY)"


def test_csv_parses_back_to_the_lines_with_exact_fen() -> None:
    rows = csv_rows(statement_csv(statement(TRICKY)))

    assert len(rows) == 1 + len(TRICKY) + 1
    assert tuple(parse_line(row) for row in rows[1:-1]) == TRICKY
    assert rows[1][6:] == ["0.01", "0.00", "0.00", "0.01"]
    assert rows[4][-1] == "1000000000.00"


def test_csv_total_row_is_the_sum_of_each_money_column() -> None:
    rows = csv_rows(statement_csv(statement(TRICKY)))

    total = rows[-1]
    assert total[0] == "合计 / Total"
    assert total[1:6] == [""] * 5
    assert [fen(cell) for cell in total[6:]] == [
        sum(line.principal_fen for line in TRICKY),
        sum(line.interest_fen for line in TRICKY),
        sum(line.deductible_fen for line in TRICKY),
        sum(line.amount_fen for line in TRICKY),
    ]
    assert fen(total[-1]) == statement(TRICKY).total_fen == 100_000_123_561


def test_csv_rows_keep_the_statements_order_and_identifiers_as_text() -> None:
    lines = (line(7, contract_no="0012,\"A\""), line(3, policy_no="保-001"))

    rows = csv_rows(statement_csv(statement(lines)))

    assert [row[0] for row in rows[1:-1]] == ["1007", "1003"]
    assert rows[1][2] == "0012,\"A\""
    assert rows[2][1] == "保-001"


# --- PDF ----------------------------------------------------------------------------------


def test_pdf_is_an_a4_document(short_pdf: bytes) -> None:
    assert short_pdf.startswith(b"%PDF-")
    assert short_pdf.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(short_pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 2), round(float(box.height), 2)) == A4_LANDSCAPE_PT


def test_pdf_embeds_a_subset_of_noto_sans_sc(short_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(short_pdf))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    (font,) = [fonts[name].get_object() for name in fonts]
    cid_font = font["/DescendantFonts"][0].get_object()
    descriptor = cid_font["/FontDescriptor"].get_object()

    assert re.fullmatch(rf"/[A-Z]{{6}}\+{FONT_FAMILY}", str(font["/BaseFont"]))
    assert FONT_FAMILY.encode() in short_pdf
    embedded = descriptor["/FontFile3"].get_object().get_data()
    # The font file is 8 MB; the glyphs of one statement are a few tens of kilobytes.
    assert 1_000 < len(embedded) < 200_000
    assert len(short_pdf) < 100_000


def test_the_font_is_upstream_noto_sans_sc_unmodified() -> None:
    # notofonts/noto-cjk, Sans/SubsetOTF/SC/NotoSansSC-Regular.otf, version 2.004: an update
    # of the font package that changes the font is a decision, not a silent change.
    digest = hashlib.sha256(sans_path().read_bytes()).hexdigest()
    assert digest == "faa6c9df652116dde789d351359f3d7e5d2285a2b2a1f04a2d7244df706d5ea9"


def test_pdf_text_has_the_title_funder_cycle_lines_and_total_in_chinese_and_english(
        short_pdf: bytes) -> None:
    (runs,) = pages_text(short_pdf)

    assert runs[:13] == [
        "理赔结算单 / Claim settlement statement",
        "合作机构 / Funder", "示例银行 (BANK-A)",
        "结算单号 / Statement no.", "ST-BANK-A-2025-03",
        "结算周期 / Settlement cycle", "2025-03-01 – 2025-03-31",
        "付款日期 / Payment date", "2025-04-05",
        "理赔笔数 / Claims", "4",
        "赔付合计 / Total paid", "1,000,001,235.61 元 (CNY)",
    ]
    headings = runs[13:13 + 2 * len(COLUMNS)]
    assert headings[0::2] == [column.zh for column in COLUMNS]
    assert headings[1::2] == [column.en for column in COLUMNS]
    first = runs.index("1001")
    assert runs[first:first + len(COLUMNS)] == [
        "1001", "XB-CG-2025-000001", "HT-2025-03-00000001", "CONSUMER-G", "2025-02-01",
        "2025-03-03", "0.01", "0.00", "0.00", "0.01",
    ]
    assert runs[first + 3 * len(COLUMNS) + 6:][:4] == [
        "999,999,999.99", "0.01", "0.00", "1,000,000,000.00"]
    total = runs.index("合计 / Total")
    assert runs[total:total + 5] == [
        "合计 / Total", "1,000,001,234.66", "2.00", "1.05", "1,000,001,235.61"]
    assert "本批共 4 笔理赔，赔付合计 1,000,001,235.61 元，已于 2025-04-05 支付。" in runs
    assert "4 claims in this batch, 1,000,001,235.61 CNY in all, paid on 2025-04-05." in runs


def test_long_statement_breaks_pages_and_repeats_the_heading_on_each(long_pdf: bytes) -> None:
    pages = pages_text(long_pdf)

    # 25 rows under the title block on the first page, 35 on each page after: 120 → 4 pages.
    assert len(pages) == 4
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", long_pdf)) == 4
    claim_ids = []
    for number, runs in enumerate(pages, start=1):
        assert runs.count("理赔编号") == runs.count("Claim ID") == 1
        # fpdf2 writes the page count, filled in last, as a string of its own
        assert "".join(runs[-4:]) == (
            f"理赔结算单 / Claim settlement statement  ST-BANK-A-2025-03    "
            f"第 {number} / 4 页 · Page {number} of 4")
        claim_ids.append([run for run in runs if re.fullmatch(r"1\d{3}", run)])
    assert [len(ids) for ids in claim_ids] == [25, 35, 35, 25]
    assert sum(claim_ids, []) == [str(1000 + n) for n in range(1, 121)]
    assert sum(line(n).amount_fen for n in range(1, 121)) == 147_279_480
    assert "1,472,794.80 元 (CNY)" in pages[0]
    assert pages[-1][pages[-1].index("合计 / Total") + 4] == "1,472,794.80"


def test_a_statement_that_fits_one_page_has_one(short_pdf: bytes) -> None:
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", short_pdf)) == 1


def test_pdf_is_the_same_bytes_for_the_same_statement(short_pdf: bytes) -> None:
    assert statement_pdf(statement(TRICKY)) == short_pdf
    assert statement_pdf(statement(TRICKY, paid_on=date(2025, 4, 6))) != short_pdf


def test_pdf_is_dated_on_the_payment_day_in_china(short_pdf: bytes) -> None:
    metadata = PdfReader(io.BytesIO(short_pdf)).metadata
    assert metadata is not None
    assert metadata["/CreationDate"] == "D:20250405000000+08'00'"
    assert metadata.title == "理赔结算单 / Claim settlement statement ST-BANK-A-2025-03"


def test_a_value_wider_than_its_column_is_set_smaller_not_cut() -> None:
    contract = "HT-2025-03-ABCDEFGHIJKLMN-0123456789"
    narrow = statement_pdf(statement((line(1),)))
    wide = statement_pdf(statement((line(1, contract_no=contract),)))

    (runs,) = pages_text(wide)
    assert contract in runs
    assert font_sizes(narrow) == {7.0, 7.5, 9.0, 16.0}
    (smaller,) = font_sizes(wide) - font_sizes(narrow)
    assert 4 < smaller < TABLE_FONT_SIZE
