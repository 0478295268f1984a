"""Risk pricing: the premium rate from the borrower's PD, and the all-in cost cap.

Annual premium rate = PD × LGD × coverage share (expected loss) + expense loading + cost of
capital + margin, floored and capped per product. The monthly rate charged on the principal
insured is the annual rate / 12, rounded to the millionth (0.0001 %).

If the borrower's all-in annualized cost (loan interest + premium and its VAT + fees, by IRR of
the cash flows: ``loans.all_in_annual_cost``) would exceed the cap (24 % by default, a
parameter), the price is lowered to the highest rate that keeps the cost at the cap, provided
it still covers expected loss, expenses and the cost of capital (the margin may go) and the
product's floor; otherwise the application is declined with ``PRC-ALL-IN-COST-CAP``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext

from xinbao.catalogue.model.products import PremiumBasis
from xinbao.kernel.money import PRECISION
from xinbao.loans.model import Annualization, all_in_annual_cost_of_payments
from xinbao.policy.model import premium_schedule, premium_vat

MONTHS = 12
RATE_STEP = Decimal("0.000001")  # monthly rates are kept to the millionth

#: Reason codes of pricing.
PRICE_FLOORED = "PRC-FLOOR"
PRICE_CAPPED = "PRC-PRODUCT-CAP"
PRICE_LOWERED_TO_COST_CAP = "PRC-LOWERED-TO-COST-CAP"
DECLINE_COST_CAP = "PRC-ALL-IN-COST-CAP"


@dataclass(frozen=True, slots=True)
class PricingTerms:
    """A product's pricing parameters (annual rates as fractions of the sum insured)."""

    lgd: Decimal  # loss given default, after recoveries
    expense_loading: Decimal
    cost_of_capital: Decimal
    margin: Decimal
    floor: Decimal  # lowest annual premium rate the product charges
    cap: Decimal  # highest annual premium rate the product charges

    def __post_init__(self) -> None:
        for name in ("lgd", "expense_loading", "cost_of_capital", "margin", "floor", "cap"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or value < 0:
                raise ValueError(f"{name} is a Decimal of at least 0")
        if self.lgd > 1:
            raise ValueError("lgd is at most 1")
        if self.floor > self.cap:
            raise ValueError("floor is at most cap")


@dataclass(frozen=True, slots=True)
class Price:
    """A priced cover with its breakdown; ``declined`` when no rate satisfies the cap."""

    expected_loss: Decimal  # PD × LGD × coverage share, a year
    expense_loading: Decimal
    cost_of_capital: Decimal
    margin: Decimal
    technical_rate: Decimal  # the sum of the four
    annual_rate: Decimal  # charged (after floor, product cap and the all-in cost cap)
    monthly_rate: Decimal
    all_in_cost: Decimal  # borrower's annualized cost at the charged rate
    reason_codes: tuple[str, ...]
    declined: bool = False

    @property
    def break_even_rate(self) -> Decimal:
        """The least annual rate that still pays for losses, expenses and capital."""
        return self.expected_loss + self.expense_loading + self.cost_of_capital


def _monthly(annual: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return (annual / MONTHS).quantize(RATE_STEP, rounding=rounding)


@dataclass(frozen=True, slots=True)
class LoanCashFlows:
    """What the all-in cost needs of the loan: its principal and what each installment of
    its schedule asks (principal + interest, in fen)."""

    principal_fen: int
    payments_fen: Sequence[int]
    fees_fen: Sequence[int] = ()
    upfront_fees_fen: int = 0
    # the loan's flows discounted at a cap's monthly rate, by (cap, annualization)
    _at: dict[tuple[Decimal, Annualization], tuple[float, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def cost(self, basis: PremiumBasis, principal_insured_fen: int, monthly_rate: Decimal,
             annualization: Annualization, vat_rate: Decimal = Decimal(0)) -> Decimal:
        single, per_installment = premiums_paid(basis, principal_insured_fen, monthly_rate,
                                          len(self.payments_fen), vat_rate)
        return all_in_annual_cost_of_payments(principal_fen=self.principal_fen,
                                              payments_fen=self.payments_fen,
                                              premiums_fen=per_installment,
                                              upfront_fen=single + self.upfront_fees_fen,
                                              fees_fen=self.fees_fen,
                                              annualization=annualization)

    def within(self, basis: PremiumBasis, principal_insured_fen: int, monthly_rate: Decimal,
               cap: Decimal, annualization: Annualization,
               vat_rate: Decimal = Decimal(0)) -> bool:
        """Whether the all-in cost at ``monthly_rate`` is within ``cap``, exactly.

        The borrower receives money at month 0 and pays it back later, so the flows' present
        value rises with the discount rate and is zero at the IRR: the cost is within the cap
        exactly when the present value at the cap's monthly rate is not negative. That takes
        one discounting instead of an IRR search; the loan's own flows are discounted once
        per cap and reused for every premium rate tried.
        """
        single, per_installment = premiums_paid(basis, principal_insured_fen, monthly_rate,
                                          len(self.payments_fen), vat_rate)
        received = self.principal_fen - self.upfront_fees_fen - single
        if received <= 0:
            return False  # nothing reaches the borrower: no cost is within any cap
        loan_value, annuity = self._discounted(cap, annualization)
        level = per_installment[0] if per_installment else 0
        value = received - loan_value - level * annuity
        level_premiums = all(p == level for p in per_installment)
        if level_premiums and abs(value) > 1e-6 * self.principal_fen:
            return value >= 0  # far from zero: the float sign is right
        return self._exact_value(single, per_installment, cap, annualization) >= 0

    def rate_at_cap(self, basis: PremiumBasis, principal_insured_fen: int, cap: Decimal,
                    annualization: Annualization,
                    vat_rate: Decimal = Decimal(0)) -> float | None:
        """About the monthly premium rate whose all-in cost is exactly ``cap`` (premiums
        and their VAT taken as unrounded), or None when there is none to estimate: a first
        guess for the exact search, never an answer by itself."""
        if principal_insured_fen <= 0 or not self.payments_fen:
            return None
        loan_value, annuity = self._discounted(cap, annualization)
        room = (self.principal_fen - self.upfront_fees_fen - loan_value) / (1 + float(vat_rate))
        if basis is PremiumBasis.SINGLE:
            return room / (principal_insured_fen * len(self.payments_fen))
        return room / (principal_insured_fen * annuity)

    def _discounted(self, cap: Decimal,
                    annualization: Annualization) -> tuple[float, float]:
        """At the cap's monthly rate: the present value of the installments and fees, and
        of one fen paid with every installment."""
        if (cap, annualization) not in self._at:
            v = 1.0 / (1.0 + float(_cap_monthly(cap, annualization)))
            factor, loan, annuity = 1.0, 0.0, 0.0
            for k, payment in enumerate(self.payments_fen):
                factor *= v
                fee = self.fees_fen[k] if k < len(self.fees_fen) else 0
                loan += (payment + fee) * factor
                annuity += factor
            self._at[(cap, annualization)] = (loan, annuity)
        return self._at[(cap, annualization)]

    def _exact_value(self, single: int, per_installment: Sequence[int], cap: Decimal,
                     annualization: Annualization) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = PRECISION
            v = 1 / (1 + _cap_monthly(cap, annualization))
            factor, value = Decimal(1), Decimal(self.principal_fen - self.upfront_fees_fen
                                                - single)
            for k, payment in enumerate(self.payments_fen):
                factor *= v
                fee = self.fees_fen[k] if k < len(self.fees_fen) else 0
                value -= (payment + per_installment[k] + fee) * factor
            return value


def premiums_paid(basis: PremiumBasis, principal_insured_fen: int, monthly_rate: Decimal,
            term_months: int, vat_rate: Decimal) -> tuple[int, list[int]]:
    """What the borrower pays for the cover: the premium schedule (``premium_schedule``),
    each premium with its VAT at ``vat_rate`` (the policy's, ``Policy.vat_on``)."""
    single, per_installment = premium_schedule(basis, principal_insured_fen, monthly_rate,
                                               term_months)
    if not vat_rate:
        return single, list(per_installment)
    return (single + premium_vat(single, vat_rate),
            [p + premium_vat(p, vat_rate) for p in per_installment])


def _cap_monthly(cap: Decimal, annualization: Annualization) -> Decimal:
    """The monthly rate whose annualized cost is ``cap``."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        if annualization is Annualization.EFFECTIVE:
            return (1 + cap) ** (Decimal(1) / MONTHS) - 1
        return cap / MONTHS


def price(*, pd: Decimal, coverage_share: Decimal, terms: PricingTerms, loan: LoanCashFlows,
          basis: PremiumBasis, principal_insured_fen: int, cost_cap: Decimal,
          annualization: Annualization = Annualization.NOMINAL,
          vat_rate: Decimal = Decimal(0)) -> Price:
    """The premium rate for a borrower with 12-month probability of default ``pd``; the
    all-in cost counts the premium and its VAT at ``vat_rate``."""
    if not Decimal(0) <= pd <= 1:
        raise ValueError("pd is a probability")
    expected = pd * terms.lgd * coverage_share
    technical = expected + terms.expense_loading + terms.cost_of_capital + terms.margin
    codes: list[str] = []
    annual = technical
    if annual < terms.floor:
        annual, codes = terms.floor, [PRICE_FLOORED]
    elif annual > terms.cap:
        annual, codes = terms.cap, [PRICE_CAPPED]
    monthly = _monthly(annual)

    def cost_at(rate: Decimal) -> Decimal:
        return loan.cost(basis, principal_insured_fen, rate, annualization, vat_rate)

    def within(rate: Decimal) -> bool:
        return loan.within(basis, principal_insured_fen, rate, cost_cap, annualization,
                           vat_rate)

    def charged(annual_rate: Decimal, monthly_rate: Decimal, reason_codes: tuple[str, ...], *,
                declined: bool = False) -> Price:
        return Price(expected_loss=expected, expense_loading=terms.expense_loading,
                     cost_of_capital=terms.cost_of_capital, margin=terms.margin,
                     technical_rate=technical, annual_rate=annual_rate,
                     monthly_rate=monthly_rate, all_in_cost=cost_at(monthly_rate),
                     reason_codes=reason_codes, declined=declined)

    if within(monthly):
        return charged(annual, monthly, tuple(codes))
    least = max(expected + terms.expense_loading + terms.cost_of_capital, terms.floor)
    fitted = _highest_rate_within(within, hi=monthly, guess=loan.rate_at_cap(
        basis, principal_insured_fen, cost_cap, annualization, vat_rate))
    if fitted is None or fitted * MONTHS < least:
        return charged(annual, monthly, (*codes, DECLINE_COST_CAP), declined=True)
    return charged(fitted * MONTHS, fitted, (*codes, PRICE_LOWERED_TO_COST_CAP))


def _highest_rate_within(within: Callable[[Decimal], bool], *, hi: Decimal,
                         guess: float | None = None) -> Decimal | None:
    """The highest monthly rate in [0, hi] (to the millionth) whose cost is within the cap,
    or None when even no premium at all exceeds it (cost rises with the rate).

    A ``guess`` of that rate is tried first, with the step above it: a rate within the cap
    whose next step is not is the answer, as the cost rises with the rate. Otherwise (the
    guess is off by more than the premiums' rounding) the rates are halved down to it.
    """
    if not within(Decimal(0)):
        return None
    lo_steps, hi_steps = 0, int(hi / RATE_STEP)
    if guess is not None and 0 <= guess < float(hi) + float(RATE_STEP):
        k = min(int(guess / float(RATE_STEP)), hi_steps)
        for step in (k, k - 1):
            if step < 0:
                break
            if within(step * RATE_STEP):
                if step == hi_steps or not within((step + 1) * RATE_STEP):
                    return (step * RATE_STEP).quantize(RATE_STEP, rounding=ROUND_DOWN)
                lo_steps = step + 1  # within, and so is the next: the answer is higher
                break
            hi_steps = step - 1  # not within: the answer is lower
    while lo_steps < hi_steps:
        mid = (lo_steps + hi_steps + 1) // 2
        if within(mid * RATE_STEP):
            lo_steps = mid
        else:
            hi_steps = mid - 1
    return (lo_steps * RATE_STEP).quantize(RATE_STEP, rounding=ROUND_DOWN)
