"""Post-insurance servicing: the funder's repayment data and the end-of-day batch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TypeVar

from xinbao.catalogue.model.parties import Funder
from xinbao.claims.model import ClaimStatus, trigger_reached
from xinbao.claims.services import open_triggered_claims, recheck_notified_claims
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import (
    Conflict,
    DomainError,
    FieldError,
    InvalidInput,
    NotFound,
    WriteConflict,
    require,
)
from xinbao.kernel.events import Event
from xinbao.kernel.results import FileOutcome, Rejection
from xinbao.kernel.retries import retried
from xinbao.ledger.services import post
from xinbao.loans.model import (
    Installment,
    Loan,
    LoanStatus,
    Repayment,
    days_past_due,
    installment_settled,
    paid_by_installment,
    position,
)
from xinbao.loans.repository import LoanHeader
from xinbao.policy import postings
from xinbao.policy.commands import PrepayInPart
from xinbao.policy.endorsements import lapse_unpaid, prepay_part
from xinbao.policy.model import Policy, PolicyStatus
from xinbao.policy.premiums import (
    Earned,
    funder_share,
    post_earned,
    post_refund,
    write_installment_premiums,
)
from xinbao.policy.premiums import close_month as close_month_earning
from xinbao.policy.repository import PremiumTerms
from xinbao.policy.rules import PolicyRules
from xinbao.servicing.claim_screen import ring_lookup
from xinbao.servicing.commands import (
    IngestRepaymentFile,
    PartialPrepaymentRecord,
    PrepaymentRecord,
    RecordMissedInstallment,
    RecordPrepayment,
    RecordRepayment,
    RepaymentRecord,
    RunEndOfDay,
)
from xinbao.servicing.repository import UnitOfWork


@dataclass(frozen=True, slots=True)
class FileResult:
    accepted: int
    repeated: int  # references seen before: ignored
    rejected: tuple[Rejection, ...]
    premium_collected_fen: int
    prepaid: int = 0  # loans settled early by the file's prepayment records
    premium_refunded_fen: int = 0  # unearned premium refunded on those settlements
    prepaid_in_part: int = 0  # loans the file's partial prepayments repaid in part


def _check_record(index: int, r: RepaymentRecord) -> Rejection | None:
    errors: list[FieldError] = []
    if min(r.principal_fen, r.interest_fen, r.premium_fen) < 0:
        errors.append(FieldError("amount", "amount.nonnegative", "amounts cannot be negative"))
    elif r.principal_fen + r.interest_fen == 0:
        errors.append(FieldError("amount", "amount.positive", "a repayment repays something"))
    if not r.reference.strip():
        errors.append(FieldError("reference", "repayment.reference",
                                 "the funder's transaction number is required"))
    return Rejection(index, r.reference, InvalidInput(errors)) if errors else None


def ingest_records(uow: UnitOfWork, funder: Funder, records: Sequence[RepaymentRecord], *,
                   received_on: date, file_reference: str) -> FileResult:
    """Validate and record a funder's repayments in one pass over the file (set-based reads,
    bulk writes); each bad record is rejected alone. Inside the caller's open unit of work,
    which commits (``ingest_repayment_files``, ``servicing.feeds.load_feed``)."""
    assert funder.id is not None
    rejected: list[Rejection] = []
    loans = uow.loans.headers(funder.id, {r.contract_no for r in records})
    loan_ids = [loan.id for loan in loans.values()]
    installments = uow.loans.installments(
        (loans[r.contract_no].id, r.installment_number) for r in records
        if r.contract_no in loans)
    paid = uow.repayments.paid_totals(loan_ids, {r.installment_number for r in records})
    terms = {t.loan_id: t for t in uow.policies.premium_terms(loan_ids=loan_ids)}
    # The references last: each read sees what is committed when it runs, so a concurrent
    # sender of the same record whose repayment is in ``paid`` is seen here as a repeat.
    known = uow.repayments.known_references(
        (loans[r.contract_no].id, r.reference) for r in records if r.contract_no in loans)
    accepted: list[tuple[Repayment, str]] = []
    touched: set[int] = set()
    premium_through: dict[int, int] = {}
    collected_by_policy: dict[int, int] = {}
    premium_collected = repeated = 0
    for index, r in enumerate(records):
        bad = _check_record(index, r)
        loan = loans.get(r.contract_no)
        if bad is None and loan is None:
            bad = Rejection(index, r.reference, NotFound("loan contract", r.contract_no))
        if bad is not None:
            rejected.append(bad)
            continue
        assert loan is not None
        if (loan.id, r.reference) in known:
            repeated += 1
            continue
        refusal = _refuse(loan, installments.get((loan.id, r.installment_number)), r,
                          paid.get(loan.id, {}), terms.get(loan.id))
        if refusal is not None:
            rejected.append(Rejection(index, r.reference, refusal))
            continue
        known.add((loan.id, r.reference))
        per_loan = paid.setdefault(loan.id, {})
        p, i = per_loan.get(r.installment_number, (0, 0))
        per_loan[r.installment_number] = (p + r.principal_fen, i + r.interest_fen)
        accepted.append((Repayment(loan_id=loan.id, installment_number=r.installment_number,
                                   paid_on=r.paid_on, principal_fen=r.principal_fen,
                                   interest_fen=r.interest_fen), r.reference))
        touched.add(loan.id)
        premium_collected += r.premium_fen
        if r.premium_fen and loan.id in terms:
            pid = terms[loan.id].id
            collected_by_policy[pid] = collected_by_policy.get(pid, 0) + r.premium_fen
        if loan.id in terms and terms[loan.id].installment_premium_fen:
            # A paid installment's premium is written now, collected or not, so the
            # end-of-day batch only has to look at loans past due.
            premium_through[loan.id] = max(premium_through.get(loan.id, 0), r.installment_number)
    uow.repayments.add_many(accepted)
    uow.loans.refresh_first_unpaid(touched)
    if premium_through:
        due = [(terms[loan_id], through) for loan_id, through in premium_through.items()]
        write_installment_premiums(uow, due, {funder.id: funder}, on=received_on,
                                   source=f"file:{funder.code}:{file_reference}")
    uow.policies.add_collected(collected_by_policy)
    if premium_collected:
        post(uow, postings.premium_collected(
            on=received_on, amount_fen=premium_collected, funder_code=funder.code,
            file_reference=file_reference,
            repayments=[(r.loan_id, ref) for r, ref in accepted],
            share=funder_share(funder)))
    return FileResult(accepted=len(accepted), repeated=repeated, rejected=tuple(rejected),
                      premium_collected_fen=premium_collected)


def _refuse(loan: LoanHeader, installment: Installment | None, r: RepaymentRecord,
            paid: Mapping[int, tuple[int, int]],
            policy: PremiumTerms | None) -> DomainError | None:
    if loan.status is not LoanStatus.ACTIVE:
        return Conflict(f"loan {loan.id} is {loan.status.value}: repayments after a claim are "
                        "recoveries")
    if installment is None:
        return InvalidInput.single("installment_number", "repayment.installment",
                                   f"loan {loan.id} has installments 1 to {loan.term_months}")
    if r.paid_on < loan.start_date:
        return InvalidInput.single("paid_on", "repayment.date",
                                   "a repayment cannot precede disbursement")
    p_paid, i_paid = paid.get(installment.number, (0, 0))
    if (p_paid + r.principal_fen > installment.principal_fen
            or i_paid + r.interest_fen > installment.interest_fen):
        return InvalidInput.single(
            "amount", "repayment.overpayment",
            f"installment {installment.number} has {installment.principal_fen - p_paid} fen "
            f"principal and {installment.interest_fen - i_paid} fen interest left")
    if r.premium_fen and (policy is None or not policy.installment_premium_fen):
        return InvalidInput.single("premium_fen", "repayment.premium",
                                   "no premium is due on this loan: its policy has no installment "
                                   "premium, or is not in force")
    return None


def ingest_repayment_file(cmd: IngestRepaymentFile, uow: UnitOfWork) -> FileResult:
    """A funder's repayment file: every good record recorded, every bad one rejected with
    its reason, repeats of a known transaction number ignored; one transaction."""
    return ingest_repayment_files([cmd], uow)[0]


@retried
def ingest_repayment_files(cmds: Sequence[IngestRepaymentFile],
                           uow: UnitOfWork) -> list[FileResult]:
    """Files received together (a day's files from several funders) in one transaction,
    each recorded as ``ingest_repayment_file`` records it alone, in the order given: the
    same journal entries, rejections and repeats, one commit instead of one a file. A file
    refused whole (no reference, an unknown funder, another funder's) refuses them all."""
    for cmd in cmds:
        if not cmd.file_reference.strip():
            raise InvalidInput.single("file_reference", "file.reference",
                                      "a file names its reference")
    authorize(uow, Action.REPAYMENT_RECORD)
    with uow:
        results = []
        for cmd in cmds:
            funder = require(uow.funders.get_by_code(cmd.funder_code), "funder",
                             cmd.funder_code)
            own(uow, funder.id, "funder", cmd.funder_code)
            result = ingest_records(uow, funder, cmd.records, received_on=cmd.received_on,
                                    file_reference=cmd.file_reference)
            if cmd.partial_prepayments:
                result = _ingest_partial(uow, funder, cmd.partial_prepayments, result,
                                         first_index=len(cmd.records))
            if cmd.prepayments:
                result = _ingest_prepayments(
                    uow, funder, cmd.prepayments, result,
                    first_index=len(cmd.records) + len(cmd.partial_prepayments))
            results.append(result)
        uow.commit()
    return results


_Record = TypeVar("_Record", PrepaymentRecord, PartialPrepaymentRecord)


def _with_loans(records: Sequence[_Record], loans: Mapping[str, LoanHeader],
                first_index: int, rejected: list[Rejection],
                ) -> Iterator[tuple[int, _Record, LoanHeader]]:
    """Each record with its index in the file and its loan by contract number; a record
    whose contract the funder has no loan under is rejected (``rejected``), not given."""
    for offset, r in enumerate(records):
        loan = loans.get(r.contract_no)
        if loan is None:
            rejected.append(Rejection(first_index + offset, r.reference,
                                      NotFound("loan contract", r.contract_no)))
            continue
        yield first_index + offset, r, loan


def _ingest_partial(uow: UnitOfWork, funder: Funder,
                    records: Sequence[PartialPrepaymentRecord], result: FileResult, *,
                    first_index: int) -> FileResult:
    """The file's partial prepayments, by contract number, each refused one alone
    (``policy.endorsements.prepay_part``); one whose transaction number is already recorded
    on its loan is a repeat, ignored."""
    assert funder.id is not None
    loans = uow.loans.headers(funder.id, {r.contract_no for r in records})
    known = uow.repayments.known_references(
        (loans[r.contract_no].id, r.reference.strip()) for r in records
        if r.contract_no in loans)
    rejected, repeated = list(result.rejected), result.repeated
    done, refunded = result.prepaid_in_part, result.premium_refunded_fen
    for index, r, loan in _with_loans(records, loans, first_index, rejected):
        if (loan.id, r.reference.strip()) in known:
            repeated += 1
            continue
        try:
            made = prepay_part(uow, PrepayInPart(loan.id, r.paid_on, r.principal_fen,
                                                 r.interest_fen, r.reference))
        except DomainError as exc:
            rejected.append(Rejection(index, r.reference, exc))
            continue
        known.add((loan.id, r.reference.strip()))
        done += 1
        refunded += made.refund_fen
    return replace(result, repeated=repeated, rejected=tuple(rejected),
                   prepaid_in_part=done, premium_refunded_fen=refunded)


def _ingest_prepayments(uow: UnitOfWork, funder: Funder, records: Sequence[PrepaymentRecord],
                        result: FileResult, *, first_index: int) -> FileResult:
    """The file's early settlements, by contract number, each refused one alone; a record
    whose transaction number is already recorded on its loan is a repeat, ignored."""
    assert funder.id is not None
    loans = uow.loans.headers(funder.id, {r.contract_no for r in records})
    keys = [(loans[r.contract_no].id, f"{r.reference}:{n}") for r in records
            if r.contract_no in loans for n in range(1, loans[r.contract_no].term_months + 1)]
    known = {(loan_id, ref.rpartition(":")[0]) for loan_id, ref
             in uow.repayments.known_references(keys)}
    rejected, repeated = list(result.rejected), result.repeated
    prepaid, refunded = 0, result.premium_refunded_fen
    for index, r, loan in _with_loans(records, loans, first_index, rejected):
        if (loan.id, r.reference) in known:
            repeated += 1
            continue
        try:
            settlement = prepay(uow, RecordPrepayment(loan.id, r.paid_on, r.interest_fen,
                                                      r.reference))
        except DomainError as exc:
            rejected.append(Rejection(index, r.reference, exc))
            continue
        known.add((loan.id, r.reference))
        prepaid += 1
        refunded += settlement.refunded_fen
    return replace(result, repeated=repeated, rejected=tuple(rejected), prepaid=prepaid,
                   premium_refunded_fen=refunded)


@retried
def record_repayment(cmd: RecordRepayment, uow: UnitOfWork) -> Repayment:
    """Record one repayment; the same reference again is ignored (the stored one returned)."""
    record = RepaymentRecord(
        contract_no="", installment_number=cmd.installment_number, paid_on=cmd.paid_on,
        principal_fen=cmd.principal_fen, interest_fen=cmd.interest_fen,
        premium_fen=cmd.premium_fen, reference=cmd.reference)
    authorize(uow, Action.REPAYMENT_RECORD)
    bad = _check_record(0, record)
    if bad is not None:
        raise bad.error
    with uow:
        loan = require(uow.loans.get(cmd.loan_id), "loan", cmd.loan_id)
        own(uow, loan.funder_id, "loan", cmd.loan_id)
        assert loan.id is not None
        repeat = uow.repayments.get_by_reference(loan.id, cmd.reference)
        if repeat is not None:
            return repeat
        funder = require(uow.funders.get(loan.funder_id), "funder", loan.funder_id)
        result = ingest_records(uow, funder, [replace(record, contract_no=loan.contract_no)],
                                received_on=cmd.paid_on, file_reference=f"single:{cmd.reference}")
        if result.rejected:
            raise result.rejected[0].error
        stored = require(uow.repayments.get_by_reference(loan.id, cmd.reference), "repayment",
                         cmd.reference)
        uow.commit()
    return stored


@retried
def record_missed_installment(cmd: RecordMissedInstallment, uow: UnitOfWork) -> Event:
    """The funder reports an installment unpaid after its due date (kept as an event)."""
    authorize(uow, Action.REPAYMENT_RECORD)
    with uow:
        loan = require(uow.loans.get(cmd.loan_id), "loan", cmd.loan_id)
        own(uow, loan.funder_id, "loan", cmd.loan_id)
        assert loan.id is not None
        installment = loan.installment(cmd.installment_number)
        if installment is None:
            raise InvalidInput.single("installment_number", "repayment.installment",
                                      f"loan {loan.id} has installments 1 to {loan.term_months}")
        if cmd.reported_on <= installment.due_date:
            raise InvalidInput.single("reported_on", "missed.after_due_date",
                                      f"installment {installment.number} is due "
                                      f"{installment.due_date}: not missed before then")
        paid = paid_by_installment(uow.repayments.for_loan(loan.id))
        if installment_settled(installment, paid):
            raise Conflict(f"installment {installment.number} of loan {loan.id} is paid")
        pos = position(loan.installments, paid, cmd.reported_on)
        event = Event("InstallmentMissed", "loan", loan.id, cmd.reported_on, {
            "installment_number": installment.number,
            "days_past_due": (cmd.reported_on - installment.due_date).days,
            "loan_days_past_due": pos.days_past_due})
        uow.events.add([event])
        uow.commit()
    return event


@dataclass(frozen=True, slots=True)
class Settlement:
    expired: bool  # at maturity; otherwise cancelled on prepayment
    earned_fen: int
    refunded_fen: int


def _settle(uow: UnitOfWork, policy: Policy, loan: Loan, *, on: date) -> Settlement:
    """The loan is repaid: the loan is saved as paid off unless a concurrent request settled
    it first, then the policy is settled (``_settle_policy``); the caller saves the policy."""
    was = loan.status
    loan.pay_off()
    if not uow.loans.save_if_status(loan, was):  # settled by a concurrent request first
        raise WriteConflict(f"loan {loan.id} was settled by a concurrent request")
    return _settle_policy(uow, policy, loan, on=on)


def _settle_policy(uow: UnitOfWork, policy: Policy, loan: Loan, *, on: date,
                   earned: list[Earned] | None = None) -> Settlement:
    """The policy of a repaid loan is settled (`Policy.settle`: refund and cancel before
    maturity, earn the rest and expire at it, then close) and its refund posted; the
    premium it earns is posted on the policy, or added to ``earned`` (the end-of-day
    batch posts the day's earning per product)."""
    before, refunded_before = policy.earned_fen, policy.refunded_fen
    policy.schedule = loan.installments  # a policy earning by exposure reads it
    settled = policy.settle(on, loan.maturity_date)
    assert policy.id is not None
    if earned is None:
        post(uow, postings.premium_earned(
            on=on, policy_id=policy.id, policy_no=policy.policy_no,
            earned_through_fen=settled.earned_through_fen, amount_fen=settled.earned_fen))
    elif settled.earned_fen:
        earned.append(Earned(policy.id, policy.product_code, before,
                             settled.earned_through_fen))
    if settled.refunded_fen:
        post_refund(uow, policy, on=on, refunded_fen=settled.refunded_fen,
                    refunded_before=refunded_before)
    # The premium earned to date before a refund is posted but not counted here: the
    # settlement reports what was earned at maturity and what was refunded.
    return Settlement(expired=settled.expired,
                      earned_fen=settled.earned_fen if settled.expired else 0,
                      refunded_fen=settled.refunded_fen)


@retried
def record_prepayment(cmd: RecordPrepayment, uow: UnitOfWork) -> Settlement:
    """The borrower repays all outstanding principal early (提前还款).

    The principal left on every unpaid installment is recorded as repaid on ``paid_on``, the
    interest reported goes to the current installment, and the policy is settled at once:
    unearned single premium refunded (pro rata or Rule of 78), policy cancelled and closed.
    """
    authorize(uow, Action.REPAYMENT_RECORD)
    with uow:
        outcome = _prepay_all(uow, [cmd])
        if outcome.rejected:
            raise outcome.rejected[0].error
        uow.commit()
    return outcome.accepted[0]


@retried
def record_prepayments(cmds: Sequence[RecordPrepayment], uow: UnitOfWork,
                       ) -> FileOutcome[Settlement]:
    """Many prepayments in one transaction (a funder's file); each refused one alone."""
    authorize(uow, Action.REPAYMENT_RECORD)
    with uow:
        outcome = _prepay_all(uow, cmds)
        uow.commit()
    return outcome


def _prepay_all(uow: UnitOfWork, cmds: Sequence[RecordPrepayment]) -> FileOutcome[Settlement]:
    accepted: list[Settlement] = []
    rejected: list[Rejection] = []
    for index, cmd in enumerate(cmds):
        try:
            accepted.append(prepay(uow, cmd))
        except DomainError as exc:
            rejected.append(Rejection(index, cmd.reference, exc))
    return FileOutcome(tuple(accepted), tuple(rejected))


def prepay(uow: UnitOfWork, cmd: RecordPrepayment) -> Settlement:
    """Settle one loan early inside the caller's open unit of work, which authorizes and
    commits (``record_prepayment(s)``, a repayment file's prepayments, a funder's early
    settlement file in ``servicing.feed_types``). Check everything first, then write: a
    refused prepayment leaves nothing behind; its transaction number recorded on the loan
    already answers with that settlement, writing nothing."""
    if cmd.interest_fen < 0:
        raise InvalidInput.single("interest_fen", "amount.nonnegative",
                                  "interest cannot be negative")
    if not cmd.reference.strip():
        raise InvalidInput.single("reference", "repayment.reference",
                                  "the funder's transaction number is required")
    loan = require(uow.loans.get(cmd.loan_id), "loan", cmd.loan_id)
    own(uow, loan.funder_id, "loan", cmd.loan_id)
    assert loan.id is not None
    policy = uow.policies.get_by_loan(loan.id)
    # The evidence of a repeat is read last: each read sees what is committed when it runs,
    # so a concurrent sender that settled the loan after the loan was read is seen here.
    repeat = _prepaid_before(uow, loan, cmd.reference)
    if repeat is not None:
        return repeat
    if loan.status is not LoanStatus.ACTIVE:
        raise Conflict(f"loan {loan.id} is {loan.status.value}")
    if policy is None or policy.status is not PolicyStatus.IN_FORCE:
        raise Conflict(f"loan {loan.id} has no policy in force")
    if cmd.paid_on < loan.start_date:
        raise InvalidInput.single("paid_on", "repayment.date",
                                  "a repayment cannot precede disbursement")
    paid = uow.repayments.paid_totals([loan.id]).get(loan.id, {})
    pos = position(loan.installments, paid, cmd.paid_on)
    if pos.days_past_due > 0:
        raise Conflict(f"loan {loan.id} is {pos.days_past_due} days past due: record the "
                       "overdue repayments before the prepayment")
    current = None
    rows: list[tuple[Repayment, str]] = []
    for inst in loan.installments:
        p_paid, i_paid = paid.get(inst.number, (0, 0))
        principal_left = inst.principal_fen - p_paid
        if current is None and (principal_left or inst.interest_fen - i_paid):
            current = inst.number
        interest = cmd.interest_fen if inst.number == current else 0
        if interest > inst.interest_fen - i_paid:
            raise InvalidInput.single(
                "interest_fen", "repayment.overpayment",
                f"installment {inst.number} has {inst.interest_fen - i_paid} fen interest left")
        if principal_left or interest:
            rows.append((Repayment(loan_id=loan.id, installment_number=inst.number,
                                   paid_on=cmd.paid_on, principal_fen=principal_left,
                                   interest_fen=interest), f"{cmd.reference}:{inst.number}"))
    uow.repayments.add_many(rows)
    uow.loans.refresh_first_unpaid([loan.id])  # all paid now: the stored state follows
    loan.first_unpaid_due_date = None
    settlement = _settle(uow, policy, loan, on=cmd.paid_on)
    uow.policies.save(policy)
    uow.events.add([Event("LoanPrepaid", "loan", loan.id, cmd.paid_on, {
        "principal_fen": pos.outstanding_principal_fen, "interest_fen": cmd.interest_fen,
        "reference": cmd.reference, "expired": settlement.expired,
        "earned_fen": settlement.earned_fen, "refunded_fen": settlement.refunded_fen})])
    return settlement


def _prepaid_before(uow: UnitOfWork, loan: Loan, reference: str) -> Settlement | None:
    """The settlement of this prepayment when its transaction number is recorded on the loan
    already (a retry, or a concurrent request that committed first): nothing is written."""
    assert loan.id is not None
    keys = [(loan.id, f"{reference}:{n}") for n in range(1, loan.term_months + 1)]
    if not uow.repayments.known_references(keys):
        return None
    prepaid = [e for e in uow.events.list(aggregate="loan", aggregate_id=loan.id)
               if e.name == "LoanPrepaid" and e.data.get("reference") == reference]
    if not prepaid:
        raise Conflict(f"transaction {reference!r} is recorded on loan {loan.id} as a "
                       "repayment, not a prepayment")
    data = prepaid[0].data
    return Settlement(expired=bool(data["expired"]), earned_fen=int(data["earned_fen"]),
                      refunded_fen=int(data["refunded_fen"]))


@dataclass(slots=True)
class EndOfDayReport:
    on: date
    policies_overdue: int = 0  # in force with an installment past due
    premium_written_fen: int = 0
    premium_earned_fen: int = 0
    policies_expired: int = 0
    policies_cancelled: int = 0
    policies_lapsed: list[int] = field(default_factory=list)  # premium unpaid past grace
    premium_refunded_fen: int = 0
    claims_opened: list[int] = field(default_factory=list)  # standing: approved or in review
    claims_declined: list[int] = field(default_factory=list)
    claims_automatic: list[int] = field(default_factory=list)  # of the opened, approved at once
    run: int = 1  # which run of this business day (a run again posts only what is new)


@retried
def run_end_of_day(cmd: RunEndOfDay, uow: UnitOfWork,
                   rules: PolicyRules | None = None) -> EndOfDayReport:
    """Installment premium fallen due, premium earned (month close), expiries and
    prepayments settled, and claims for loans whose days past due reach the trigger.

    Set-based: each step asks the repositories for exactly the policies it concerns; the
    month close reads and writes columns, not policies (``policy.premiums.close_month``).
    The day's earned single premium is posted as one entry per product. One transaction
    for the whole day; running it again for the same day posts nothing more.
    """
    authorize(uow, Action.BATCH_RUN)
    on = cmd.on
    close_month = cmd.close_month
    if close_month is None:
        close_month = (on + timedelta(days=1)).month != on.month
    report = EndOfDayReport(on=on)
    source = f"eod:{on.isoformat()}"
    with uow:
        # The day is claimed first: a concurrent run of it waits for this one's commit, then
        # finds everything done and does nothing more (one entry, one event per change).
        report.run = uow.batch_runs.claim("end_of_day", on)
        funders: dict[int, Funder] = {}
        for f in uow.funders.list():
            assert f.id is not None
            funders[f.id] = f
        due = uow.end_of_day.installment_premiums_due(on)
        if due:
            by_id = {t.id: t for t in uow.policies.premium_terms(
                policy_ids=[pid for pid, _ in due])}
            pairs = [(by_id[pid], through) for pid, through in due]
            report.premium_written_fen = write_installment_premiums(
                uow, pairs, funders, on=on, source=source)
        # Where the wording says so, premium unpaid past its grace makes the policy lapse
        # (before the month's earning and today's claims: a lapsed policy covers no more).
        report.policies_lapsed = lapse_unpaid(uow, on=on, rules=rules)
        earned = close_month_earning(uow, on=on) if close_month else []
        report.premium_earned_fen = sum(e.amount_fen for e in earned)
        # Fully repaid: the few policies and loans read whole, settled one by one by the
        # policy's rules, and written back together (the loans only if still active).
        repaid = uow.policies.get_many(uow.end_of_day.fully_repaid())
        loans = uow.loans.get_many(p.loan_id for p in repaid if p.loan_id is not None)
        for policy in repaid:
            assert policy.loan_id is not None  # a repaid policy was issued on a loan
            loan = loans[policy.loan_id]
            loan.pay_off()
            outcome = _settle_policy(uow, policy, loan, on=on, earned=earned)
            report.premium_refunded_fen += outcome.refunded_fen
            report.premium_earned_fen += outcome.earned_fen
            report.policies_expired += outcome.expired
            report.policies_cancelled += not outcome.expired
        if not uow.loans.save_all_if_status(list(loans.values()), LoanStatus.ACTIVE):
            raise WriteConflict("a repaid loan was settled by a concurrent request")
        uow.policies.save_many(repaid)
        post_earned(uow, earned, on=on, source=source)
        overdue = uow.end_of_day.overdue(on)
        report.policies_overdue = len(overdue)
        triggered = [pid for pid, first_due, trigger in overdue
                     if trigger_reached(days_past_due(first_due, on), trigger)]
        # Notices kept until their trigger first, then the policies newly past it.
        rings = ring_lookup(uow)
        moved = recheck_notified_claims(uow, on=on, rings=rings)
        opened = open_triggered_claims(uow, uow.policies.get_many(triggered), on=on,
                                       rings=rings)
        for claim in (*moved, *opened):
            assert claim.id is not None
            if claim.status is ClaimStatus.DECLINED:
                report.claims_declined.append(claim.id)
            elif claim.status is not ClaimStatus.NOTIFIED:
                report.claims_opened.append(claim.id)
                if claim.status is ClaimStatus.APPROVED:
                    report.claims_automatic.append(claim.id)
        uow.commit()
    return report
