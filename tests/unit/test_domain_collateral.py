"""Collateral valuation with the shipped parameters, and the loan capacity it gives."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from xinbao.kernel.errors import InvalidInput
from xinbao.parameters import load_collateral_rules
from xinbao.risk.model.collateral import BrandTier, value_car, value_house, whole_years
from xinbao.risk.model.limits import collateral_capacity_fen

RULES = load_collateral_rules()
ON = date(2026, 6, 30)


def test_the_shipped_curves_fall_with_age_and_tier_and_haircuts_rise_with_city_tier():
    for curve in RULES.car_residual.values():
        assert list(curve) == sorted(curve, reverse=True) and all(0 < v < 1 for v in curve)
    for age in range(9):
        assert (RULES.car_residual[BrandTier.PREMIUM][age]
                >= RULES.car_residual[BrandTier.MAINSTREAM][age]
                >= RULES.car_residual[BrandTier.ECONOMY][age])
    haircuts = [RULES.house_haircut[t] for t in sorted(RULES.house_haircut)]
    assert haircuts == sorted(haircuts)


def test_a_three_year_old_mainstream_car_is_valued_on_its_residual_share():
    v = value_car(RULES, new_price_fen=20_000_000, tier=BrandTier.MAINSTREAM,
                  first_registered=date(2023, 5, 1), on=ON)
    assert whole_years(date(2023, 5, 1), ON) == 3
    assert v.factor == Decimal("0.48") and v.value_fen == 9_600_000
    assert collateral_capacity_fen(value_fen=v.value_fen, max_ltv=v.max_ltv) == 7_680_000


def test_a_car_older_than_the_table_keeps_the_last_residual():
    v = value_car(RULES, new_price_fen=10_000_000, tier=BrandTier.ECONOMY,
                  first_registered=date(2010, 1, 1), on=ON)
    assert v.factor == RULES.car_residual[BrandTier.ECONOMY][-1]


def test_a_house_in_a_tier_two_city_is_valued_after_its_haircut():
    v = value_house(RULES, appraised_fen=300_000_000, city_tier=2)
    assert v.value_fen == 225_000_000 and v.max_ltv == Decimal("0.70")
    assert "haircut" in v.explanation


def test_impossible_collateral_is_refused_naming_the_field():
    with pytest.raises(InvalidInput, match="COL-CAR-DATE"):
        value_car(RULES, new_price_fen=1, tier=BrandTier.PREMIUM, first_registered=ON.replace(
            year=2027), on=ON)
    with pytest.raises(InvalidInput, match="COL-CITY-TIER"):
        value_house(RULES, appraised_fen=1_000, city_tier=9)
