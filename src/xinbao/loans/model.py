"""Loans: repayment schedules, repayment position, days past due and the all-in cost.

Interest is charged monthly at ``annual rate / 12`` (月利率 = 年利率 / 12). Amounts are integer
fen; each amount derived from a rate is rounded once, ROUND_HALF_UP to the fen.

Schedules
- Equal installment (等额本息): the payment is ``pmt`` rounded to the fen; the principal part of
  each installment but the last is ``ppmt`` rounded to the fen, its interest part the payment
  less that; the last installment repays whatever principal is left (the rounding residue,
  尾差) with interest on that balance. So every payment but the last equals numpy-financial's
  ``pmt`` and every principal part but the last its ``ppmt``, each rounded to the fen.
- Equal principal (等额本金): principal parts are the differences of the cumulative share
  ``round(P·k/n)``, so they differ by at most one fen and sum exactly; interest is on the
  balance before the installment.
- Interest first (先息后本): interest on the whole principal every month, principal at the end.

Schedule changes (issue 23), each from the first installment not yet paid in full, the ones
before it kept as paid:
- a partial prepayment (部分提前还款) keeps the term and lowers what is left: the principal
  left after it is spread again over the installments left, by the loan's method at its rate,
  and the installment it is paid with carries the prepaid principal and the interest paid
  with it, beside what was paid on it already (``partial_prepayment_schedule``);
- a restructuring (重组/展期) spreads the unpaid principal over a new number of installments
  at a new rate (or the same), due monthly on the loan's day from the first of them after the
  restructuring; installments are numbered by the month they fall due in, so those already
  due keep their numbers with nothing left to pay, and the interest left unpaid on them
  falls due with the first new one (``restructured_schedule``).
Either way the principal of the schedule still sums to the loan's; its digest
(``schedule_digest``) is what a policy insures.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum

from xinbao.catalogue.model.products import RepaymentMethod
from xinbao.kernel.errors import IllegalTransition, InvalidInput
from xinbao.kernel.events import Event
from xinbao.kernel.money import PRECISION, apply_rate_over, round_fen

MONTHS_PER_YEAR = 12


def add_months(start: date, months: int) -> date:
    """Same day ``months`` later, or the month's last day when it is shorter."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = start.day if start.day <= 28 else min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


@dataclass(frozen=True, slots=True)
class Installment:
    number: int  # 1-based
    due_date: date
    principal_fen: int
    interest_fen: int

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.interest_fen


