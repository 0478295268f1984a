"""A simulated credit history to train the first scorecard on.

Draws applicants from the same market as a scenario (another seed: other people, the same
economy), with the features the decision computes (``risk.model.decision.features``: the bureau's
score, inquiries and open accounts, debt-to-income, income, age, loan terms, loan-to-value)
and the outcome a year later: default within the first twelve installments, drawn from the
market's hazards. Fraud-ring applications are left out (rules catch those; a scorecard models
credit risk). Each row also carries the ground-truth 12-month PD, to compare the model with.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import polars as pl

from xinbao.catalogue.model.products import ProductFamily
from xinbao.risk.model.collateral import BrandTier, CollateralRules
from xinbao.simulation import market
from xinbao.simulation.scenario import Scenario

FEATURES = ("family", "amount_yuan", "term_months", "annual_rate", "age",
            "monthly_income_yuan", "dti", "bureau_score", "inquiries_6m", "open_accounts",
            "ltv", "employment", "industry")
CATEGORICAL = ("family", "employment", "industry")
MONOTONIC = ("bureau_score", "dti", "inquiries_6m")
TARGET = "defaulted_12m"
TRUTH = "true_pd_12m"

#: What the simulator offers as collateral: a new mainstream car; a house in a tier-2 city.
CAR_TIER = BrandTier.MAINSTREAM
CITY_TIER = 2
_HISTORY_SEED = 7919


def collateral_factor(rules: CollateralRules, family: np.ndarray) -> np.ndarray:
    """Value ÷ the simulator's collateral figure, per application (0 without collateral)."""
    car = rules.car_residual[CAR_TIER][0]
    house = 1 - rules.house_haircut[CITY_TIER]
    out = np.zeros(len(family))
    out[family == market.FAMILIES.index(ProductFamily.CAR)] = float(car)
    out[family == market.FAMILIES.index(ProductFamily.MORTGAGE_BACKED)] = float(house)
    return out


def draw_history(scenario: Scenario, applications: int,
                 collateral: CollateralRules) -> pl.DataFrame:
    hist = replace(scenario, seed=scenario.seed + _HISTORY_SEED, applications=applications)
    macro = market.macro_path(hist, market.horizon_months(hist))
    counts = market.arrivals(hist)
    parts: list[pl.DataFrame] = []
    ring_members = 0
    sme = market.FAMILIES.index(ProductFamily.SMALL_BUSINESS)
    for day, n in enumerate(counts):
        if not n:
            continue
        a = market.draw_applicants(hist, day, int(n), ring_members)
        ring_members += int((a.ring >= 0).sum())
        today = hist.start + timedelta(days=day)
        hazards = market.monthly_hazards(hist, macro, a,
                                         market.months_between(hist.start, today))
        fates = market.draw_fates(hist, day, a, hazards)
        keep = a.ring < 0
        enterprise = a.family == sme
        value = a.collateral_yuan * collateral_factor(collateral, a.family)
        parts.append(pl.DataFrame({
            "family": [market.FAMILIES[f].value for f in a.family],
            "amount_yuan": a.amount_yuan.astype(float),
            "term_months": a.term,
            "annual_rate": a.rate_bp / 10_000,
            # numpy takes None as a value (an object array); its stubs do not.
            "age": pl.Series(np.where(enterprise, None, a.age).tolist(),  # type: ignore[call-overload]
                             dtype=pl.Int64),
            "monthly_income_yuan": a.income_yuan.astype(float),
            "dti": np.round(a.dti * a.income_yuan * 100) / 100 / a.income_yuan,
            "bureau_score": a.score,
            "inquiries_6m": a.inquiries,
            "open_accounts": a.open_accounts,
            "ltv": pl.Series(np.where(value > 0, a.amount_yuan / np.where(value > 0, value, 1),
                                      np.nan)).fill_nan(None),
            # typed: a day with no enterprise (or no person) would give a column of nulls
            # that does not stack onto the other days' text
            "employment": pl.Series([None if e else market.EMPLOYMENT[k]
                                     for e, k in zip(enterprise, a.employment, strict=True)],
                                    dtype=pl.String),
            "industry": pl.Series([market.INDUSTRIES[k] if e else None
                                   for e, k in zip(enterprise, a.industry, strict=True)],
                                  dtype=pl.String),
            TARGET: ((fates.default_at > 0) & (fates.default_at <= 12)).astype(np.int8),
            TRUTH: market.pd_within(hazards, 12),
        }).filter(pl.Series(keep)))
    return pl.concat(parts)
