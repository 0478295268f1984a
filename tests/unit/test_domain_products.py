"""Product definitions, the loan terms they allow and the version in force on a date."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from xinbao.catalogue.model.parties import InsuranceMode, PartyKind
from xinbao.catalogue.model.products import (
    PremiumBasis,
    Product,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
    version_in_force,
)
from xinbao.kernel.errors import InvalidInput


def product(**changes: object) -> Product:
    p = Product(
        code="CONSUMER-G", version=1, name="个人消费贷款保证保险", mode=InsuranceMode.GUARANTEE,
        family=ProductFamily.CONSUMER, min_amount_fen=100_000, max_amount_fen=20_000_000,
        min_term_months=3, max_term_months=36,
        repayment_methods=(RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.EQUAL_PRINCIPAL),
        claim_trigger_dpd=90, waiting_period_days=30, coverage_share=Decimal("1"),
        premium_basis=PremiumBasis.PER_INSTALLMENT, monthly_premium_rate=Decimal("0.003"),
        refund_method=RefundMethod.PRO_RATA, effective_from=date(2025, 1, 1),
    )
    return replace(p, **changes)


def findings(p: Product) -> list[tuple[str, str]]:
    return [(e.field, e.rule) for e in p.validate()]


def test_sound_product_has_no_findings():
    assert product().validate() == []
    product().ensure_valid()


@pytest.mark.parametrize(
    ("changes", "finding"),
    [
        ({"code": ""}, ("code", "product.code")),
        ({"code": "CONSUMER G"}, ("code", "product.code")),
        ({"version": 0}, ("version", "product.version")),
        ({"min_amount_fen": 0, "max_amount_fen": 100}, ("min_amount_fen",
                                                        "product.amount_positive")),
        ({"max_amount_fen": 99_999}, ("max_amount_fen", "product.amount_range")),
        ({"min_term_months": 0, "max_term_months": 12}, ("min_term_months",
                                                         "product.term_positive")),
        ({"max_term_months": 2}, ("max_term_months", "product.term_range")),
        ({"repayment_methods": ()}, ("repayment_methods", "product.repayment_methods")),
        ({"claim_trigger_dpd": 0}, ("claim_trigger_dpd", "product.trigger_positive")),
        ({"waiting_period_days": -1}, ("waiting_period_days", "product.waiting_nonnegative")),
        ({"coverage_share": Decimal(0)}, ("coverage_share", "product.coverage_share")),
        ({"coverage_share": Decimal("1.01")}, ("coverage_share", "product.coverage_share")),
        ({"monthly_premium_rate": Decimal("-0.001")}, ("monthly_premium_rate",
                                                       "product.premium_rate")),
        ({"monthly_premium_rate": Decimal("0.1")}, ("monthly_premium_rate",
                                                    "product.premium_rate")),
    ],
)
def test_product_validation_names_the_broken_field_and_rule(changes, finding):
    assert findings(product(**changes)) == [finding]


@pytest.mark.parametrize(
    "changes",
    [
        {"min_amount_fen": 1, "max_amount_fen": 1},
        {"min_term_months": 1, "max_term_months": 1},
        {"claim_trigger_dpd": 1, "waiting_period_days": 0},
        {"coverage_share": Decimal("0.0001")},
        {"monthly_premium_rate": Decimal(0)},
        {"monthly_premium_rate": Decimal("0.0999")},
    ],
)
def test_product_at_the_edge_of_each_rule_is_sound(changes):
    assert product(**changes).validate() == []


def test_ensure_valid_refuses_with_every_finding():
    broken = product(version=0, coverage_share=Decimal(2), claim_trigger_dpd=0)
    with pytest.raises(InvalidInput) as info:
        broken.ensure_valid()
    assert {e.field for e in info.value.errors} == {
        "version", "coverage_share", "claim_trigger_dpd"}


@pytest.mark.parametrize(
    ("family", "kind"),
    [
        (ProductFamily.CONSUMER, PartyKind.INDIVIDUAL),
        (ProductFamily.CAR, PartyKind.INDIVIDUAL),
        (ProductFamily.MORTGAGE_BACKED, PartyKind.INDIVIDUAL),
        (ProductFamily.SMALL_BUSINESS, PartyKind.ENTERPRISE),
    ],
)
def test_each_family_lends_to_its_kind_of_borrower(family, kind):
    assert product(family=family).borrower_kind is kind


# --- loan terms -------------------------------------------------------------------------------


def terms(p: Product | None = None, **changes: object) -> list[tuple[str, str]]:
    request = {"amount_fen": 3_600_000, "term_months": 12,
               "repayment_method": RepaymentMethod.EQUAL_INSTALLMENT, **changes}
    return [(e.field, e.rule) for e in (p or product()).check_loan_terms(**request)]


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_fen": 100_000},
        {"amount_fen": 20_000_000},
        {"term_months": 3},
        {"term_months": 36},
        {"repayment_method": RepaymentMethod.EQUAL_PRINCIPAL},
    ],
)
def test_loan_at_the_limits_of_the_product_is_accepted(changes):
    assert terms(**changes) == []


@pytest.mark.parametrize(
    ("changes", "finding"),
    [
        ({"amount_fen": 99_999}, ("amount_fen", "product.amount_range")),
        ({"amount_fen": 20_000_001}, ("amount_fen", "product.amount_range")),
        ({"amount_fen": 0}, ("amount_fen", "loan.amount_positive")),
        ({"amount_fen": -5}, ("amount_fen", "loan.amount_positive")),
        ({"term_months": 2}, ("term_months", "product.term_range")),
        ({"term_months": 37}, ("term_months", "product.term_range")),
        ({"term_months": 0}, ("term_months", "loan.term_positive")),
        ({"repayment_method": RepaymentMethod.INTEREST_FIRST},
         ("repayment_method", "product.repayment_method")),
    ],
)
def test_loan_outside_the_product_limits_gets_one_finding(changes, finding):
    assert terms(**changes) == [finding]


def test_loan_breaking_every_limit_gets_every_finding():
    assert terms(amount_fen=1, term_months=48,
                 repayment_method=RepaymentMethod.INTEREST_FIRST) == [
        ("amount_fen", "product.amount_range"),
        ("term_months", "product.term_range"),
        ("repayment_method", "product.repayment_method"),
    ]


def test_range_message_names_the_product_and_version():
    (error,) = product(version=3).check_loan_terms(
        amount_fen=1, term_months=12, repayment_method=RepaymentMethod.EQUAL_INSTALLMENT)
    assert "CONSUMER-G v3" in error.message
    assert "100000" in error.message and "20000000" in error.message


# --- versions ---------------------------------------------------------------------------------

V1 = product(version=1, effective_from=date(2025, 1, 1))
V2 = product(version=2, effective_from=date(2025, 6, 1), monthly_premium_rate=Decimal("0.0025"))
V3 = product(version=3, effective_from=date(2026, 1, 1))


@pytest.mark.parametrize(
    ("on", "version"),
    [
        (date(2025, 1, 1), 1),  # the effective date itself
        (date(2025, 5, 31), 1),
        (date(2025, 6, 1), 2),
        (date(2025, 12, 31), 2),
        (date(2026, 1, 1), 3),
        (date(2030, 1, 1), 3),
    ],
)
def test_version_in_force_is_the_latest_effective_on_or_before_the_date(on, version):
    found = version_in_force([V3, V1, V2], on)
    assert found is not None
    assert found.version == version


def test_no_version_is_in_force_before_the_first_takes_effect():
    assert version_in_force([V1, V2, V3], date(2024, 12, 31)) is None
    assert version_in_force([], date(2025, 1, 1)) is None
