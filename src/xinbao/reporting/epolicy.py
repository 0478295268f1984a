"""The e-policy (电子保单, issue 23): a policy's schedule as the PDF the insurer issues to the
policyholder and the insured — the parties by the insurance mode, the loan it covers, the sum
insured (the principal and the interest covered), the period, the premium and its schedule,
and the wording's version, cover and exclusions, in Chinese with English labels.

``epolicy_pdf`` is a pure function of an ``EPolicy``, like the claim statements
(``reporting.statements``, with the embedded font of ``reporting.pdf``: Noto Sans SC from
the ``pylopdf-fonts-zh-cn`` package, SIL OFL 1.1, subset into the file, nothing fetched at
run time): the same policy gives the same bytes every time (the PDF is dated the day the policy
was issued, in China Standard Time, and fpdf2 derives its file identifier from the content),
so the SHA-256 kept when it is first issued identifies it.

Personal data is masked as the wording requires: an individual's name shows its first
character, an ID number its first six and last four characters (``kernel.identity``); an
enterprise's name and unified social credit code are shown whole (they are public).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from xinbao.kernel.money import format_yuan
from xinbao.reporting.pdf import FONT_FAMILY, prepare

#: The renderer's own version, kept with each issued document's hash: a layout change makes
#: new bytes, and the version says why they differ from those issued before.
RENDERER: Final = "epolicy-1"


@dataclass(frozen=True, slots=True)
class Party:
    """A party as the schedule shows it (already masked where the wording requires)."""

    role_zh: str
    role_en: str
    name: str
    identifier: str  # an ID number or unified social credit code, masked for a person


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    """One installment of the loan, with the premium due with it (0: none)."""

    number: int
    due_date: date
    principal_fen: int
    interest_fen: int
    premium_fen: int


@dataclass(frozen=True, slots=True)
class EndorsementLine:
    """An endorsement as the e-policy lists it (批改记录)."""

    version: int
    kind: str  # an EndorsementKind's value: "cancellation", "transfer", ...
    effective_on: date
    reason: str
    refund_fen: int


@dataclass(frozen=True, slots=True)
class Wording:
    """A wording as ``params/wording.toml`` has it for one insurance mode."""

    code: str
    version: int
    title: str
    title_en: str
    coverage: str
    exclusions: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.code} v{self.version}"


@dataclass(frozen=True, slots=True)
class EPolicy:
    """What an issued policy's e-policy says."""

    policy_no: str
    insurer: str
    insurer_en: str
    mode: str  # "guarantee" or "credit"
    product_code: str
    product_version: int
    product_name: str
    wording: Wording
    parties: tuple[Party, ...]  # policyholder, insured, borrower
    contract_no: str
    principal_fen: int
    interest_covered_fen: int  # the scheduled interest the cover includes
    coverage_share: Decimal
    start_date: date
    end_date: date
    issued_on: date
    term_months: int
    claim_trigger_dpd: int
    waiting_period_days: int
    premium_basis: str  # "single" or "per_installment"
    monthly_premium_rate: Decimal
    single_premium_fen: int
    schedule: tuple[ScheduleLine, ...]
    version: int = 1  # the policy's version: one more with each endorsement
    endorsements: tuple[EndorsementLine, ...] = ()
    vat_rate: Decimal = Decimal(0)  # VAT on premium, charged on top of it
    vat_fen: int = 0  # the VAT on total_premium_fen, premium by premium

    @property
    def sum_insured_fen(self) -> int:
        """The sum insured: the principal and the interest covered (保险金额)."""
        return self.principal_fen + self.interest_covered_fen

    @property
    def total_premium_fen(self) -> int:
        return self.single_premium_fen + sum(line.premium_fen for line in self.schedule)


MODE_NAMES: Final = {"guarantee": ("保证保险", "guarantee insurance"),
                     "credit": ("信用保险", "credit insurance")}
ENDORSEMENT_NAMES: Final = {"cancellation": ("退保", "cancellation"),
                            "transfer": ("变更被保险人", "change of insured"),
                            "partial_prepayment": ("部分提前还款", "partial prepayment"),
                            "restructure": ("贷款重组", "restructuring"),
                            "lapse": ("保单失效", "lapse")}
