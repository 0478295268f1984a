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


def _bounds(**changes):
    from xinbao.underwriting.model import intake_bounds

    values = {"amount_fen": 3_600_000, "annual_rate": Decimal("0.12"),
              "applied_on": date(2025, 1, 15), "external_ref": "APP-1",
              "income_fen": 2_000_000, **changes}
    return [(e.field, e.rule) for e in intake_bounds(**values)]


def test_an_ordinary_application_keeps_every_intake_bound():
    assert _bounds() == []
    assert _bounds(annual_rate=Decimal("0.000001"), income_fen=None) == []


@pytest.mark.parametrize(("changes", "broken"), [
    pytest.param({"amount_fen": 2**63 - 1}, ("amount_fen", "amount.maximum"), id="amount-2^63"),
    pytest.param({"income_fen": 1_000_000_000_001}, ("monthly_income_fen", "amount.maximum"),
                 id="income-over-cap"),
    pytest.param({"amount_fen": True}, ("amount_fen", "amount.type"), id="bool-amount"),
    pytest.param({"annual_rate": Decimal("1e-999999")}, ("annual_rate", "loan.rate_places"),
                 id="rate-1e-999999"),
    pytest.param({"annual_rate": Decimal(0)}, ("annual_rate", "loan.rate_range"), id="rate-0"),
    pytest.param({"annual_rate": Decimal("1.01")}, ("annual_rate", "loan.rate_range"),
                 id="rate-over-1"),
    pytest.param({"annual_rate": Decimal("NaN")}, ("annual_rate", "loan.rate_range"),
                 id="rate-nan"),
    pytest.param({"applied_on": date(9999, 12, 31)}, ("applied_on", "application.date_window"),
                 id="year-9999"),
    pytest.param({"external_ref": "A\u200b1"}, ("external_ref", "application.external_ref"),
                 id="zero-width-space"),
    pytest.param({"external_ref": "A" * 65}, ("external_ref", "application.external_ref"),
                 id="reference-too-long"),
])
def test_an_out_of_bounds_value_is_refused_with_its_field_and_rule(changes, broken):
    assert _bounds(**changes) == [broken]


def test_an_application_dated_after_the_day_it_reached_us_is_refused():
    received = date(2025, 1, 15)
    assert _bounds(applied_on=date(2025, 1, 16), received_on=received) == []  # time zones
    assert _bounds(applied_on=date(2025, 1, 17), received_on=received) == [
        ("applied_on", "application.date_window")]
    assert _bounds(applied_on=date(2025, 1, 17)) == []  # a replay of history: no such day


@pytest.mark.parametrize("name", ["张\n三", "张\x07三", "张\u202e三"])
def test_a_name_with_control_or_invisible_characters_is_refused(name):
    from xinbao.kernel.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        Borrower.individual(name=name, id_number="11010519491231002X", phone="13812345678")
    assert [e.rule for e in refused.value.errors] == ["text.control_characters"]


def test_collateral_values_beyond_the_cap_are_refused():
    from xinbao.underwriting.model import CollateralKind, CollateralOffer

    house = CollateralOffer(CollateralKind.HOUSE, appraised_fen=2**62, city_tier=1)
    assert [(e.field, e.rule) for e in house.check()] == [
        ("collateral.appraised_fen", "amount.maximum")]
