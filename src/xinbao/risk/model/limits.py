"""The approved amount: the least of what was asked and every capacity, each one named.

approved = min(requested, product maximum, income-based capacity (debt-service ratio),
collateral-based capacity (loan-to-value), per-borrower regulatory cap less what the
borrower already has, remaining portfolio appetite). Every constraint at the minimum is
binding and its reason code goes with the decision; below the product's minimum the
application cannot be approved at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

from xinbao.kernel.money import PRECISION
from xinbao.loans.model import monthly_rate

REQUESTED = "LIM-REQUESTED"
PRODUCT_MAX = "LIM-PRODUCT-MAX"
INCOME = "LIM-INCOME-DSR"
COLLATERAL = "LIM-COLLATERAL-LTV"
BORROWER_CAP = "LIM-BORROWER-CAP"
PORTFOLIO = "LIM-PORTFOLIO-APPETITE"
BELOW_MINIMUM = "LIM-BELOW-PRODUCT-MIN"


@dataclass(frozen=True, slots=True)
class Constraint:
    code: str
    cap_fen: int  # the most this constraint allows (0 when it allows nothing)
    basis: str  # how it was worked out, for the decision's explanation


@dataclass(frozen=True, slots=True)
class LimitDecision:
    requested_fen: int
    approved_fen: int  # 0 when the limit falls below the product minimum
    binding: tuple[str, ...]  # codes of every constraint at the minimum
    constraints: tuple[Constraint, ...]

    @property
    def reduced(self) -> bool:
        return 0 < self.approved_fen < self.requested_fen

    @property
    def refused(self) -> bool:
        return self.approved_fen == 0


def income_capacity_fen(*, monthly_income_fen: int, existing_monthly_debt_fen: int,
                        max_dsr: Decimal, annual_rate: Decimal, term_months: int,
                        monthly_premium_rate: Decimal = Decimal(0)) -> int:
    """The principal whose equal installment (plus premium on the sum insured) still fits
    in the debt-service ratio: (income × DSR − existing debt) / payment per yuan borrowed."""
    room = Decimal(monthly_income_fen) * max_dsr - existing_monthly_debt_fen
    if room <= 0 or term_months <= 0:
        return 0
    with localcontext() as ctx:
        ctx.prec = PRECISION
        r = monthly_rate(annual_rate)
        per_unit = (Decimal(1) / term_months if r == 0
                    else r / (1 - (1 + r) ** -term_months)) + monthly_premium_rate
        return int((room / per_unit).to_integral_value(rounding=ROUND_FLOOR))


def collateral_capacity_fen(*, value_fen: int, max_ltv: Decimal,
                            prior_liens_fen: int = 0) -> int:
    """Loan-to-value: value × maximum LTV less loans already secured on it."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        room = (Decimal(value_fen) * max_ltv).to_integral_value(rounding=ROUND_FLOOR)
    return max(int(room) - prior_liens_fen, 0)


def decide_limit(requested_fen: int, constraints: list[Constraint], *,
                 product_min_fen: int) -> LimitDecision:
    if requested_fen <= 0:
        raise ValueError("the requested amount is positive")
    every = (Constraint(REQUESTED, requested_fen, "amount applied for"), *constraints)
    least = min(max(c.cap_fen, 0) for c in every)
    binding = tuple(c.code for c in every if max(c.cap_fen, 0) == least and least < requested_fen)
    if least < product_min_fen:
        return LimitDecision(requested_fen, 0, (*binding, BELOW_MINIMUM), tuple(every))
    return LimitDecision(requested_fen, least, binding, tuple(every))
