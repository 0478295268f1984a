"""The ground-truth market: who applies, for what, and what each borrower will do.

Everything is drawn from numpy generators seeded by (scenario seed, day, stream), so a day's
applicants and a loan's fate do not depend on the order in which anything else is drawn.

The default model (the truth the system never sees):
- each borrower has a latent credit quality ``q ~ N(0, 1)``; the observable features (bureau
  score, recent inquiries, debt-to-income, income, years in business) are noisy functions of
  it;
- the monthly default hazard of installment ``m`` falling due in calendar month ``t`` is
  ``base[family] · exp(−0.7 q + 0.8 (dti − 0.35) + 0.06 (inquiries − 1)) · season(m) ·
  exp(0.6 · M[t]) · default_multiplier``, where ``M`` is the scenario's macro path, shared by
  every borrower (so defaults are correlated);
- a borrower who defaults stops paying at that installment for good; one who does not may
  prepay after paying an installment (monthly prepayment hazard per family);
- some installments are paid late and cured (5–45 days), some in two parts;
- fraud rings (shared phone and bank card) default at the first installment;
- after a claim is paid, a share of it is recovered (rate by family, mostly collateral for
  car and mortgage loans), after a lag, in one to four parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from xinbao.catalogue.model.products import ProductFamily
from xinbao.loans.model import add_months
from xinbao.simulation.scenario import Scenario

FAMILIES = tuple(ProductFamily)
_F = {f: i for i, f in enumerate(FAMILIES)}

#: Base monthly default hazard per family, before seasoning and borrower factors (roughly
#: 4 %, 1.5 %, 0.4 % and 3 % a year for an average borrower in a calm economy).
BASE_HAZARD = np.array([0.0030, 0.0011, 0.0003, 0.0024])
#: Monthly prepayment hazard per family.
PREPAY_HAZARD = np.array([0.020, 0.012, 0.006, 0.015])
#: Mean recovery rate of a paid claim per family (beta-distributed around it).
RECOVERY_MEAN = np.array([0.15, 0.45, 0.65, 0.30])
Q_WEIGHT, DTI_WEIGHT, INQUIRY_WEIGHT, MACRO_WEIGHT = 0.7, 0.8, 0.06, 0.6
LATE_SHARE = 0.02  # installments paid late then cured
RING_SIZE = (3, 8)

# Streams of random numbers, so that one kind of draw never shifts another.
_APPLICANTS, _BEHAVIOUR, _RINGS, _MACRO = 1, 2, 3, 4


def rng(scenario: Scenario, *keys: int) -> np.random.Generator:
    return np.random.default_rng([scenario.seed, *keys])


def macro_path(scenario: Scenario, months: int) -> np.ndarray:
    """The macro factor for each calendar month from the start (0 = calm, > 0 = worse)."""
    t = np.arange(months, dtype=float)
    noise = rng(scenario, _MACRO).normal(0, 0.15, months)
    smooth = np.zeros(months)
    for k in range(months):  # AR(1) noise shared by everyone
        smooth[k] = (0.7 * smooth[k - 1] if k else 0) + noise[k]
    if scenario.macro == "base":
        return smooth
    if scenario.macro == "downturn":  # a year-long recession from month 6
        return smooth + 1.0 * np.exp(-(((t - 14) / 6) ** 2))
    # 2019-style stress: a sharp shock from month 4, peaking in month 12
    return smooth + 2.0 * np.exp(-(((t - 12) / 5) ** 2)) + 0.5 * (t >= 4)


def season(m: np.ndarray) -> np.ndarray:
    """Defaults peak some eight months after disbursement (loan seasoning)."""
    return 0.6 + 0.8 * np.exp(-(((m - 8) / 8) ** 2))


@dataclass
class Applicants:
    """One day's applications, column-wise (numpy arrays of equal length)."""

    family: np.ndarray  # index into FAMILIES
    funder: np.ndarray  # index into scenario.funders
    quality: np.ndarray  # latent q (truth only)
    score: np.ndarray  # bureau-like score 350..900
    inquiries: np.ndarray  # lender inquiries in the last 6 months
    dti: np.ndarray  # existing debt service / income
    income_yuan: np.ndarray  # monthly income (individuals) or revenue / 12 (enterprises)
    age: np.ndarray  # years (individuals) or years in business (enterprises)
    amount_yuan: np.ndarray
    term: np.ndarray
    rate_bp: np.ndarray  # annual interest rate in basis points
    method: np.ndarray  # index into the product's repayment methods
    collateral_yuan: np.ndarray  # car or house value; 0 without collateral
    ring: np.ndarray  # fraud ring id, -1 for none
    employment: np.ndarray  # index into EMPLOYMENT (individuals)
    industry: np.ndarray  # index into INDUSTRIES (enterprises)
    open_accounts: np.ndarray  # credit accounts open at the bureau

    def __len__(self) -> int:
        return len(self.family)


