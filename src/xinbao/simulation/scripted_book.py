"""A small scripted book of insured loans, driven day by day through the use cases.

Two funders, the four product families, loans written over the first months, then for each
loan a scripted borrower: pays on time, pays late and cures, prepays, or defaults (claim,
payment, and for most a recovery later). End-of-day batches run at each month end. The same
seed always gives the same book.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from xinbao.domain.loans import add_months
from xinbao.domain.parties import FunderKind, PartyKind
from xinbao.domain.products import ProductFamily, RepaymentMethod
from xinbao.domain.underwriting import ApplicationStatus
from xinbao.services import applications, catalogue, claims, ledger, policies, servicing
from xinbao.services.commands import (
    ApproveApplication,
    InjectCapital,
    IssuePolicy,
    PayClaim,
    RecordMissedInstallment,
    RecordPrepayment,
    RecordRecovery,
    RecordRepayment,
    RegisterFunder,
    RegisterProduct,
    RunEndOfDay,
    SubmitApplication,
)
from xinbao.services.unit_of_work import UnitOfWork
from xinbao.simulation.identities import IdentityFactory

UowFactory = Callable[[], UnitOfWork]
Progress = Callable[[int, int], None]  # (days done, days in all)


class Behaviour(StrEnum):
    ON_TIME = "on_time"
    LATE_THEN_CURE = "late_then_cure"
    PREPAY = "prepay"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class BookConfig:
    loans: int = 200
    months: int = 12
    seed: int = 7
    start: date = date(2025, 1, 1)
    writing_months: int = 4  # applications arrive over the first months
    default_multiplier: float = 1.0  # scales every family's default share
    late_share: float = 0.08
    prepay_share: float = 0.08
    capital_fen: int = 5_000_000_000  # 50 million yuan paid in on day one

    @property
    def end(self) -> date:
        return add_months(self.start, self.months) - timedelta(days=1)


#: Share of borrowers who stop paying within the year, per family (scripted, not estimated).
_DEFAULT_SHARE = {
    ProductFamily.CONSUMER: 0.08,
    ProductFamily.CAR: 0.04,
    ProductFamily.MORTGAGE_BACKED: 0.015,
    ProductFamily.SMALL_BUSINESS: 0.05,
}

# Per family: amount range (yuan), terms, method, annual rate range (per cent).
_LOAN_SHAPES: dict[ProductFamily, tuple[tuple[int, int], tuple[int, ...], RepaymentMethod,
                                        tuple[float, float]]] = {
    ProductFamily.CONSUMER: ((5_000, 80_000), (12, 24, 36), RepaymentMethod.EQUAL_INSTALLMENT,
                             (9.0, 15.0)),
    ProductFamily.CAR: ((50_000, 300_000), (24, 36), RepaymentMethod.EQUAL_INSTALLMENT,
                        (4.5, 8.0)),
    ProductFamily.MORTGAGE_BACKED: ((200_000, 1_500_000), (36, 60, 120),
                                    RepaymentMethod.EQUAL_PRINCIPAL, (3.8, 5.5)),
    ProductFamily.SMALL_BUSINESS: ((100_000, 800_000), (12, 24), RepaymentMethod.INTEREST_FIRST,
                                   (6.0, 12.0)),
}


@dataclass
class _Loan:
    policy_id: int
    loan_id: int
    installments: list[tuple[int, date, int, int]]  # number, due, principal, interest
    premium_per_installment: int
    behaviour: Behaviour
    stop_at: int  # DEFAULT: first installment never paid; PREPAY: last one paid before payoff
    late_installment: int
    settled: bool = False
    next_date: date | None = None  # the next day this borrower does anything

    def __post_init__(self) -> None:
        self.next_date = self.installments[0][1]


@dataclass
class BookResult:
    config: BookConfig
    applications: int = 0
    declined: int = 0
    policies: int = 0
    repayments: int = 0
    prepayments: int = 0
    claims_opened: int = 0
    claims_declined: int = 0
    claims_paid: int = 0
    recoveries: int = 0
    behaviours: dict[str, int] = field(default_factory=dict)


def run_book(uow: UowFactory, products: list[RegisterProduct], config: BookConfig = BookConfig(),
             progress: Progress | None = None) -> BookResult:
    rng = random.Random(config.seed)
    ids = IdentityFactory(config.seed)
    result = BookResult(config)
    start = config.start

    ledger.inject_capital(InjectCapital(config.capital_fen, start, "opening-capital"), uow())
    families: dict[ProductFamily, str] = {}
    for cmd in products:
        product = catalogue.register_product(cmd, uow())
        families.setdefault(product.family, product.code)
    missing = set(ProductFamily) - set(families)
    if missing:
        raise ValueError(f"the catalogue lacks products for {sorted(missing)}")
    funders = [
        catalogue.register_funder(RegisterFunder(
            code=code, name=ids.company_name(), credit_code=ids.credit_code(), kind=kind,
            licensed=True, commission_rate=Decimal(rate)), uow())
        for code, kind, rate in (("BANK-A", FunderKind.BANK, "0.10"),
                                 ("CFC-B", FunderKind.CONSUMER_FINANCE, "0.15"))
    ]

    # Applications: dates over the writing months, families in turn so every one is present.
    writing_days = (add_months(start, config.writing_months) - start).days
    arrivals = sorted(
        (start + timedelta(days=rng.randrange(writing_days)), i) for i in range(config.loans))
    schedule_by_day: dict[date, list[int]] = {}
    for day, i in arrivals:
        schedule_by_day.setdefault(day, []).append(i)

    book: list[_Loan] = []
    claim_payments: dict[date, list[int]] = {}
    recoveries_due: dict[date, list[tuple[int, int, bool]]] = {}
    days = (config.end - start).days + 1
    for offset in range(days):
        today = start + timedelta(days=offset)
        for i in schedule_by_day.get(today, []):
            family = list(ProductFamily)[i % len(ProductFamily)]
            written = _write_loan(uow, rng, ids, result, funders[i % 2].code, families[family],
                                  family, today, i)
            if written is not None:
                book.append(written)
        for loan in book:
            if loan.next_date is not None and loan.next_date <= today:
                _repay_due(uow, result, loan, today)
        for claim_id in claim_payments.pop(today, []):
            paid = claims.pay_claim(PayClaim(claim_id, today), uow())
            result.claims_paid += 1
            _plan_recoveries(rng, paid.id, paid.amount_fen, today, recoveries_due)
        for claim_id, amount, final in recoveries_due.pop(today, []):
            claims.record_recovery(RecordRecovery(
                claim_id=claim_id, amount_fen=amount, received_on=today, source="borrower",
                reference=f"RCV-{claim_id}-{today.isoformat()}", final=final), uow())
            result.recoveries += 1
        if (today + timedelta(days=1)).month != today.month or today == config.end:
            report = servicing.run_end_of_day(RunEndOfDay(today, close_month=True), uow())
            result.claims_opened += len(report.claims_opened)
            result.claims_declined += len(report.claims_declined)
            for claim_id in report.claims_opened:
                claim_payments.setdefault(today + timedelta(days=rng.randint(5, 20)),
                                          []).append(claim_id)
        if progress is not None:
            progress(offset + 1, days)
    for loan in book:
        result.behaviours[loan.behaviour.value] = result.behaviours.get(loan.behaviour.value,
                                                                        0) + 1
    return result


def _write_loan(uow: UowFactory, rng: random.Random, ids: IdentityFactory, result: BookResult,
                funder_code: str, product_code: str, family: ProductFamily, today: date,
                i: int) -> _Loan | None:
    (low, high), terms, method, (rate_low, rate_high) = _LOAN_SHAPES[family]
    amount_yuan = rng.randrange(low, high + 1, 1_000)
    if rng.random() < 0.04:  # a few ask for more than the product allows: declined
        amount_yuan = high * 10
    rate = Decimal(f"{rng.uniform(rate_low, rate_high):.2f}") / 100
    if family is ProductFamily.SMALL_BUSINESS:
        kind, name, number = PartyKind.ENTERPRISE, ids.company_name(), ids.credit_code()
    else:
        kind, name = PartyKind.INDIVIDUAL, ids.person_name()
        number = ids.resident_id(born_between=(date(1966, 1, 1), date(2001, 12, 31)))
    app = applications.submit_application(SubmitApplication(
        funder_code=funder_code, external_ref=f"{funder_code}-{i:06d}", product_code=product_code,
        borrower_kind=kind, borrower_name=name, borrower_id_number=number,
        borrower_phone=ids.phone(), borrower_bank_card=ids.bank_card(),
        amount_fen=amount_yuan * 100, term_months=rng.choice(terms), annual_rate=rate,
        repayment_method=method, applied_on=today), uow())
    result.applications += 1
    decided = applications.approve_application(ApproveApplication(app.id, today), uow())
    if decided.application.status is ApplicationStatus.DECLINED or decided.policy is None:
        result.declined += 1
        return None
    policy = policies.issue_policy(IssuePolicy(
        policy_id=decided.policy.id, contract_no=f"LN-{funder_code}-{i:06d}",
        disbursed_on=today, on=today), uow())
    result.policies += 1
    with uow() as u:
        loan = u.loans.get(policy.loan_id)
    assert loan is not None
    draw = rng.random()
    c = result.config
    default = _DEFAULT_SHARE[family] * c.default_multiplier
    behaviour = (
        Behaviour.DEFAULT if draw < default
        else Behaviour.LATE_THEN_CURE if draw < default + c.late_share
        else Behaviour.PREPAY if draw < default + c.late_share + c.prepay_share
        else Behaviour.ON_TIME)
    n = loan.term_months
    return _Loan(
        policy_id=policy.id, loan_id=loan.id,
        installments=[(x.number, x.due_date, x.principal_fen, x.interest_fen)
                      for x in loan.installments],
        premium_per_installment=policy.installment_premium_fen, behaviour=behaviour,
        stop_at=rng.randint(1, min(4, n)) if behaviour is Behaviour.DEFAULT
        else rng.randint(1, max(1, min(8, n - 1))),
        late_installment=rng.randint(1, min(3, n)),
    )


def _repay_due(uow: UowFactory, result: BookResult, loan: _Loan, today: date) -> None:
    if loan.settled:
        loan.next_date = None
        return
    loan.next_date = min((d for _, due, _, _ in loan.installments
                          for d in (due, due + timedelta(days=3), due + timedelta(days=35))
                          if d > today), default=None)
    for number, due, principal, interest in loan.installments:
        pay_on = due
        if loan.behaviour is Behaviour.DEFAULT and number >= loan.stop_at:
            if today == due + timedelta(days=3):
                servicing.record_missed_installment(
                    RecordMissedInstallment(loan.loan_id, number, today), uow())
            continue
        if loan.behaviour is Behaviour.LATE_THEN_CURE and number == loan.late_installment:
            pay_on = due + timedelta(days=35)
        if pay_on != today:
            continue
        servicing.record_repayment(RecordRepayment(
            loan_id=loan.loan_id, installment_number=number, paid_on=today,
            principal_fen=principal, interest_fen=interest,
            premium_fen=loan.premium_per_installment, reference=f"TX-{loan.loan_id}-{number}"),
            uow())
        result.repayments += 1
        if loan.behaviour is Behaviour.PREPAY and number == loan.stop_at:
            servicing.record_prepayment(RecordPrepayment(
                loan_id=loan.loan_id, paid_on=today, interest_fen=0,
                reference=f"PP-{loan.loan_id}"), uow())
            loan.settled = True
            result.prepayments += 1
            return


def _plan_recoveries(rng: random.Random, claim_id: int, amount_fen: int, paid_on: date,
                     due: dict[date, list[tuple[int, int, bool]]]) -> None:
    """Most defaulted borrowers repay part of the indemnity in a few monthly amounts."""
    if rng.random() < 0.3:
        return
    share = Decimal(str(round(rng.uniform(0.2, 0.7), 2)))
    total = int(amount_fen * share)
    parts = rng.randint(1, 4)
    first = paid_on + timedelta(days=rng.randint(20, 60))
    for k in range(parts):
        amount = total // parts + (total % parts if k == parts - 1 else 0)
        if amount > 0:
            due.setdefault(first + timedelta(days=30 * k), []).append(
                (claim_id, amount, k == parts - 1))