BASIS_NAMES: Final = {"single": ("趸交，签单时一次交清", "single, paid at issue"),
                      "per_installment": ("分期交，随每期还款交付", "with each installment")}
TITLE_ZH: Final = "电子保单"
TITLE_EN: Final = "E-policy"
MARGIN: Final = 15.0
LABEL_WIDTH: Final = 58.0
LINE: Final = 5.5
ROW: Final = 5.0
#: The schedule table's columns: Chinese, English, share of the width, money.
COLUMNS: Final = (("期次", "No.", 10, False), ("应还日期", "Due date", 22, False),
                  ("本金(元)", "Principal (CNY)", 24, True),
                  ("利息(元)", "Interest (CNY)", 22, True),
                  ("保费(元)", "Premium (CNY)", 22, True))


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


def _rate(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


class _EPolicyPDF(FPDF):
    def __init__(self, policy: EPolicy) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.policy = policy
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=16)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT_FAMILY, size=7)
        self.set_text_color(90)
        self.cell(0, 4, f"{TITLE_ZH} / {TITLE_EN}  {self.policy.policy_no}    "
                        f"第 {self.page_no()} / {{nb}} 页 · Page {self.page_no()} of {{nb}}",
                  align=Align.C)
        self.set_text_color(0)

    def heading(self, zh: str, en: str) -> None:
        self.ln(2)
        self.set_font(FONT_FAMILY, size=11)
        self.cell(0, 7, f"{zh} / {en}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT_FAMILY, size=9)

    def fact(self, zh: str, en: str, value: str) -> None:
        self.cell(LABEL_WIDTH, LINE, f"{zh} / {en}")
        self.multi_cell(0, LINE, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def schedule_table(self, lines: tuple[ScheduleLine, ...]) -> None:
        share = self.epw / sum(width for _, _, width, _ in COLUMNS)
        widths = [width * share for _, _, width, _ in COLUMNS]
        self.set_font(FONT_FAMILY, size=8)

        def head() -> None:
            self.set_fill_color(235)
            for (zh, en, _, money), width in zip(COLUMNS, widths, strict=True):
                self.cell(width, ROW, f"{zh} {en}", border=1, fill=True,
                          align=Align.R if money else Align.L)
            self.ln(ROW)

        head()
        for line in lines:
            if self.will_page_break(ROW):
                self.add_page()
                head()
            cells = (str(line.number), line.due_date.isoformat(),
                     format_yuan(line.principal_fen), format_yuan(line.interest_fen),
                     format_yuan(line.premium_fen))
            for text, (_, _, _, money), width in zip(cells, COLUMNS, widths, strict=True):
                self.cell(width, ROW, text, border=1, align=Align.R if money else Align.L)
            self.ln(ROW)
        totals = ("合计 Total", "", format_yuan(sum(x.principal_fen for x in lines)),
                  format_yuan(sum(x.interest_fen for x in lines)),
                  format_yuan(sum(x.premium_fen for x in lines)))
        if self.will_page_break(ROW):
            self.add_page()
            head()
        for text, (_, _, _, money), width in zip(totals, COLUMNS, widths, strict=True):
            self.cell(width, ROW, text, border=1, fill=True, align=Align.R if money else Align.L)
        self.ln(ROW)
        self.set_font(FONT_FAMILY, size=9)


def epolicy_pdf(policy: EPolicy) -> bytes:
    """The e-policy as an A4 PDF (see the module's docstring)."""
    pdf = _EPolicyPDF(policy)
    prepare(pdf, dated=policy.issued_on, title=f"{TITLE_ZH} {policy.policy_no}",
            subject=f"{policy.wording.title} ({policy.wording.label})")
    pdf.set_author(policy.insurer)
    pdf.add_page()

    pdf.set_font(FONT_FAMILY, size=15)
    pdf.cell(0, 8, policy.insurer, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=12)
    pdf.cell(0, 7, f"{policy.wording.title} {TITLE_ZH}", align=Align.C,
             new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=8)
    pdf.cell(0, 5, f"{policy.insurer_en} · {policy.wording.title_en} · {TITLE_EN}",
             align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font(FONT_FAMILY, size=9)
    mode_zh, mode_en = MODE_NAMES[policy.mode]
    basis_zh, basis_en = BASIS_NAMES[policy.premium_basis]
    pdf.fact("保单号", "Policy no.", policy.policy_no)
    pdf.fact("险种", "Insurance", f"{mode_zh} / {mode_en}")
    pdf.fact("产品", "Product",
             f"{policy.product_name} ({policy.product_code} v{policy.product_version})")
    pdf.fact("适用条款", "Wording", f"{policy.wording.title} ({policy.wording.label})")
    pdf.fact("签单日期", "Issued on", policy.issued_on.isoformat())
    if policy.version > 1:
        pdf.fact("保单版本", "Version", f"第 {policy.version} 版（经 {policy.version - 1} 次批改）")

    pdf.heading("当事人", "Parties")
    for party in policy.parties:
        pdf.fact(party.role_zh, party.role_en, f"{party.name}  {party.identifier}")

    pdf.heading("保险标的与保险金额", "What is insured")
    pdf.fact("借款合同号", "Loan contract no.", policy.contract_no)
    pdf.fact("贷款本金", "Principal", f"{format_yuan(policy.principal_fen)} 元")
    pdf.fact("承保利息", "Interest covered", f"{format_yuan(policy.interest_covered_fen)} 元")
    pdf.fact("保险金额", "Sum insured",
             f"{format_yuan(policy.sum_insured_fen)} 元（本金与承保利息之和）")
    pdf.fact("赔偿比例", "Coverage share", _percent(policy.coverage_share))
    pdf.fact("保险期间", "Period of cover",
             f"自 {policy.start_date.isoformat()} 零时起至 {policy.end_date.isoformat()} "
             f"二十四时止，共 {policy.term_months} 个月")
    pdf.fact("理赔触发", "Claim trigger", f"逾期达 {policy.claim_trigger_dpd} 天")
    pdf.fact("等待期", "Waiting period", f"{policy.waiting_period_days} 天")

    pdf.heading("保险费", "Premium")
    pdf.fact("交费方式", "Basis", f"{basis_zh} / {basis_en}")
    pdf.fact("月费率", "Monthly rate", f"{_rate(policy.monthly_premium_rate)}（以贷款本金为基数）")
    pdf.fact("保险费合计", "Total premium",
             f"{format_yuan(policy.total_premium_fen)} 元（不含增值税）")
    pdf.fact("增值税", "VAT", f"{format_yuan(policy.vat_fen)} 元（税率 {_rate(policy.vat_rate)}）")
    pdf.fact("价税合计", "Premium with VAT",
             f"{format_yuan(policy.total_premium_fen + policy.vat_fen)} 元")
    if policy.single_premium_fen:
        pdf.fact("趸交保费", "Single premium",
                 f"{format_yuan(policy.single_premium_fen)} 元，于 "
                 f"{policy.issued_on.isoformat()} 交清")

    pdf.heading("还款及交费计划", "Repayment and premium schedule")
    pdf.schedule_table(policy.schedule)

    if policy.endorsements:
        pdf.heading("批改记录", "Endorsements")
        for e in policy.endorsements:
            kind_zh, kind_en = ENDORSEMENT_NAMES.get(e.kind, (e.kind, e.kind))
            pdf.multi_cell(0, LINE, f"第 {e.version} 版 · {e.effective_on.isoformat()} 起 · "
                           f"{kind_zh} / {kind_en} · 退费 {format_yuan(e.refund_fen)} 元 · "
                           f"{e.reason}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.heading("保险责任", "Cover")
    pdf.multi_cell(0, LINE, policy.wording.coverage, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.heading("责任免除", "Exclusions")
    for number, text in enumerate(policy.wording.exclusions, start=1):
        pdf.multi_cell(0, LINE, f"{number}. {text}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font(FONT_FAMILY, size=8)
    pdf.multi_cell(0, 4.5, "本电子保单与纸质保单具有同等法律效力。"
                   "保单的完整条款以所载条款版本为准。"
                   "\nThis e-policy has the same force as a paper policy; the wording of the "
                   "version named above governs.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
