"""The approved amount is the least of every capacity, and the binding ones are named."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinbao.catalogue.model.products import RepaymentMethod
from xinbao.loans.model import build_schedule
from xinbao.risk.model import exposure
from xinbao.risk.model.limits import (
    BELOW_MINIMUM,
    BORROWER_CAP,
    COLLATERAL,
    INCOME,
    PORTFOLIO,
    PRODUCT_MAX,
    REQUESTED,
    Constraint,
    collateral_capacity_fen,
    decide_limit,
    income_capacity_fen,
)

D = Decimal


def caps(**values: int) -> list[Constraint]:
    codes = {"product": PRODUCT_MAX, "income": INCOME, "collateral": COLLATERAL,
             "borrower": BORROWER_CAP, "portfolio": PORTFOLIO}
    return [Constraint(codes[k], v, k) for k, v in values.items()]


@pytest.mark.parametrize("binding", ["product", "income", "collateral", "borrower",
                                     "portfolio"])
def test_each_constraint_can_bind_and_is_named(binding):
    values = dict(product=500_000, income=400_000, collateral=300_000, borrower=200_000,
                  portfolio=600_000)
    values[binding] = 150_000
    decision = decide_limit(350_000, caps(**values), product_min_fen=100_000)
    assert decision.approved_fen == 150_000 and decision.reduced
    assert decision.binding == (dict(product=PRODUCT_MAX, income=INCOME, collateral=COLLATERAL,
                                     borrower=BORROWER_CAP, portfolio=PORTFOLIO)[binding],)


def test_the_request_itself_binds_when_everything_allows_more():
    decision = decide_limit(100_000, caps(product=500_000, income=400_000),
                            product_min_fen=50_000)
    assert (decision.approved_fen, decision.binding, decision.reduced) == (100_000, (), False)


def test_ties_name_every_binding_constraint_and_below_the_minimum_nothing_is_approved():
    tie = decide_limit(300_000, caps(income=200_000, borrower=200_000), product_min_fen=1)
    assert tie.binding == (INCOME, BORROWER_CAP)
    none = decide_limit(300_000, caps(portfolio=20_000), product_min_fen=50_000)
    assert none.refused and none.binding == (PORTFOLIO, BELOW_MINIMUM)
    exhausted = decide_limit(300_000, caps(borrower=-5), product_min_fen=50_000)
    assert exhausted.refused and exhausted.binding == (BORROWER_CAP, BELOW_MINIMUM)


@given(requested=st.integers(1, 10**9), values=st.lists(st.integers(-10**6, 10**9), max_size=5))
def test_the_approved_amount_never_exceeds_any_constraint(requested, values):
    constraints = [Constraint(f"C{i}", v, "") for i, v in enumerate(values)]
    decision = decide_limit(requested, constraints, product_min_fen=0)
    assert decision.approved_fen <= requested
    assert all(decision.approved_fen <= max(c.cap_fen, 0) for c in constraints)
    assert REQUESTED not in decision.binding or decision.approved_fen == requested


def test_income_capacity_is_the_principal_whose_installment_fills_the_dsr_room():
    capacity = income_capacity_fen(monthly_income_fen=1_000_000, existing_monthly_debt_fen=100_000,
                                   max_dsr=D("0.5"), annual_rate=D("0.12"), term_months=12)
    schedule = build_schedule(principal_fen=capacity, annual_rate=D("0.12"), term_months=12,
                              method=RepaymentMethod.EQUAL_INSTALLMENT,
                              start=date(2025, 1, 15))
    assert schedule[0].total_fen <= 400_000 < build_schedule(
        principal_fen=capacity + 200, annual_rate=D("0.12"), term_months=12,
        method=RepaymentMethod.EQUAL_INSTALLMENT,
        start=date(2025, 1, 15))[0].total_fen
    assert income_capacity_fen(monthly_income_fen=100_000, existing_monthly_debt_fen=60_000,
                               max_dsr=D("0.5"), annual_rate=D("0.12"), term_months=12) == 0
    with_premium = income_capacity_fen(
        monthly_income_fen=1_000_000, existing_monthly_debt_fen=100_000, max_dsr=D("0.5"),
        annual_rate=D("0.12"), term_months=12, monthly_premium_rate=D("0.006"))
    assert with_premium < capacity


def test_collateral_capacity_is_value_times_ltv_less_prior_liens():
    assert collateral_capacity_fen(value_fen=10_000_000, max_ltv=D("0.7")) == 7_000_000
    assert collateral_capacity_fen(value_fen=10_000_000, max_ltv=D("0.7"),
                                   prior_liens_fen=2_000_000) == 5_000_000
    assert collateral_capacity_fen(value_fen=1_000_000, max_ltv=D("0.5"),
                                   prior_liens_fen=900_000) == 0


@pytest.mark.parametrize("enterprise, industry, industry_key", [
    (False, None, "household"), (False, "manufacturing", "household"),
    (True, "manufacturing", "manufacturing"), (True, None, "household"),
])
def test_a_loan_counts_against_the_total_its_funder_province_industry_product_and_obligor(
        enterprise, industry, industry_key) -> None:
    keys = exposure.limit_keys(funder="BANK-A", region="11", industry=industry,
                               enterprise=enterprise, product="CONSUMER-G", obligor="k1")
    assert keys == (("retained", "all"), ("funder", "BANK-A"), ("region", "11"),
                    ("industry", industry_key), ("product", "CONSUMER-G"), ("obligor", "k1"))
