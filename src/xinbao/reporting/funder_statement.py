"""Premium settlement statements (保费结算单, issue 23): what the insurer sends a partner funder
each settlement cycle — the premium it collected for us, the refunds it paid out of it, its
commission and the commission clawed back, the net due either way, and the claims paid to it
meanwhile by their own payment batches — as CSV for its reconciliation and as PDF for its
files (``billing.model`` for the figures).

Both renderers are pure functions of a ``FunderStatement``: the same statement gives the same
bytes (the PDF is dated the day it was settled, or its cycle's end while a draft). Money is
integer fen, formatted with integer arithmetic: ``1234.56`` in the CSV (UTF-8 with a
byte-order mark, for Excel), ``1,234.56`` in the PDF, whose font comes embedded from a package
(``reporting.pdf``).
"""

from __future__ import annotations

import csv
import io
from typing import Final

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from xinbao.billing.model import FunderStatement
from xinbao.kernel.money import format_yuan
from xinbao.reporting.pdf import FONT_FAMILY, prepare
from xinbao.reporting.statements import plain_yuan

TITLE_ZH: Final = "保费结算单"
TITLE_EN: Final = "Premium settlement statement"
COLLECTORS: Final = {"funder": "合作机构代收 / collected by the funder",
                     "insurer": "保险人自收 / collected by the insurer"}


def items(statement: FunderStatement) -> list[tuple[str, int]]:
    """The statement's money, each item (Chinese / English) and its fen, the net last."""
    f = statement.figures
    return [
        ("代收保费（含增值税） / Premium collected for us, VAT included", f.premium_held_fen),
        ("代付退费（含增值税） / Refunds paid out of it, VAT included", -f.refunds_fen),
        ("手续费 / Commission", -f.commission_fen),
        ("手续费追回 / Commission clawed back", f.clawback_fen),
        ("净额（正数：合作机构应付保险人） / Net due (positive: the funder pays us)", f.net_fen),
    ]


def direction(statement: FunderStatement) -> tuple[str, str]:
    """Who pays whom the net, in Chinese and English."""
    net = statement.figures.net_fen
    if net > 0:
        return "合作机构应付保险人", "the funder pays the insurer"
    if net < 0:
        return "保险人应付合作机构", "the insurer pays the funder"
    return "无需支付", "nothing to pay"


def funder_statement_csv(statement: FunderStatement) -> bytes:
    """The statement as CSV: its number, funder and cycle on every row, one row an item
    (the net among them), then one row a claim payment batch of the cycle."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["结算单号 / Statement no.", "合作机构 / Funder", "周期起 / Cycle from",
                     "周期止 / Cycle to", "项目 / Item", "金额(元) / Amount (CNY)"])
    head = [statement.number, statement.funder_code, statement.cycle_from.isoformat(),
            statement.cycle_to.isoformat()]
    for label, fen in items(statement):
        writer.writerow([*head, label, plain_yuan(fen)])
    for batch in statement.claim_batches:
        writer.writerow([*head, f"已付理赔 {batch.number}（另行支付，不计入净额）/ Claims paid "
                                f"by batch {batch.number} (paid apart, not netted)",
                         plain_yuan(batch.total_fen)])
    return buffer.getvalue().encode("utf-8-sig")


def funder_statement_pdf(statement: FunderStatement) -> bytes:
    """The statement as an A4 PDF in Chinese and English."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    prepare(pdf, dated=statement.settled_on or statement.cycle_to,
            title=f"{TITLE_ZH} / {TITLE_EN} {statement.number}",
            subject=f"{statement.funder_name} ({statement.funder_code})")
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, size=16)
    pdf.cell(0, 9, f"{TITLE_ZH} / {TITLE_EN}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, size=9)
    settled = (f"{statement.settled_on.isoformat()}，银行流水 / bank transaction "
               f"{statement.bank_reference}" if statement.settled_on
               else "未结算（草稿）/ not settled (draft)")
    header = (
        ("合作机构 / Funder", f"{statement.funder_name} ({statement.funder_code})"),
        ("结算单号 / Statement no.", statement.number),
        ("结算周期 / Settlement cycle",
         f"{statement.cycle_from.isoformat()} – {statement.cycle_to.isoformat()}"),
        ("保费收取 / Premium", COLLECTORS.get(statement.premium_collector,
                                           statement.premium_collector)),
        ("结算 / Settled", settled),
    )
    for label, value in header:
        pdf.cell(55, 6, label)
        pdf.cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    width = pdf.epw - 45
    pdf.set_fill_color(235)
    pdf.cell(width, 7, "项目 / Item", border=1, fill=True)
    pdf.cell(45, 7, "金额(元) / CNY", border=1, align=Align.R, fill=True,
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    rows = items(statement)
    for index, (label, fen) in enumerate(rows):
        last = index == len(rows) - 1
        pdf.set_font(FONT_FAMILY, size=8 if last else 9)
        pdf.cell(width, 7, label, border=1, fill=last)
        pdf.set_font(FONT_FAMILY, size=9)
        pdf.cell(45, 7, format_yuan(fen), border=1, align=Align.R, fill=last,
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    zh, en = direction(statement)
    net = format_yuan(abs(statement.figures.net_fen))
    pdf.multi_cell(0, 5, f"净额 {net} 元：{zh}。\nNet {net} CNY: {en}.",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    if statement.claim_batches:
        pdf.cell(0, 6, "本周期已付理赔（按理赔结算单另行支付，不计入净额）/ Claims paid in the "
                       "cycle (paid by their own batches, not netted here)",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for batch in statement.claim_batches:
            pdf.cell(0, 5.5, f"{batch.number}  {batch.paid_on.isoformat()}  {batch.claims} 笔 / "
                             f"claims  {format_yuan(batch.total_fen)} 元",
                     new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        pdf.cell(0, 6, "本周期无已付理赔 / No claim paid to the funder in the cycle",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
