"""Collateral valuation: what a car or a house would fetch, and the loan it can secure.

Cars: new price × residual value for the car's age and brand tier. Houses: appraised value ×
(1 − haircut for the city tier). The loan capacity is value × maximum loan-to-value (see
``limits.collateral_capacity_fen``). The valuation is kept with the decision that used it.
Parameters (``params/collateral.toml``) are assumptions to calibrate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum

from xinbao.kernel.errors import FieldError, InvalidInput
from xinbao.kernel.money import PRECISION


class BrandTier(StrEnum):
    PREMIUM = "premium"
    MAINSTREAM = "mainstream"
    ECONOMY = "economy"


@dataclass(frozen=True, slots=True)
class CollateralRules:
    car_max_ltv: Decimal
    car_residual: dict[BrandTier, tuple[Decimal, ...]]  # by whole years of age
    house_max_ltv: Decimal
    house_haircut: dict[int, Decimal]  # by city tier 1..4


@dataclass(frozen=True, slots=True)
class Valuation:
    kind: str  # "car" or "house"
    basis_fen: int  # new price or appraised value
    factor: Decimal  # residual share (car) or 1 − haircut (house)
    value_fen: int
    max_ltv: Decimal
    explanation: str


def _floor_fen(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def whole_years(start: date, on: date) -> int:
    years = on.year - start.year - ((on.month, on.day) < (start.month, start.day))
    return max(years, 0)


def value_car(rules: CollateralRules, *, new_price_fen: int, tier: BrandTier,
              first_registered: date, on: date) -> Valuation:
    errors = []
    if new_price_fen <= 0:
        errors.append(FieldError("new_price_fen", "COL-CAR-PRICE", "a car has a new price"))
    if first_registered > on:
        errors.append(FieldError("first_registered", "COL-CAR-DATE",
                                 "registered after the valuation date"))
    if errors:
        raise InvalidInput(errors)
    curve = rules.car_residual[tier]
    age = whole_years(first_registered, on)
    factor = curve[min(age, len(curve) - 1)]
    with localcontext() as ctx:
        ctx.prec = PRECISION
        value = _floor_fen(Decimal(new_price_fen) * factor)
    return Valuation("car", new_price_fen, factor, value, rules.car_max_ltv,
                     f"{tier.value} car, {age} year(s) old: {factor} of the new price")


def value_house(rules: CollateralRules, *, appraised_fen: int, city_tier: int) -> Valuation:
    if appraised_fen <= 0:
        raise InvalidInput.single("appraised_fen", "COL-HOUSE-VALUE",
                                  "a house has an appraised value")
    if city_tier not in rules.house_haircut:
        raise InvalidInput.single("city_tier", "COL-CITY-TIER",
                                  f"city tiers are {sorted(rules.house_haircut)}")
    haircut = rules.house_haircut[city_tier]
    with localcontext() as ctx:
        ctx.prec = PRECISION
        factor = 1 - haircut
        value = _floor_fen(Decimal(appraised_fen) * factor)
    return Valuation("house", appraised_fen, factor, value, rules.house_max_ltv,
                     f"tier-{city_tier} city: appraised value less a {haircut} haircut")