EMPLOYMENT = ("salaried", "civil_servant", "self_employed", "gig")
INDUSTRIES = ("manufacturing", "retail", "services", "construction", "agriculture", "technology")
TERMS = {
    ProductFamily.CONSUMER: (6, 12, 24, 36),
    ProductFamily.CAR: (24, 36, 48, 60),
    ProductFamily.MORTGAGE_BACKED: (36, 60, 120),
    ProductFamily.SMALL_BUSINESS: (6, 12, 24, 36),
}
#: Annual interest by family: (best, worst). Consumer loans sold with a guarantee premium are
#: priced so that interest and premium together stay within the all-in cost cap.
RATE_RANGE_BP = {
    ProductFamily.CONSUMER: (400, 1000),
    ProductFamily.CAR: (400, 900),
    ProductFamily.MORTGAGE_BACKED: (350, 600),
    ProductFamily.SMALL_BUSINESS: (500, 1200),
}


def arrivals(scenario: Scenario) -> np.ndarray:
    """How many applications arrive on each day of the calendar (sums to the volume).

    Weekdays bring more than weekends, and volume grows through the first months.
    """
    end = add_months(scenario.start, scenario.months)
    days = (end - scenario.start).days
    weights = np.array([
        (1.0 if (scenario.start + timedelta(d)).weekday() < 5 else 0.5)
        * (0.6 + 0.4 * min(1.0, d / 120)) for d in range(days)])
    expected = weights / weights.sum() * scenario.applications
    counts = np.floor(expected).astype(np.int64)
    short = scenario.applications - int(counts.sum())
    order = np.argsort(-(expected - counts), kind="stable")[:short]
    counts[order] += 1
    return counts