def monthly_rate(annual_rate: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return annual_rate / MONTHS_PER_YEAR


def monthly_interest(balance_fen: int, annual_rate: Decimal) -> int:
    """A month's interest on a balance, ``balance × annual rate / 12``, rounded once."""
    return apply_rate_over(balance_fen, annual_rate, MONTHS_PER_YEAR)


def exact_payment(principal_fen: int, rate: Decimal, term: int) -> Decimal:
    """The level payment (``pmt``) in exact fen, before rounding."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        if rate == 0:
            return Decimal(principal_fen) / term
        return Decimal(principal_fen) * rate / (1 - (1 + rate) ** -term)


def build_schedule(
    *, principal_fen: int, annual_rate: Decimal, term_months: int, method: RepaymentMethod,
    start: date,
) -> tuple[Installment, ...]:
    """The contractual schedule of a loan disbursed on ``start``; due dates monthly from it."""
    amounts = schedule_amounts(principal_fen=principal_fen, annual_rate=annual_rate,
                               term_months=term_months, method=method)
    return tuple(
        Installment(k, add_months(start, k), p, i) for k, (p, i) in enumerate(amounts, start=1)
    )


def schedule_amounts(
    *, principal_fen: int, annual_rate: Decimal, term_months: int, method: RepaymentMethod,
) -> list[tuple[int, int]]:
    """Each installment's (principal, interest) in fen, in order: the schedule without its
    dates (pricing needs only the amounts; the dates cost as much as the amounts)."""
    if principal_fen <= 0:
        raise ValueError("principal must be positive")
    if term_months <= 0:
        raise ValueError("term must be at least one month")
    if annual_rate < 0:
        raise ValueError("interest rate cannot be negative")
    r = monthly_rate(annual_rate)
    n = term_months
    parts: list[tuple[int, int]] = []
    balance = principal_fen
    if method is RepaymentMethod.EQUAL_INSTALLMENT:
        exact = exact_payment(principal_fen, r, n)
        payment = round_fen(exact)
        with localcontext() as ctx:
            ctx.prec = PRECISION
            growth = 1 + r
            part = exact * growth ** -n  # ppmt of installment 1; each next one is (1 + r) times
            for _ in range(1, n):
                principal = int(part.to_integral_value(rounding=ROUND_HALF_UP))
                part *= growth
                if principal > balance:  # only for loans of a few fen per installment
                    principal, interest = balance, monthly_interest(balance, annual_rate)
                else:
                    interest = payment - principal
                parts.append((principal, interest))
                balance -= principal
        parts.append((balance, monthly_interest(balance, annual_rate)))
    elif method is RepaymentMethod.EQUAL_PRINCIPAL:
        repaid = 0
        for k in range(1, n + 1):
            cumulative = round_fen(Decimal(principal_fen * k) / n)
            principal = cumulative - repaid
            parts.append((principal, monthly_interest(balance, annual_rate)))
            repaid = cumulative
            balance -= principal
    elif method is RepaymentMethod.INTEREST_FIRST:
        interest = monthly_interest(principal_fen, annual_rate)
        parts = [(0, interest)] * (n - 1) + [(principal_fen, interest)]
    else:  # pragma: no cover - exhaustive over the enum
        raise ValueError(f"unknown repayment method {method}")
    return parts


class LoanStatus(StrEnum):
    ACTIVE = "active"
    PAID_OFF = "paid_off"
    CLAIMED = "claimed"  # the insurer indemnified the funder; recovery follows


@dataclass(frozen=True, slots=True)
class Repayment:
    """One repayment reported by the funder, allocated to one installment."""

    loan_id: int
    installment_number: int
    paid_on: date
    principal_fen: int
    interest_fen: int
    id: int | None = None


@dataclass(eq=False, slots=True)
class Loan:
    funder_id: int
    contract_no: str
    principal_fen: int
    annual_rate: Decimal
    term_months: int
    method: RepaymentMethod
    start_date: date
    installments: tuple[Installment, ...]
    status: LoanStatus = LoanStatus.ACTIVE
    #: Due date of the earliest installment not fully paid (None once all are): the one
    #: piece of servicing state the end-of-day batch needs for days past due.
    first_unpaid_due_date: date | None = None
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    def transfer(self, *, to_funder_id: int, contract_no: str, on: date) -> None:
        """The loan sold to another funder (its creditor now), under that funder's contract
        number; the borrower and the schedule stay."""
        before = (self.funder_id, self.contract_no)
        self.funder_id, self.contract_no = to_funder_id, contract_no
        self.events.append(Event("LoanTransferred", "loan", self.id, on, {
            "from_funder_id": before[0], "from_contract_no": before[1],
            "to_funder_id": to_funder_id, "to_contract_no": contract_no}))

    @classmethod
    def disburse(cls, *, funder_id: int, contract_no: str, principal_fen: int,
                 annual_rate: Decimal, term_months: int, method: RepaymentMethod,
                 start: date) -> Loan:
        """A new loan with its contractual schedule, nothing yet repaid."""
        schedule = build_schedule(principal_fen=principal_fen, annual_rate=annual_rate,
                                  term_months=term_months, method=method, start=start)
        return cls(funder_id=funder_id, contract_no=contract_no, principal_fen=principal_fen,
                   annual_rate=annual_rate, term_months=term_months, method=method,
                   start_date=start, installments=schedule,
                   first_unpaid_due_date=schedule[0].due_date)

    def apply_repayments(self, paid: Mapping[int, tuple[int, int]]) -> None:
        """Refresh the servicing state from what has been paid per installment."""
        self.first_unpaid_due_date = first_unpaid_due_date(self.installments, paid)

    def days_past_due(self, on: date) -> int:
        return days_past_due(self.first_unpaid_due_date, on)

    def reschedule(self, installments: tuple[Installment, ...], *, on: date, why: str,
                   annual_rate: Decimal | None = None, **data: object) -> None:
        """The schedule from its first changed installment on is ``installments`` (the
        whole new schedule, ``partial_prepayment_schedule`` or ``restructured_schedule``);
        a restructuring may change the rate. The term is the number of installments."""
        before = self.installments
        self.installments = installments
        self.term_months = len(installments)
        if annual_rate is not None:
            self.annual_rate = annual_rate
        changed = next((i.number for i, j in zip(before, installments, strict=False)
                        if i != j), min(len(before), len(installments)) + 1)
        self.events.append(Event("LoanRescheduled", "loan", self.id, on, {
            "why": why, "from_installment": changed, "term_months": self.term_months,
            "annual_rate": str(self.annual_rate), "schedule_sha256": schedule_digest(
                installments), **data}))

    def pay_off(self) -> None:
        """All principal is repaid (at maturity or before): servicing ends."""
        self._move(LoanStatus.PAID_OFF, "pay off")

    def mark_claimed(self) -> None:
        """The insurer indemnified the funder: the indemnity is fixed, and money from the
        borrower from now on is a recovery on the claim, not a repayment."""
        self._move(LoanStatus.CLAIMED, "mark claimed")

    def _move(self, target: LoanStatus, action: str) -> None:
        """Only an active loan changes status; paid off and claimed are final."""
        if self.status is not LoanStatus.ACTIVE:
            raise IllegalTransition("loan", self.id, self.status.value, action)
        self.status = target

    @property
    def maturity_date(self) -> date:
        return self.installments[-1].due_date

    def installment(self, number: int) -> Installment | None:
        if 1 <= number <= len(self.installments):
            return self.installments[number - 1]
        return None


def schedule_digest(installments: Iterable[Installment]) -> str:
    """SHA-256 of a schedule (number, due date, principal and interest of each installment):
    what a policy insures, so a schedule changed without the insurer shows."""
    text = "\n".join(f"{i.number}|{i.due_date.isoformat()}|{i.principal_fen}|{i.interest_fen}"
                     for i in installments)
    return hashlib.sha256(text.encode()).hexdigest()


def _next_unpaid(installments: Sequence[Installment],
                 paid: Mapping[int, tuple[int, int]]) -> Installment:
    found = next((i for i in installments if not installment_settled(i, paid)), None)
    if found is None:
        raise InvalidInput.single("loan", "loan.repaid", "every installment is paid")
    return found


def _replaced(loan: Loan, paid: Mapping[int, tuple[int, int]], current: Installment, *,
              field: str, rule: str) -> list[Installment]:
    """The installments from ``current`` (the first not paid in full) on, which a new
    schedule replaces: refused (``rule``) when a later one is paid in part already."""
    left = [i for i in loan.installments if i.number >= current.number]
    ahead = [i.number for i in left[1:] if paid.get(i.number, (0, 0)) != (0, 0)]
    if ahead:
        raise InvalidInput.single(field, rule, f"installment {ahead[0]} is paid in part "
                                               f"ahead of installment {current.number}")
    return left


def partial_prepayment_schedule(
    loan: Loan, paid: Mapping[int, tuple[int, int]], *, on: date, principal_fen: int,
    interest_fen: int,
) -> tuple[Installment, ...]:
    """The schedule after ``principal_fen`` of principal is repaid early on ``on`` with
    ``interest_fen`` of interest (see the module's docstring). The installment it is paid
    with is the first not paid in full, not yet due before ``on``: what was paid on it
    already (an earlier partial prepayment) stays with it; less than all the principal left
    is prepaid (all of it is a prepayment)."""
    current = _next_unpaid(loan.installments, paid)
    p_paid, i_paid = paid.get(current.number, (0, 0))
    if current.due_date < on:
        raise InvalidInput.single("paid_on", "prepayment.past_due",
                                  f"installment {current.number} fell due on "
                                  f"{current.due_date}: record it before prepaying")
    left = _replaced(loan, paid, current, field="paid_on", rule="prepayment.paid_ahead")
    outstanding = sum(i.principal_fen for i in left) - p_paid
    if not 0 < principal_fen < outstanding:
        raise InvalidInput.single(
            "principal_fen", "prepayment.partial_amount",
            f"a partial prepayment repays more than 0 and less than the {outstanding} fen "
            "of principal left (all of it is a prepayment)")
    if interest_fen < 0:
        raise InvalidInput.single("interest_fen", "amount.nonnegative",
                                  "interest cannot be negative")
    amounts = schedule_amounts(principal_fen=outstanding - principal_fen,
                               annual_rate=loan.annual_rate, term_months=len(left),
                               method=loan.method)
    tail = [Installment(i.number, i.due_date, p, r) for i, (p, r) in zip(left, amounts,
                                                                      strict=True)]
    first = tail[0]
    tail[0] = Installment(first.number, first.due_date,
                          first.principal_fen + p_paid + principal_fen,
                          first.interest_fen + i_paid + interest_fen)
    return loan.installments[:current.number - 1] + tuple(tail)


def restructured_schedule(
    loan: Loan, paid: Mapping[int, tuple[int, int]], *, on: date, installments: int,
    annual_rate: Decimal,
) -> tuple[Installment, ...]:
    """The schedule after a restructuring on ``on`` (see the module's docstring): the
    principal not yet paid spread over ``installments`` new ones at ``annual_rate`` by the
    loan's method, due monthly on the loan's day from the first such day after ``on``.
    Installments are numbered by the month they fall due in, so those already due and
    replaced keep their numbers with nothing left to pay (what was paid on them stays
    theirs), and interest left unpaid on them falls due with the first new one."""
    if installments < 1 or installments > 360:
        raise InvalidInput.single("installments", "restructure.installments",
                                  "a restructured loan has 1 to 360 installments left")
    if not isinstance(annual_rate, Decimal) or not annual_rate.is_finite() \
            or not 0 <= annual_rate < 1:
        raise InvalidInput.single("annual_rate", "restructure.rate",
                                  "the annual rate is a share in [0, 1)")
    current = _next_unpaid(loan.installments, paid)
    replaced = _replaced(loan, paid, current, field="loan", rule="restructure.paid_ahead")
    p_paid, i_paid = paid.get(current.number, (0, 0))
    principal = sum(i.principal_fen for i in replaced) - p_paid
    if principal <= 0:
        raise InvalidInput.single("loan", "restructure.principal",
                                  "no principal is left to restructure")
    # Interest unpaid on the installments already due falls due with the first new one.
    unpaid_interest = sum(i.interest_fen for i in replaced if i.due_date < on) - (
        i_paid if current.due_date < on else 0)
    first_new = current.number
    while add_months(loan.start_date, first_new) <= on:
        first_new += 1
    folded = tuple(Installment(n, add_months(loan.start_date, n),
                               *((p_paid, i_paid) if n == current.number else (0, 0)))
                   for n in range(current.number, first_new))
    amounts = schedule_amounts(principal_fen=principal, annual_rate=annual_rate,
                               term_months=installments, method=loan.method)
    tail = [Installment(first_new + k, add_months(loan.start_date, first_new + k), p, r)
            for k, (p, r) in enumerate(amounts)]
    carried = (0, 0) if folded else (p_paid, i_paid)
    tail[0] = Installment(tail[0].number, tail[0].due_date, tail[0].principal_fen + carried[0],
                          tail[0].interest_fen + carried[1] + unpaid_interest)
    return loan.installments[:current.number - 1] + folded + tuple(tail)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a loan stands on a date, from its schedule and the repayments reported."""

    as_of: date
    days_past_due: int
    first_unpaid_due_date: date | None  # earliest installment past due and not fully paid
    outstanding_principal_fen: int
    overdue_principal_fen: int
    overdue_interest_fen: int
    paid_off: bool


def paid_by_installment(repayments: Iterable[Repayment]) -> dict[int, tuple[int, int]]:
    """(principal, interest) paid per installment number."""
    paid: dict[int, tuple[int, int]] = {}
    for r in repayments:
        p, i = paid.get(r.installment_number, (0, 0))
        paid[r.installment_number] = (p + r.principal_fen, i + r.interest_fen)
    return paid


def installment_settled(installment: Installment, paid: Mapping[int, tuple[int, int]]) -> bool:
    """Both the principal and the interest of the installment are paid in full."""
    p_paid, i_paid = paid.get(installment.number, (0, 0))
    return p_paid >= installment.principal_fen and i_paid >= installment.interest_fen


def first_unpaid_due_date(
    installments: Sequence[Installment], paid: Mapping[int, tuple[int, int]],
) -> date | None:
    """Due date of the earliest installment not paid in full, or None when all are."""
    return next((i.due_date for i in installments if not installment_settled(i, paid)), None)


def days_past_due(first_unpaid_due_date: date | None, on: date) -> int:
    """Days past due on ``on``: counted from the earliest installment left unpaid, 0 while
    none is (or its due date has not passed)."""
    due = first_unpaid_due_date
    return (on - due).days if due is not None and due < on else 0


def position(
    installments: Sequence[Installment], paid: Mapping[int, tuple[int, int]], as_of: date,
) -> Position:
    """Days past due count from the day after the earliest installment left unpaid.

    On its due date an installment is not yet past due; the next day it is 1 day past due.
    """
    first_unpaid: date | None = None
    outstanding = overdue_principal = overdue_interest = 0
    for inst in installments:
        p_paid, i_paid = paid.get(inst.number, (0, 0))
        p_left = inst.principal_fen - p_paid
        i_left = inst.interest_fen - i_paid
        outstanding += p_left
        if inst.due_date < as_of and (p_left > 0 or i_left > 0):
            overdue_principal += p_left
            overdue_interest += i_left
            if first_unpaid is None:
                first_unpaid = inst.due_date
    dpd = days_past_due(first_unpaid, as_of)
    fully_paid = all(installment_settled(i, paid) for i in installments)
    return Position(
        as_of=as_of, days_past_due=dpd, first_unpaid_due_date=first_unpaid,
        outstanding_principal_fen=outstanding, overdue_principal_fen=overdue_principal,
        overdue_interest_fen=overdue_interest, paid_off=fully_paid,
    )


class Annualization(StrEnum):
    NOMINAL = "nominal"  # monthly IRR × 12
    EFFECTIVE = "effective"  # (1 + monthly IRR)^12 − 1


def _float_root(flows: Sequence[int], lo: float, hi: float) -> float:
    """A root of the flows' NPV in [lo, hi] (where it changes sign), to about 1e-15: Newton's
    method, falling back to bisection whenever a step would leave the bracket."""
    def npv_and_slope(r: float) -> tuple[float, float]:
        v = 1.0 / (1.0 + r)
        factor, total, slope = 1.0, 0.0, 0.0
        for k, f in enumerate(flows):
            total += f * factor
            slope -= k * f * factor * v
            factor *= v
        return total, slope

    f_lo = npv_and_slope(lo)[0]
    r = min(max(0.01, lo), hi)
    for _ in range(100):
        value, slope = npv_and_slope(r)
        if value == 0:
            return r
        if (value > 0) == (f_lo > 0):
            lo = r
        else:
            hi = r
        if slope and abs(value / slope) < 1e-16:  # converged: this r, not a bisection
            return r
        step = r - value / slope if slope else (lo + hi) / 2
        r = step if lo < step < hi else (lo + hi) / 2
        if hi - lo < 1e-15:
            break
    return r


def monthly_irr(flows: Sequence[int]) -> Decimal:
    """The monthly rate at which the flows (month 0, 1, …, in fen) have zero present value.

    The root in [-0.99, 10] where the NPV changes sign: found in binary floating point, then
    refined by one Newton step in Decimal (from about 1e-16, so to far below a millionth of a
    basis point).
    """
    if not flows or all(f >= 0 for f in flows) or all(f <= 0 for f in flows):
        raise ValueError("cash flows must contain both inflows and outflows")
    lo, hi = -0.99, 10.0

    def float_npv(r: float) -> float:
        v, factor, total = 1.0 / (1.0 + r), 1.0, 0.0
        for f in flows:
            total += f * factor
            factor *= v
        return total

    if (float_npv(lo) > 0) == (float_npv(hi) > 0):
        raise ValueError("no rate in [-99%, 1000%] a month sets the flows to zero")
    guess = _float_root(flows, lo, hi)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        rate = Decimal(repr(guess))
        v = 1 / (1 + rate)
        factor, total, slope = Decimal(1), Decimal(0), Decimal(0)
        for k, f in enumerate(flows):
            total += f * factor
            slope -= k * f * factor * v
            factor *= v
        if slope != 0 and total != 0:
            rate -= total / slope
        return rate


def all_in_annual_cost(
    *,
    principal_fen: int,
    installments: Sequence[Installment],
    premiums_fen: Sequence[int] = (),
    upfront_fen: int = 0,
    fees_fen: Sequence[int] = (),
    annualization: Annualization = Annualization.NOMINAL,
) -> Decimal:
    """Borrower's all-in annualized cost by IRR of the actual cash flows (DOMAIN §3).

    Month 0: the borrower receives the principal less anything paid up front (a single premium
    or fees deducted at disbursement). Month k: installment k plus the premium and fees paid
    with it. Returns a rate (e.g. ``0.18`` for 18 %).
    """
    return all_in_annual_cost_of_payments(
        principal_fen=principal_fen, payments_fen=[i.total_fen for i in installments],
        premiums_fen=premiums_fen, upfront_fen=upfront_fen, fees_fen=fees_fen,
        annualization=annualization)


def all_in_annual_cost_of_payments(
    *,
    principal_fen: int,
    payments_fen: Sequence[int],
    premiums_fen: Sequence[int] = (),
    upfront_fen: int = 0,
    fees_fen: Sequence[int] = (),
    annualization: Annualization = Annualization.NOMINAL,
) -> Decimal:
    """``all_in_annual_cost`` from each installment's amount due (principal + interest)."""
    flows = [principal_fen - upfront_fen]
    for k, payment in enumerate(payments_fen):
        premium = premiums_fen[k] if k < len(premiums_fen) else 0
        fee = fees_fen[k] if k < len(fees_fen) else 0
        flows.append(-(payment + premium + fee))
    irr = monthly_irr(flows)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        if annualization is Annualization.EFFECTIVE:
            return (1 + irr) ** MONTHS_PER_YEAR - 1
        return irr * MONTHS_PER_YEAR
