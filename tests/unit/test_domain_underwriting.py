"""The placeholder approval rule and the application's single decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from xinbao.domain.errors import IllegalTransition
from xinbao.domain.parties import Borrower, InsuranceMode, PolicyRole, Roles
from xinbao.domain.products import (
    PremiumBasis,
    Product,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)
from xinbao.domain.underwriting import Application, ApplicationStatus, Decision, evaluate

APPLIED = date(2025, 1, 15)


def product(**changes: object) -> Product:
    p = Product(
        code="CONSUMER-G", version=2, name="个人消费贷款保证保险", mode=InsuranceMode.GUARANTEE,
        family=ProductFamily.CONSUMER, min_amount_fen=100_000, max_amount_fen=20_000_000,
        min_term_months=3, max_term_months=36,
        repayment_methods=(RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.EQUAL_PRINCIPAL),
        claim_trigger_dpd=90, waiting_period_days=30, coverage_share=Decimal("1"),
        premium_basis=PremiumBasis.PER_INSTALLMENT, monthly_premium_rate=Decimal("0.003"),
        refund_method=RefundMethod.PRO_RATA, effective_from=date(2025, 1, 1),
    )
    return replace(p, **changes)


def application(**changes: object) -> Application:
    a = Application(
        funder_id=1, product_code="CONSUMER-G", product_version=2, mode=InsuranceMode.GUARANTEE,
        borrower=Borrower.individual(name="张三", id_number="11010519491231002X",
                                     phone="13812345678"),
        roles=Roles(policyholder=PolicyRole.DEBTOR, insured=PolicyRole.CREDITOR),
        amount_fen=3_600_000, term_months=12, annual_rate=Decimal("0.12"),
        repayment_method=RepaymentMethod.EQUAL_INSTALLMENT, applied_on=APPLIED,
        external_ref="APP-0001", id=11,
    )
    return replace(a, **changes)


# --- evaluate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"amount_fen": 100_000},
        {"amount_fen": 20_000_000},
        {"term_months": 3},
        {"term_months": 36},
        {"repayment_method": RepaymentMethod.EQUAL_PRINCIPAL},
    ],
)
def test_application_within_the_product_limits_is_approved(changes):
    decision = evaluate(application(**changes), product())
    assert decision == Decision(approved=True, reason_codes=(), messages=())


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount_fen": 99_999}, "UW-AMOUNT-RANGE"),
        ({"amount_fen": 20_000_001}, "UW-AMOUNT-RANGE"),
        ({"amount_fen": 0}, "UW-AMOUNT-RANGE"),
        ({"amount_fen": -100}, "UW-AMOUNT-RANGE"),
        ({"term_months": 2}, "UW-TERM-RANGE"),
        ({"term_months": 37}, "UW-TERM-RANGE"),
        ({"term_months": 0}, "UW-TERM-RANGE"),
        ({"repayment_method": RepaymentMethod.INTEREST_FIRST}, "UW-REPAYMENT-METHOD"),
    ],
)
def test_application_outside_a_product_limit_is_declined_with_its_reason_code(changes, code):
    decision = evaluate(application(**changes), product())
    assert not decision.approved
    assert decision.reason_codes == (code,)
    assert len(decision.messages) == 1


def test_application_breaking_every_limit_gets_every_reason_code_in_order():
    decision = evaluate(
        application(amount_fen=50_000_000, term_months=60,
                    repayment_method=RepaymentMethod.INTEREST_FIRST),
        product(),
    )
    assert decision.reason_codes == ("UW-AMOUNT-RANGE", "UW-TERM-RANGE", "UW-REPAYMENT-METHOD")
    assert len(decision.messages) == 3
    assert "CONSUMER-G v2" in decision.messages[0]


def test_evaluation_uses_the_limits_of_the_product_it_is_given():
    wider = product(max_amount_fen=100_000_000)
    assert not evaluate(application(amount_fen=50_000_000), product()).approved
    assert evaluate(application(amount_fen=50_000_000), wider).approved


# --- decide -----------------------------------------------------------------------------------

DECIDED = date(2025, 1, 16)


def test_approval_is_recorded_with_an_event():
    a = application()
    a.decide(Decision(True, (), ()), DECIDED)
    assert a.status is ApplicationStatus.APPROVED
    assert a.decided_on == DECIDED
    assert a.reason_codes == ()
    assert [(e.name, e.aggregate, e.aggregate_id, e.on, e.data) for e in a.events] == [
        ("ApplicationApproved", "application", 11, DECIDED,
         {"from": "submitted", "to": "approved", "reason_codes": []})]


def test_decline_is_recorded_with_its_reason_codes():
    a = application(term_months=60)
    a.decide(evaluate(a, product()), DECIDED)
    assert a.status is ApplicationStatus.DECLINED
    assert a.reason_codes == ("UW-TERM-RANGE",)
    assert [(e.name, e.data) for e in a.events] == [
        ("ApplicationDeclined",
         {"from": "submitted", "to": "declined", "reason_codes": ["UW-TERM-RANGE"]})]


@pytest.mark.parametrize("first", [True, False])
def test_application_is_decided_only_once(first):
    a = application()
    a.decide(Decision(first, () if first else ("UW-AMOUNT-RANGE",), ()), DECIDED)
    status, codes = a.status, a.reason_codes
    with pytest.raises(IllegalTransition, match="cannot decide"):
        a.decide(Decision(not first, (), ()), date(2025, 2, 1))
    assert (a.status, a.reason_codes, a.decided_on) == (status, codes, DECIDED)
    assert len(a.events) == 1