def draw_applicants(scenario: Scenario, day: int, n: int, ring_members: int) -> Applicants:
    """One day's applicants; ``ring_members`` counts the ring members drawn on earlier days,
    so that a ring fills up over consecutive days (rings of ``RING_SIZE`` members)."""
    g = rng(scenario, _APPLICANTS, day)
    fam_shares = np.array([scenario.mix.get(f, 0.0) for f in FAMILIES])
    family = g.choice(len(FAMILIES), size=n, p=fam_shares / fam_shares.sum())
    funder = np.empty(n, dtype=np.int64)
    for fi, fam in enumerate(FAMILIES):
        idx = np.flatnonzero(family == fi)
        if not len(idx):
            continue
        product = scenario.products[fam]
        offers = [k for k, f in enumerate(scenario.funders) if product in f.products]
        shares = np.array([scenario.funders[k].volume_share for k in offers])
        funder[idx] = np.array(offers)[g.choice(len(offers), size=len(idx),
                                                 p=shares / shares.sum())]
    q = g.normal(size=n)
    score = np.clip(np.round(600 + 70 * (0.8 * q + 0.6 * g.normal(size=n))), 350, 900)
    inquiries = g.poisson(np.exp(0.4 - 0.5 * q))
    dti = np.clip(0.35 - 0.08 * q + 0.12 * g.normal(size=n), 0.0, 1.2)
    median_income = np.array([8_000, 14_000, 22_000, 250_000])[family]  # SME: revenue / 12
    income = np.round(median_income * np.exp(0.5 * g.normal(size=n) + 0.15 * q), -2)
    age = np.where(family == _F[ProductFamily.SMALL_BUSINESS], g.integers(1, 21, n),
                   g.integers(22, 59, n))
    collateral = np.zeros(n)
    amount = np.zeros(n)
    c = family == _F[ProductFamily.CONSUMER]
    amount[c] = income[c] * g.uniform(0.8, 6.0, c.sum())
    car = family == _F[ProductFamily.CAR]
    collateral[car] = np.round(150_000 * np.exp(0.45 * g.normal(size=car.sum())), -3)
    amount[car] = collateral[car] * g.uniform(0.5, 0.8, car.sum())
    home = family == _F[ProductFamily.MORTGAGE_BACKED]
    collateral[home] = np.round(2_500_000 * np.exp(0.5 * g.normal(size=home.sum())), -4)
    amount[home] = collateral[home] * g.uniform(0.3, 0.6, home.sum())
    sme = family == _F[ProductFamily.SMALL_BUSINESS]
    amount[sme] = income[sme] * 12 * g.uniform(0.03, 0.15, sme.sum())
    amount = np.round(amount, -2)
    term = np.empty(n, dtype=np.int64)
    rate = np.empty(n, dtype=np.int64)
    for fi, fam in enumerate(FAMILIES):
        idx = np.flatnonzero(family == fi)
        term[idx] = g.choice(TERMS[fam], size=len(idx))
        best, worst = RATE_RANGE_BP[fam]
        risk = 1 / (1 + np.exp(1.2 * q[idx]))  # 0 (good) .. 1 (poor)
        rate[idx] = np.round(best + (worst - best) * risk + g.normal(0, 40, len(idx)))
        rate[idx] = np.clip(rate[idx], best, worst + 200)
    method = g.integers(0, 1_000_000, n)  # reduced modulo the product's methods later
    ring = np.full(n, -1, dtype=np.int64)
    if scenario.fraud_prevalence > 0:
        in_ring = g.random(n) < scenario.fraud_prevalence
        members = np.flatnonzero(in_ring)
        size = (RING_SIZE[0] + RING_SIZE[1]) // 2
        ring[members] = (ring_members + np.arange(len(members))) // size
        family[members] = _F[ProductFamily.CONSUMER]  # rings go for unsecured credit
        offers = [k for k, f in enumerate(scenario.funders)
                  if scenario.products[ProductFamily.CONSUMER] in f.products]
        funder[members] = np.array(offers)[g.integers(0, len(offers), len(members))]
        term[members] = 12
        amount[members] = np.round(g.uniform(20_000, 60_000, len(members)), -2)
        collateral[members] = 0
    employment = g.integers(0, len(EMPLOYMENT), n)
    industry = g.integers(0, len(INDUSTRIES), n)
    open_accounts = g.poisson(np.exp(0.7 - 0.1 * q))  # drawn last: earlier draws unchanged
    return Applicants(
        family=family, funder=funder, quality=q, score=score.astype(np.int64),
        inquiries=inquiries.astype(np.int64), dti=dti, income_yuan=income.astype(np.int64),
        age=age.astype(np.int64), amount_yuan=amount.astype(np.int64), term=term,
        rate_bp=rate.astype(np.int64), method=method, collateral_yuan=collateral.astype(np.int64),
        ring=ring, employment=employment, industry=industry,
        open_accounts=open_accounts.astype(np.int64))


def monthly_hazards(scenario: Scenario, macro: np.ndarray, a: Applicants, start_month: int,
                    ) -> np.ndarray:
    """Default hazard of each installment m = 1..max term (rows: loans; zero past the term)."""
    width = int(a.term.max()) if len(a) else 0
    m = np.arange(1, width + 1)
    t = np.clip(start_month + m, 0, len(macro) - 1)
    level = (BASE_HAZARD[a.family] * scenario.default_multiplier
             * np.exp(-Q_WEIGHT * a.quality + DTI_WEIGHT * (a.dti - 0.35)
                      + INQUIRY_WEIGHT * (a.inquiries - 1)))
    h = level[:, None] * season(m)[None, :] * np.exp(MACRO_WEIGHT * macro[t])[None, :]
    h = np.minimum(h, 0.5)
    h[m[None, :] > a.term[:, None]] = 0.0
    h[a.ring >= 0, :] = 0.0
    h[a.ring >= 0, 0] = 1.0  # rings never pay
    return h


