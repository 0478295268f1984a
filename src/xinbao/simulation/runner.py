"""The market simulator: a simulated clock that drives Xinbao day by day, as funders would.

Each day: the funders' application files are submitted, the day's applications decided,
approved loans disbursed and their policies issued (disbursement files), the funders'
repayment files ingested, prepayments recorded, the end-of-day batch run; claims it opens
are paid by claims staff some days later, and recoveries come in after that. Everything
goes through the use cases (each context's ``services``); the simulator never touches storage.

The truth behind each application (its true PD, whether it was fraud, what the borrower
did) goes to a separate ground-truth file that the system never reads.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from xinbao.batch.services import DaySnapshot
from xinbao.billing import services as billing
from xinbao.billing.commands import SettleFunder
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import RegisterFunder, RegisterProduct
from xinbao.catalogue.model.parties import PartyKind
from xinbao.catalogue.model.products import ProductFamily
from xinbao.claims import services as claims
from xinbao.claims.commands import ApproveClaim, FileClaim, RecordRecovery, SettleClaims
from xinbao.kernel.errors import Conflict, DomainError
from xinbao.kernel.results import Rejection
from xinbao.ledger import services as ledger
from xinbao.ledger.commands import InjectCapital
from xinbao.loans.model import add_months, paid_by_installment, position
from xinbao.policy import endorsements
from xinbao.policy import services as policies
from xinbao.policy.commands import (
    CancelPolicy,
    IssuePolicies,
    IssuePolicy,
    PrepayInPart,
    RestructureLoan,
)
from xinbao.reinsurance.services import close_reinsurance
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplications
from xinbao.risk.model.bureau import Report, Standing
from xinbao.risk.services import RiskEngine
from xinbao.servicing import services as servicing
from xinbao.servicing.claim_screen import ring_lookup
from xinbao.servicing.commands import (
    IngestRepaymentFile,
    RecordPrepayment,
    RepaymentRecord,
    RunEndOfDay,
)
from xinbao.simulation import market
from xinbao.simulation.bureau import SimulatedBureau
from xinbao.simulation.history import CAR_TIER, CITY_TIER
from xinbao.simulation.identities import IdentityFactory, place_of
from xinbao.simulation.scenario import Scenario
from xinbao.underwriting import services as applications
from xinbao.underwriting.commands import SubmitApplication, SubmitApplicationFile
from xinbao.underwriting.model import (
    ApplicationStatus,
    CollateralKind,
    CollateralOffer,
    Evidence,
    EvidenceKind,
    Profile,
)
from xinbao.unit_of_work import UnitOfWork

UowFactory = Callable[[], UnitOfWork]
Progress = Callable[[int, int], None]  # (days done, days in all)
#: Keeps the day's end-of-day snapshot (``batch.services.snapshot_day`` with the store,
#: rules and engine the caller chose) after the day's batch.
Snapshotter = Callable[[date], DaySnapshot]

#: Paid-in capital on day one: enough to carry the book (net assets for later limits).
OPENING_CAPITAL_FEN = 200_000_000_000


@dataclass
class SimulationResult:
    scenario: Scenario
    end: date
    applications: int = 0
    rejected: int = 0  # refused at intake (invalid file rows)
    approved: int = 0
    declined: int = 0
    referred: int = 0  # left in the manual review queue (the simulator has no reviewers)
    policies: int = 0
    repayments: int = 0
    prepayments: int = 0
    claims_opened: int = 0
    claims_declined: int = 0
    claims_automatic: int = 0  # of the opened, approved by the system at once
    claims_reviewed: int = 0  # of the opened, approved by claims staff
    claims_paid: int = 0  # by the month-end payment batches
    claim_notices: int = 0  # notices the funders sent before the trigger
    settlements: int = 0  # payment batches (each with its statement)
    recoveries: int = 0
    snapshots: int = 0  # days whose end-of-day snapshot was kept
    cancellations: int = 0  # policies cancelled in the cooling-off period
    partial_prepayments: int = 0  # principal repaid early in part (the cover with it)
    restructures: int = 0  # loans restructured by their funder
    restructures_consented: int = 0  # of those, with the insurer's consent
    reinsurance_closes: int = 0  # month ends whose treaty accounts were closed
    premium_settlements: int = 0  # funders' premium statements settled through the bank
    last_snapshot: DaySnapshot | None = None
    truth: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)

    @property
    def approval_rate(self) -> float:
        decided = self.approved + self.declined + self.referred
        return self.approved / decided if decided else 0.0


@dataclass(slots=True)
class _Loan:
    """What the simulator keeps of one disbursed loan: its schedule and its fate."""

    loan_id: int
    funder: str
    contract_no: str
    schedule: np.ndarray  # rows: (due date ordinal, principal fen, interest fen)
    premium_fen: int  # installment premium and its VAT, paid with each installment
    default_at: int
    prepay_after: int
    late: dict[int, int]  # installment → days late
    partial: frozenset[int]
    recovery_rate: float
    recovery_lag: int
    recovery_parts: int
    truth_row: int
    policy_id: int = 0
    trigger_dpd: int = 0  # the product's claim trigger, days past due
    cancelled: bool = False  # its policy was cancelled: the insurer follows it no more
    #: After paying this installment the borrower repays ``part_share`` of the principal
    #: left early (0: never); after this one the funder restructures the loan over
    #: ``restructure_months`` installments, with the insurer's consent or not.
    part_prepay_at: int = 0
    part_share: float = 0.0
    restructure_at: int = 0
    restructure_months: int = 0
    restructure_consent: bool = False


#: The random stream of the cooling-off cancellations (market.py's streams are 1 to 4; the
#: claims' 7 and 8), and of the partial prepayments and restructurings.
_CANCELS = 9
_CHANGES = 10


def run_market(scenario: Scenario, uow: UowFactory, products: list[RegisterProduct], *,
               engine: RiskEngine, bureau: SimulatedBureau,
               progress: Progress | None = None,
               snapshot: Snapshotter | None = None) -> SimulationResult:
    """Simulate ``scenario`` against the system behind ``uow``; return the figures and the
    ground truth (``result.truth``, one row per application). ``engine`` decides; its
    bureau asks ``bureau``, which the simulator tells what the market drew for each
    borrower. With ``snapshot``, the end-of-day batch keeps the day's snapshot on each
    month's last day and on the simulation's last day (``result.last_snapshot``)."""
    catalogue_by_code = {p.code: p for p in products}
    missing = {code for code in scenario.products.values()} - set(catalogue_by_code)
    if missing:
        raise ValueError(f"the catalogue lacks products {sorted(missing)}")
    start = scenario.start
    end = add_months(start, scenario.months) - timedelta(days=1)
    result = SimulationResult(scenario=scenario, end=end)

    ledger.inject_capital(InjectCapital(OPENING_CAPITAL_FEN, start, f"capital:{scenario.name}"),
                          uow())
    for cmd in products:
        catalogue.register_product(cmd, uow())
    ids = IdentityFactory(scenario.seed)
    for f in scenario.funders:
        ids.reseed(hash_seed(scenario.seed, "funder", f.code))
        catalogue.register_funder(RegisterFunder(
            code=f.code, name=f.name, credit_code=ids.credit_code(), kind=f.kind, licensed=True,
            commission_rate=f.commission_rate, products=f.products, effective_from=start,
            volume_share=Decimal(str(f.volume_share)), risk_share=f.risk_share,
            settlement_days=f.settlement_days, file_format=f.file_format,
            premium_collector=f.premium_collector),
            uow())

    macro = market.macro_path(scenario, market.horizon_months(scenario))
    counts = market.arrivals(scenario)
    days = (end - start).days + 1
    agenda: list[tuple[int, int, str, int, int]] = []  # (day ordinal, seq, kind, loan, arg)
    reviewed: set[int] = set()  # claims in the claims queue, approved when they are paid
    seq = 0
    loans: list[_Loan] = []
    truth: dict[str, list] = defaultdict(list)
    ring_identity: dict[int, tuple[str, ...]] = {}
    by_loan_id: dict[int, int] = {}
    ring_members = 0

    def schedule(day: date | int, kind: str, loan: int, arg: int = 0) -> None:
        nonlocal seq
        seq += 1
        ordinal = day if isinstance(day, int) else day.toordinal()
        heapq.heappush(agenda, (ordinal, seq, kind, loan, arg))

    for offset in range(days):
        today = start + timedelta(days=offset)
        n = int(counts[offset]) if offset < len(counts) else 0
        if n:
            batch = market.draw_applicants(scenario, offset, n, ring_members)
            ring_members += int((batch.ring >= 0).sum())
            new_loans = _write_business(scenario, uow, catalogue_by_code, ids, ring_identity,
                                        macro, batch, today, offset, result, truth,
                                        engine, bureau)
            for loan in new_loans:
                loans.append(loan)
                by_loan_id[loan.loan_id] = len(loans) - 1
                schedule(int(loan.schedule[0, 0]), "due", len(loans) - 1, 1)
                g = market.rng(scenario, _CANCELS, len(loans) - 1)
                if g.random() < scenario.cancel_share:  # withdrawn within the cooling-off
                    schedule(today + timedelta(days=int(g.integers(1, 10))), "cancel",
                             len(loans) - 1)
                _plan_changes(scenario, loan, len(loans) - 1)
        files: dict[str, list[RepaymentRecord]] = defaultdict(list)
        prepay: list[int] = []
        payments: list[int] = []
        notices: list[int] = []
        recoveries: list[tuple[int, int, bool]] = []
        cancels: list[int] = []
        changes: list[tuple[int, str]] = []
        while agenda and agenda[0][0] <= today.toordinal():
            _, _, kind, idx, arg = heapq.heappop(agenda)
            if idx >= 0 and loans[idx].cancelled:
                continue  # uninsured now: its repayments are the funder's own business
            if kind == "cancel":
                cancels.append(idx)
            elif kind == "due":
                loan = loans[idx]
                if loan.default_at and arg == loan.default_at:
                    # The borrower stops here: for some, the funder sends a claim notice
                    # before the trigger (kept until the batch finds it reached).
                    g = market.rng(scenario, 8, idx)
                    if g.random() < scenario.notice_share:
                        early = int(g.integers(1, 26))
                        schedule(today + timedelta(days=max(1, loan.trigger_dpd - early)),
                                 "notice", idx)
                _due(loan, idx, arg, today, files, prepay, schedule, changes)
            elif kind == "notice":
                notices.append(idx)
            elif kind == "pay":
                loan = loans[idx]
                k, part = divmod(arg, 10)
                files[loan.funder].append(_record(loan, k, today, part))
                if part != 1:
                    _paid(loan, idx, k, prepay, changes)
            elif kind == "claim":
                payments.append(arg)
            elif kind == "recover":
                recoveries.append((idx, arg, False))
            elif kind == "recover_last":
                recoveries.append((idx, arg, True))
        for idx in cancels:
            loan = loans[idx]
            try:
                endorsements.cancel_policy(CancelPolicy(
                    loan.policy_id, today, "the borrower withdrew in the cooling-off period",
                    insured_consent=True), uow())
            except DomainError:  # not in force any more (repaid, or in default)
                continue
            loan.cancelled = True
            result.cancellations += 1
        if files:  # the day's files, one a funder, ingested together
            outcomes = servicing.ingest_repayment_files([IngestRepaymentFile(
                funder_code=funder_code, file_reference=f"{today.isoformat()}",
                received_on=today, records=tuple(files[funder_code]))
                for funder_code in sorted(files)], uow())
            result.repayments += sum(outcome.accepted for outcome in outcomes)
        for idx, change in changes:
            _change(uow, loans[idx], change, today, result)
        refusals: tuple[Rejection, ...] = ()
        if prepay:
            done = servicing.record_prepayments([RecordPrepayment(
                loan_id=loans[idx].loan_id, paid_on=today, interest_fen=0,
                reference=f"PP-{loans[idx].contract_no}") for idx in prepay], uow())
            result.prepayments += len(done.accepted)
            refusals = done.rejected
        for refused in refusals:
            # an earlier installment is still late: the borrower pays on as scheduled
            if isinstance(refused.error, Conflict):
                idx = prepay[refused.index]
                loan = loans[idx]
                k = loan.prepay_after
                loan.prepay_after = 0
                if k < len(loan.schedule):
                    next_due = max(int(loan.schedule[k, 0]), today.toordinal() + 1)
                    schedule(next_due, "due", idx, k + 1)
        for idx in notices:
            loan = loans[idx]
            notice_uow = uow()
            try:
                claims.file_claim(FileClaim(loan.policy_id, today,
                                            reference=f"N-{loan.contract_no}", notice=True),
                                  notice_uow, rings=ring_lookup(notice_uow))
                result.claim_notices += 1
            except DomainError:  # paid off or settled meanwhile: nothing to claim
                pass
        report = servicing.run_end_of_day(RunEndOfDay(today), uow())
        result.claims_opened += len(report.claims_opened)
        result.claims_declined += len(report.claims_declined)
        result.claims_automatic += len(report.claims_automatic)
        if snapshot is not None and (today == end
                                     or (today + timedelta(days=1)).month != today.month):
            result.last_snapshot = snapshot(today)
            result.snapshots += 1
        low, high = scenario.claim_payment_days
        for claim_id in report.claims_opened:
            g = market.rng(scenario, 7, claim_id)
            schedule(today + timedelta(days=int(g.integers(low, high + 1))), "claim", -1,
                     claim_id)
        reviewed.update(set(report.claims_opened) - set(report.claims_automatic))
        for claim_id in sorted(set(payments) & reviewed):
            # Claims staff decide the queued claims (the automatic ones need no one).
            claims.approve_claim(ApproveClaim(claim_id, today, "reviewed: documents complete"),
                                 uow())
            reviewed.discard(claim_id)
            result.claims_reviewed += 1
        if (today + timedelta(days=1)).month != today.month or today == end:
            # Month end: each treaty's account closed (params/reinsurance.toml), and each
            # funder's approved claims of its settlement cycle paid together, with the
            # statement.
            close_reinsurance(uow(), through=today)
            result.reinsurance_closes += 1
            for f in scenario.funders:
                try:
                    settled = claims.settle_claims(SettleClaims(f.code, today), uow())
                except DomainError:  # nothing approved to pay, or no whole cycle yet
                    continue
                if settled.repeat:
                    continue
                result.settlements += 1
                result.claims_paid += len(settled.lines)
                for line in settled.lines:
                    claim = line.claim
                    assert claim.id is not None
                    _plan_recoveries(loans[by_loan_id[claim.loan_id]], claim.id,
                                     claim.amount_fen, today, schedule)
            for f in scenario.funders:
                result.premium_settlements += _settle_premium(uow, f.code, today)
        if recoveries:
            received = claims.record_recoveries([RecordRecovery(
                claim_id=claim_id, amount_fen=amount, received_on=today, source="borrower",
                reference=f"RCV-{claim_id}-{today.isoformat()}", final=final)
                for claim_id, amount, final in recoveries], uow())
            result.recoveries += len(received.accepted)
        if progress is not None:
            progress(offset + 1, days)
    result.truth = pl.DataFrame(truth)
    return result


def hash_seed(seed: int, *parts: object) -> int:
    """A stable 63-bit seed from a base seed and labels (Python's hash() is salted)."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _settle_premium(uow: UowFactory, code: str, today: date) -> int:
    """The funder's premium statement of its last whole cycle, settled as its bank moved the
    net (1), or nothing to settle yet (0)."""
    try:
        statement = billing.funder_statement(uow(), code, on=today)
        if statement.settled or statement.figures.empty:
            return 0
        billing.settle_funder(SettleFunder(code, today, f"BK-{code}-{today:%Y%m%d}",
                                           statement.figures.net_fen), uow())
    except DomainError:  # no whole cycle yet
        return 0
    return 1


def _plan_changes(scenario: Scenario, loan: _Loan, idx: int) -> None:
    """Draw whether the borrower repays part of the principal early, and whether the funder
    restructures the loan, and after which installment."""
    g = market.rng(scenario, _CHANGES, idx)
    n = len(loan.schedule)
    if n < 4:
        return
    if g.random() < scenario.partial_prepay_share:
        loan.part_prepay_at = int(g.integers(1, n - 2))
        loan.part_share = float(g.uniform(0.1, 0.6))
    if g.random() < scenario.restructure_share:
        loan.restructure_at = int(g.integers(1, n - 2))
        loan.restructure_months = int(n - loan.restructure_at + g.integers(3, 13))
        loan.restructure_consent = bool(g.random() < scenario.restructure_consent_share)


def _paid(loan: _Loan, idx: int, k: int, prepay: list, changes: list) -> None:
    """Installment ``k`` is paid in full today: a prepayment or a change it was to bring."""
    if loan.prepay_after == k:
        prepay.append(idx)
    elif loan.part_prepay_at == k:
        changes.append((idx, "partial"))
    elif loan.restructure_at == k:
        changes.append((idx, "restructure"))


def _change(uow: UowFactory, loan: _Loan, change: str, today: date,
            result: SimulationResult) -> None:
    """The day's partial prepayment or restructuring of one loan (after its repayments were
    recorded); the loan's schedule as the system now has it, what is left of each
    installment, is what the borrower pays from here."""
    try:
        if change == "partial":
            with uow() as u:
                stored = u.loans.get(loan.loan_id)
                paid = paid_by_installment(u.repayments.for_loan(loan.loan_id))
            assert stored is not None
            left = position(stored.installments, paid, today).outstanding_principal_fen
            endorsements.prepay_in_part(PrepayInPart(
                loan.loan_id, today, max(int(left * loan.part_share), 1), 0,
                f"PART-{loan.contract_no}"), uow())
            result.partial_prepayments += 1
        else:
            endorsements.restructure_loan(RestructureLoan(
                loan.policy_id, today, loan.restructure_months, f"RS-{loan.contract_no}",
                "the borrower's hardship", consent=loan.restructure_consent), uow())
            result.restructures += 1
            result.restructures_consented += loan.restructure_consent
    except DomainError:  # late on an earlier installment, or cover ended meanwhile
        return
    with uow() as u:
        stored = u.loans.get(loan.loan_id)
        paid = paid_by_installment(u.repayments.for_loan(loan.loan_id))
        policy = u.policies.get(loan.policy_id)
    assert stored is not None and policy is not None
    loan.schedule = np.array([(i.due_date.toordinal(),
                               i.principal_fen - paid.get(i.number, (0, 0))[0],
                               i.interest_fen - paid.get(i.number, (0, 0))[1])
                              for i in stored.installments], dtype=np.int64)
    loan.premium_fen = policy.installment_with_vat_fen


def _due(loan: _Loan, idx: int, k: int, today: date, files: dict, prepay: list,
         schedule: Callable, changes: list) -> None:
    """Installment ``k`` falls due today: pay it, or late, or never; plan the next one."""
    if loan.default_at and k >= loan.default_at:
        return  # the borrower has stopped paying for good
    late = loan.late.get(k, 0)
    if late:
        if k in loan.partial:
            schedule(today + timedelta(days=max(1, late // 3)), "pay", idx, k * 10 + 1)
            schedule(today + timedelta(days=late), "pay", idx, k * 10 + 2)
        else:
            schedule(today + timedelta(days=late), "pay", idx, k * 10)
    else:
        files[loan.funder].append(_record(loan, k, today, 0))
        _paid(loan, idx, k, prepay, changes)
    if loan.prepay_after != k and k < len(loan.schedule):
        schedule(int(loan.schedule[k, 0]), "due", idx, k + 1)


def _record(loan: _Loan, k: int, today: date, part: int) -> RepaymentRecord:
    """Part 0: the whole installment; 1: half of it; 2: the rest (with the premium)."""
    _, principal, interest = (int(v) for v in loan.schedule[k - 1])
    if part == 1:
        principal, interest = principal // 2, interest // 2
    elif part == 2:
        principal, interest = principal - principal // 2, interest - interest // 2
    return RepaymentRecord(
        contract_no=loan.contract_no, installment_number=k, paid_on=today,
        principal_fen=principal, interest_fen=interest,
        premium_fen=0 if part == 1 else loan.premium_fen,
        reference=f"TX-{loan.contract_no}-{k}-{part}")


def _plan_recoveries(loan: _Loan, claim_id: int, amount_fen: int, paid_on: date,
                     schedule: Callable) -> None:
    total = int(Decimal(amount_fen) * Decimal(repr(round(loan.recovery_rate, 4))))
    if total <= 0:
        return
    parts = loan.recovery_parts
    first = paid_on + timedelta(days=loan.recovery_lag)
    for p in range(parts):
        amount = total // parts + (total % parts if p == parts - 1 else 0)
        if amount > 0:
            schedule(first + timedelta(days=30 * p), "recover_last" if p == parts - 1
                     else "recover", claim_id, amount)


def _evidence(ref: str, mode: str) -> tuple[Evidence, ...]:
    """The funder's archive references of the borrower's consent and the sales record."""
    def digest(kind: str) -> str:
        return hashlib.sha256(f"{kind}:{ref}".encode()).hexdigest()

    items = [Evidence(EvidenceKind.CONSENT, f"archive://{ref}/consent.pdf", digest("consent"))]
    if mode == "guarantee":
        items.append(Evidence(EvidenceKind.ONLINE_SALES_RECORD,
                              f"archive://{ref}/sales-record.json", digest("sales")))
    return tuple(items)


def _write_business(scenario: Scenario, uow: UowFactory, catalogue_by_code: dict,
                    ids: IdentityFactory, ring_identity: dict, macro: np.ndarray,
                    a: market.Applicants, today: date, day: int, result: SimulationResult,
                    truth: dict[str, list], engine: RiskEngine,
                    bureau: SimulatedBureau) -> list[_Loan]:
    """Submit, decide and disburse one day's applications; draw the borrowers' fates."""
    ids.reseed(hash_seed(scenario.seed, "applicants", day))
    rows: list[SubmitApplication] = []
    for i in range(len(a)):
        family = market.FAMILIES[int(a.family[i])]
        product = catalogue_by_code[scenario.products[family]]
        funder = scenario.funders[int(a.funder[i])]
        methods = product.repayment_methods
        ring = int(a.ring[i])
        if family is ProductFamily.SMALL_BUSINESS:
            kind, name, number = PartyKind.ENTERPRISE, ids.company_name(), ids.credit_code()
        else:
            kind, name = PartyKind.INDIVIDUAL, ids.person_name()
            born = today.year - int(a.age[i])
            number = ids.resident_id(born_between=(date(born - 1, today.month, 1),
                                                   date(born, today.month, 1)))
        phone, card = ids.phone(), ids.bank_card()
        device, address = ids.device_id(), ids.address()
        employer = (None if kind is PartyKind.ENTERPRISE or int(a.employment[i]) == 3
                    else ids.company_name())
        if ring >= 0:  # ring members share a phone, a card, a device, an address, an employer
            if ring not in ring_identity:
                ring_identity[ring] = (phone, card, device, address, employer or name)
            phone, card, device, address, employer = ring_identity[ring]
        income = int(a.income_yuan[i])
        bureau.register(number, Report(
            report_id=f"SIM-{day:04d}-{i:05d}", as_of=today, score=int(a.score[i]),
            inquiries_6m=int(a.inquiries[i]),
            monthly_debt_fen=round(float(a.dti[i]) * income * 100),
            open_accounts=int(a.open_accounts[i]), standing=Standing.CLEAN))
        collateral = None
        if family is ProductFamily.CAR:
            collateral = CollateralOffer(CollateralKind.CAR,
                                         new_price_fen=int(a.collateral_yuan[i]) * 100,
                                         brand_tier=CAR_TIER.value, first_registered=today)
        elif family is ProductFamily.MORTGAGE_BACKED:
            collateral = CollateralOffer(CollateralKind.HOUSE,
                                         appraised_fen=int(a.collateral_yuan[i]) * 100,
                                         city_tier=CITY_TIER)
        ref = f"{funder.code}-{day:04d}-{i:05d}"
        rows.append(SubmitApplication(
            funder_code=funder.code, external_ref=ref,
            product_code=product.code, borrower_kind=kind, borrower_name=name,
            borrower_id_number=number, borrower_phone=phone, borrower_bank_card=card,
            amount_fen=int(a.amount_yuan[i]) * 100, term_months=int(a.term[i]),
            annual_rate=Decimal(int(a.rate_bp[i])) / 10_000,
            repayment_method=methods[int(a.method[i]) % len(methods)], applied_on=today,
            profile=Profile(
                monthly_income_fen=income * 100,
                employment=None if kind is PartyKind.ENTERPRISE
                else market.EMPLOYMENT[int(a.employment[i])],
                industry=market.INDUSTRIES[int(a.industry[i])]
                if kind is PartyKind.ENTERPRISE else None,
                device_id=device, address=address, employer=employer),
            collateral=collateral, evidence=_evidence(ref, product.mode.value)))
    submitted = applications.submit_application_file(SubmitApplicationFile(tuple(rows)), uow())
    result.applications += len(rows)
    result.rejected += len(submitted.rejected)
    app_index = {app.external_ref: i for i, app in enumerate(rows)}
    stored = tuple(app.id for app in submitted.accepted if app.id is not None)
    decisions = approval.approve_applications(ApproveApplications(stored, today), uow(), engine)
    to_issue: list[IssuePolicy] = []
    quote_row: dict[str, int] = {}
    for d in decisions:
        if d.application.status is ApplicationStatus.APPROVED and d.policy is not None:
            assert d.policy.id is not None
            result.approved += 1
            contract = f"LN-{d.application.external_ref}"
            to_issue.append(IssuePolicy(d.policy.id, contract, today, today))
            quote_row[contract] = app_index[d.application.external_ref]
        elif d.application.status is ApplicationStatus.REFERRED:
            result.referred += 1
        else:
            result.declined += 1
    issued = policies.issue_policies(IssuePolicies(tuple(to_issue)), uow())
    result.policies += len(issued.accepted)

    hazards = market.monthly_hazards(scenario, macro, a,
                                     market.months_between(scenario.start, today))
    fates = market.draw_fates(scenario, day, a, hazards)
    triggers = np.array([catalogue_by_code[scenario.products[market.FAMILIES[int(f)]]]
                         .claim_trigger_dpd for f in a.family])
    end = add_months(scenario.start, scenario.months) - timedelta(days=1)
    dues = [[add_months(today, k) for k in range(1, int(a.term[i]) + 1)] for i in range(len(a))]
    expected_claim = market.claim_probability(hazards, a.family, a.ring, dues, triggers, end)
    pd12 = market.pd_within(hazards, 12)
    status: dict[str, str] = {}
    for d in decisions:
        status[d.application.external_ref] = d.application.status.value
    disbursed: set[int] = set()
    new_loans: list[_Loan] = []
    for item in issued.accepted:
        i = quote_row[item.loan.contract_no]
        assert item.loan.id is not None
        disbursed.add(i)
        width = int(a.term[i])
        late_row = fates.late[i, :width]
        new_loans.append(_Loan(
            loan_id=item.loan.id, funder=rows[i].funder_code, contract_no=item.loan.contract_no,
            schedule=np.array([(inst.due_date.toordinal(), inst.principal_fen, inst.interest_fen)
                               for inst in item.loan.installments], dtype=np.int64),
            premium_fen=item.policy.installment_with_vat_fen,
            default_at=int(fates.default_at[i]), prepay_after=int(fates.prepay_after[i]),
            late={k + 1: int(v) for k, v in enumerate(late_row) if v},
            partial=frozenset(int(k) + 1 for k in np.flatnonzero(fates.partial[i, :width])),
            recovery_rate=float(fates.recovery_rate[i]),
            recovery_lag=int(fates.recovery_lag_days[i]),
            recovery_parts=int(fates.recovery_parts[i]), truth_row=i,
            policy_id=item.policy.id or 0,
            trigger_dpd=catalogue_by_code[item.policy.product_code].claim_trigger_dpd))
    for i, row in enumerate(rows):
        truth["external_ref"].append(row.external_ref)
        truth["funder"].append(row.funder_code)
        truth["product"].append(row.product_code)
        truth["family"].append(market.FAMILIES[int(a.family[i])].value)
        enterprise = row.borrower_kind is PartyKind.ENTERPRISE
        province, district = place_of(row.borrower_id_number, enterprise=enterprise)
        truth["province"].append(province)
        truth["district"].append(district)
        truth["employment"].append("" if enterprise else market.EMPLOYMENT[int(a.employment[i])])
        truth["industry"].append(market.INDUSTRIES[int(a.industry[i])] if enterprise else "")
        truth["age_or_years_in_business"].append(int(a.age[i]))
        truth["applied_on"].append(today)
        truth["status"].append(status.get(row.external_ref, "rejected"))
        truth["disbursed"].append(i in disbursed)
        truth["true_pd_12m"].append(float(pd12[i]))
        truth["expected_claim_by_end"].append(float(expected_claim[i]) if i in disbursed
                                              else 0.0)
        truth["fraud"].append(bool(a.ring[i] >= 0))
        truth["ring"].append(int(a.ring[i]))
        truth["default_installment"].append(int(fates.default_at[i]))
        truth["prepay_installment"].append(int(fates.prepay_after[i]))
        truth["recovery_rate"].append(float(fates.recovery_rate[i]))
        truth["latent_quality"].append(float(a.quality[i]))
        truth["bureau_score"].append(int(a.score[i]))
        truth["inquiries_6m"].append(int(a.inquiries[i]))
        truth["debt_to_income"].append(float(a.dti[i]))
        truth["income_yuan"].append(int(a.income_yuan[i]))
        truth["collateral_yuan"].append(int(a.collateral_yuan[i]))
    return new_loans
