"""Applications: product ranges, evidence and collateral offers, and the status changes of
decisions and reviews."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from xinbao.catalogue.model.parties import Borrower, InsuranceMode, PolicyRole, Roles
from xinbao.catalogue.model.products import (
    PremiumBasis,
    Product,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)
from xinbao.kernel.errors import IllegalTransition
from xinbao.underwriting.model import (
    Application,
    ApplicationStatus,
    CollateralKind,
    CollateralOffer,
    Evidence,
    EvidenceKind,
    range_codes,
)

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


# --- product ranges --------------------------------------------------------------------------


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
def test_application_within_the_product_limits_breaks_no_range(changes):
    assert range_codes(application(**changes), product()) == []


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
def test_application_outside_a_product_limit_gets_its_reason_code(changes, code):
    found = range_codes(application(**changes), product())
    assert [c for c, _ in found] == [code]
    assert found[0][1]


def test_application_breaking_every_limit_gets_every_reason_code_in_order():
    found = range_codes(
        application(amount_fen=50_000_000, term_months=60,
                    repayment_method=RepaymentMethod.INTEREST_FIRST),
        product(),
    )
    assert [c for c, _ in found] == ["UW-AMOUNT-RANGE", "UW-TERM-RANGE", "UW-REPAYMENT-METHOD"]
    assert "CONSUMER-G v2" in found[0][1]


def test_ranges_are_those_of_the_product_version_given():
    wider = product(max_amount_fen=100_000_000)
    assert range_codes(application(amount_fen=50_000_000), product())
    assert range_codes(application(amount_fen=50_000_000), wider) == []


# --- evidence and collateral offers -----------------------------------------------------------


def test_evidence_needs_a_reference_and_a_sha256():
    good = Evidence(EvidenceKind.CONSENT, "archive://a/1.pdf", "a" * 64)
    assert good.check("evidence[0]") == []
    bad = Evidence(EvidenceKind.CONSENT, " ", "xyz")
    assert [e.rule for e in bad.check("evidence[0]")] == ["evidence.reference",
                                                         "evidence.sha256"]


def test_a_car_is_described_by_price_tier_and_registration_and_a_house_by_value_and_city():
    car = CollateralOffer(CollateralKind.CAR, new_price_fen=10_000_000)
    assert sorted(e.field for e in car.check()) == ["collateral.brand_tier",
                                                    "collateral.first_registered"]
    house = CollateralOffer(CollateralKind.HOUSE, appraised_fen=100, city_tier=2,
                            prior_liens_fen=-1)
    assert [e.rule for e in house.check()] == ["collateral.liens"]


# --- decide and review ------------------------------------------------------------------------

DECIDED = date(2025, 1, 16)


def test_approval_is_recorded_with_an_event():
    a = application()
    a.decide(True, (), DECIDED)
    assert a.status is ApplicationStatus.APPROVED
    assert a.decided_on == DECIDED
    assert a.reason_codes == ()
    assert [(e.name, e.aggregate, e.aggregate_id, e.on, e.data) for e in a.events] == [
        ("ApplicationApproved", "application", 11, DECIDED,
         {"from": "submitted", "to": "approved", "reason_codes": []})]


def test_decline_is_recorded_with_its_reason_codes():
    a = application(term_months=60)
    a.decide(False, ("UW-TERM-RANGE",), DECIDED)
    assert a.status is ApplicationStatus.DECLINED
    assert a.reason_codes == ("UW-TERM-RANGE",)
    assert [(e.name, e.data) for e in a.events] == [
        ("ApplicationDeclined",
         {"from": "submitted", "to": "declined", "reason_codes": ["UW-TERM-RANGE"]})]


@pytest.mark.parametrize("first", [True, False, None])
def test_application_is_decided_only_once(first):
    a = application()
    a.decide(first, () if first else ("UW-AMOUNT-RANGE",), DECIDED)
    status, codes = a.status, a.reason_codes
    with pytest.raises(IllegalTransition, match="cannot decide"):
        a.decide(True, (), date(2025, 2, 1))
    assert (a.status, a.reason_codes, a.decided_on) == (status, codes, DECIDED)
    assert len(a.events) == 1


@pytest.mark.parametrize(("approve", "status"), [(True, ApplicationStatus.APPROVED),
                                                  (False, ApplicationStatus.DECLINED)])
def test_a_referral_is_concluded_by_review_once(approve, status):
    a = application()
    a.decide(None, ("SCR-PD-REFER",), DECIDED)
    assert a.status is ApplicationStatus.REFERRED
    a.conclude_review(approve, ("SCR-PD-REFER", "REV-X"), date(2025, 1, 17))
    assert a.status is status
    assert [e.name for e in a.events][-1] == ("ApplicationApproved" if approve
                                             else "ApplicationDeclined")
    with pytest.raises(IllegalTransition):
        a.conclude_review(approve, (), date(2025, 1, 18))


def test_only_a_referral_can_be_reviewed():
    a = application()
    with pytest.raises(IllegalTransition):
        a.conclude_review(True, (), DECIDED)