@dataclass
class Fates:
    """What each disbursed borrower will do (truth)."""

    default_at: np.ndarray  # installment never paid from (0: never defaults)
    prepay_after: np.ndarray  # installment after which the loan is prepaid (0: never)
    late: np.ndarray  # (loans × max term) days late, 0 on time
    partial: np.ndarray  # (loans × max term) paid in two parts
    recovery_rate: np.ndarray
    recovery_lag_days: np.ndarray
    recovery_parts: np.ndarray


def draw_fates(scenario: Scenario, day: int, a: Applicants, hazards: np.ndarray) -> Fates:
    g = rng(scenario, _BEHAVIOUR, day)
    n: int
    width: int
    n, width = hazards.shape
    m = np.arange(1, width + 1)
    defaults = g.random((n, width)) < hazards
    prepays = (g.random((n, width)) < PREPAY_HAZARD[a.family][:, None]) & (
        m[None, :] < a.term[:, None])
    prepays[a.ring >= 0, :] = False
    first_default = np.where(defaults.any(axis=1), defaults.argmax(axis=1) + 1, 0)
    first_prepay = np.where(prepays.any(axis=1), prepays.argmax(axis=1) + 1, 0)
    # competing risks: the borrower defaults at m unless already prepaid after an earlier one
    default_at = np.where((first_default > 0) & ((first_prepay == 0)
                                                 | (first_default <= first_prepay)),
                          first_default, 0)
    prepay_after = np.where((default_at == 0) & (first_prepay > 0), first_prepay, 0)
    late_p = LATE_SHARE * (1 + (a.quality < -0.5))
    late = np.where(g.random((n, width)) < late_p[:, None], g.integers(5, 46, (n, width)), 0)
    partial = (late > 0) & (g.random((n, width)) < 0.3)
    mean = RECOVERY_MEAN[a.family]
    rate = g.beta(mean * 6, (1 - mean) * 6)
    rate[a.ring >= 0] = 0.0
    return Fates(default_at=default_at, prepay_after=prepay_after, late=late, partial=partial,
                 recovery_rate=rate, recovery_lag_days=g.integers(30, 181, n),
                 recovery_parts=g.integers(1, 5, n))


def claim_probability(hazards: np.ndarray, family: np.ndarray, ring: np.ndarray,
                      due_dates: list[list[date]], trigger_days: np.ndarray,
                      horizon: date) -> np.ndarray:
    """Probability that each loan reaches its claim trigger by ``horizon``: the model's
    expectation of what the system will observe (competing default and prepayment)."""
    n, width = hazards.shape
    prepay = PREPAY_HAZARD[family][:, None] * np.ones((n, width))
    prepay[ring >= 0, :] = 0.0
    survive_before = np.cumprod(np.hstack([np.ones((n, 1)),
                                           (1 - hazards[:, :-1]) * (1 - prepay[:, :-1])]),
                                axis=1)
    p_default_at = survive_before * hazards
    observable = np.zeros((n, width), dtype=bool)
    for i, dues in enumerate(due_dates):
        for k, due in enumerate(dues):
            observable[i, k] = due + timedelta(days=int(trigger_days[i])) <= horizon
    return (p_default_at * observable).sum(axis=1)


def pd_within(hazards: np.ndarray, months: int) -> np.ndarray:
    """Probability of default within the first ``months`` installments (no prepayment)."""
    h = hazards[:, :months]
    return 1 - np.prod(1 - h, axis=1)


def months_between(start: date, on: date) -> int:
    return (on.year - start.year) * 12 + on.month - start.month


def horizon_months(scenario: Scenario) -> int:
    """Calendar months the macro path must cover: the run plus the longest loan."""
    return scenario.months + max(max(t) for t in TERMS.values()) + 2


