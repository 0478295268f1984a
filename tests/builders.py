"""Small builders for tests: a seeded catalogue, funders and applications that pass every
rule unless a test changes one field."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from xinbao.adapters.parameters import load_product_catalogue
from xinbao.domain.parties import FunderKind, PartyKind
from xinbao.domain.products import RepaymentMethod
from xinbao.services import applications, catalogue, policies
from xinbao.services.commands import (
    ApproveApplication,
    IssuePolicy,
    RegisterFunder,
    RegisterProduct,
    SubmitApplication,
)

# Valid numbers, checked by python-stdnum (the check digits are right).
RESIDENT_ID = "11010519491231002X"
RESIDENT_ID_2 = "110105198001011238"
CREDIT_CODE_BANK = "911100001000033177"
CREDIT_CODE_CFC = "91310115MA1K3YJ12G"
CREDIT_CODE_SME = "91310101MA1FPX1R3U"
PHONE = "13812345678"
BANK_CARD = "6222021234567890128"

START = date(2025, 1, 15)


def products() -> dict[str, RegisterProduct]:
    return {cmd.code: cmd for cmd in load_product_catalogue()}


def bank(code: str = "BANK-A", *, licensed: bool = True) -> RegisterFunder:
    return RegisterFunder(code=code, name="示例银行股份有限公司", credit_code=CREDIT_CODE_BANK,
                          kind=FunderKind.BANK, licensed=licensed,
                          commission_rate=Decimal("0.10"))


def seed(uow_factory, *, funders: tuple[RegisterFunder, ...] | None = None) -> None:
    """Register the shipped catalogue and a licensed bank."""
    for cmd in products().values():
        catalogue.register_product(cmd, uow_factory())
    for f in funders if funders is not None else (bank(),):
        catalogue.register_funder(f, uow_factory())


def consumer_application(**changes: object) -> SubmitApplication:
    """A guarantee-insured consumer loan: 36,000 yuan over 12 months at 12 %."""
    cmd = SubmitApplication(
        funder_code="BANK-A", external_ref="APP-0001", product_code="CONSUMER-G",
        borrower_kind=PartyKind.INDIVIDUAL, borrower_name="张三", borrower_id_number=RESIDENT_ID,
        borrower_phone=PHONE, borrower_bank_card=BANK_CARD, amount_fen=3_600_000,
        term_months=12, annual_rate=Decimal("0.12"),
        repayment_method=RepaymentMethod.EQUAL_INSTALLMENT, applied_on=START)
    return replace(cmd, **changes)


def car_application(**changes: object) -> SubmitApplication:
    """A guarantee-insured car loan with a single premium: 120,000 yuan over 24 months."""
    return consumer_application(**{
        "external_ref": "APP-CAR-1", "product_code": "CAR-G", "amount_fen": 12_000_000,
        "term_months": 24, "annual_rate": Decimal("0.06"), **changes})


def sme_application(**changes: object) -> SubmitApplication:
    """A credit-insured small-business loan, interest first: 300,000 yuan over 12 months."""
    return consumer_application(**{
        "external_ref": "APP-SME-1", "product_code": "SME-C",
        "borrower_kind": PartyKind.ENTERPRISE, "borrower_name": "示例科技有限公司",
        "borrower_id_number": CREDIT_CODE_SME, "amount_fen": 30_000_000,
        "repayment_method": RepaymentMethod.INTEREST_FIRST, "annual_rate": Decimal("0.08"),
        **changes})


def issued_policy(uow_factory, cmd: SubmitApplication | None = None, *, on: date = START):
    """Submit, approve and issue; returns the issued policy."""
    cmd = cmd or consumer_application()
    app = applications.submit_application(cmd, uow_factory())
    decided = applications.approve_application(ApproveApplication(app.id, on), uow_factory())
    assert decided.policy is not None, decided.decision
    return policies.issue_policy(IssuePolicy(decided.policy.id, f"LN-{cmd.external_ref}", on,
                                             on), uow_factory())
