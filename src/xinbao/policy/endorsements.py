"""Endorsements (批改, issue 23): changes to a policy in force, each an event, a new version of
the policy (``Policy.version``), a kept record (``policy_endorsements``) and its postings.

- **Cancellation** at the policyholder's request (``cancel_policy``): within the cooling-off
  period (``params/policy.toml``: so many days from issue, always ending before the first
  installment falls due) every premium paid comes back, what was earned given back with it;
  after it the single premium is earned to the day and the unearned rest refunded by the
  product's method, and installment premiums not yet due are never charged. Each refund
  claws back the funder's commission on it. The cover is the insured funder's: in guarantee
  insurance its consent is needed (its own request is its consent). A loan past due cannot
  lose its cover (the insured's claim would be lost with it).
- **Change of insured on a loan's transfer** (``transfer_policy``): the loan sold to another
  funder, under its contract number; that funder becomes the insured (and, in credit
  insurance, the policyholder); the borrower never changes. The funder bought must cover the
  product in its agreement, and no loan of its may have that contract number.

- **Partial prepayment** (``prepay_in_part``, the funder's report): part of the principal
  repaid early; the loan keeps its term and the installments left fall
  (``loans.model.partial_prepayment_schedule``), the sum insured falls by the principal
  repaid, the single premium still unearned is refunded in the share of the principal left
  that was repaid (the rest runs off by the product's method) and installment premiums from
  the next one are on the smaller sum insured. The commission on the refund is clawed back.
- **Restructuring** (``restructure_loan``): the funder's new schedule for the principal not
  yet paid (``loans.model.restructured_schedule``). With the insurer's consent, given by its
  staff, the cover follows it (the premium still unearned runs off over the new cover); a
  restructuring without it is recorded and noted on the policy, whose cover stays the
  schedule it insured: a claim finds the loan not as insured (CLM-LOAN-NOT-AS-INSURED, the
  wording's exclusion of a loan changed without the insurer's consent).

All are idempotent: asked again (a retry, a racing request), they answer with the
endorsement made, and a concurrent one of the same version is a write conflict that the
retry answers so (one effect, one event, one refund).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from xinbao.catalogue.model.parties import InsuranceMode, PolicyRole
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, FieldError, InvalidInput, require
from xinbao.kernel.retries import retried
from xinbao.ledger.services import post
from xinbao.loans.model import (
    LoanStatus,
    Repayment,
    first_unpaid_due_date,
    paid_by_installment,
    partial_prepayment_schedule,
    position,
    restructured_schedule,
    schedule_digest,
)
from xinbao.policy import postings
from xinbao.policy.commands import CancelPolicy, PrepayInPart, RestructureLoan, TransferPolicy
from xinbao.policy.model import Endorsement, EndorsementKind, PolicyStatus
from xinbao.policy.premiums import post_refund
from xinbao.policy.repository import UnitOfWork
from xinbao.policy.rules import LAPSE, PolicyRules, shipped

_TEXT = re.compile(r"^[^\x00-\x1f\x7f]+$")


def _check_reason(reason: str) -> list[FieldError]:
    text = reason.strip()
    if not text or len(text) > 200 or not _TEXT.match(text):
        return [FieldError("reason", "policy.reason",
                           "say why, in 1 to 200 characters without control characters")]
    return []


@retried
def cancel_policy(cmd: CancelPolicy, uow: UnitOfWork,
                  rules: PolicyRules | None = None) -> Endorsement:
    """Cancel a policy in force at the policyholder's request (see the module's docstring)."""
    actor = authorize(uow, Action.POLICY_ENDORSE)
    if problems := _check_reason(cmd.reason):
        raise InvalidInput(problems)
    with uow:
        policy = require(uow.policies.get(cmd.policy_id), "policy", cmd.policy_id)
        own(uow, policy.funder_id, "policy", cmd.policy_id)
        assert policy.id is not None
        made = [e for e in uow.policies.endorsements(policy.id)
                if e.kind is EndorsementKind.CANCELLATION]
        if made:
            return made[-1]
        if policy.status is not PolicyStatus.IN_FORCE or policy.loan_id is None \
                or policy.start_date is None or policy.issued_on is None:
            raise Conflict(f"policy {policy.policy_no} is {policy.status.value}: only a "
                           "policy in force is cancelled")
        if not policy.start_date <= cmd.on < (policy.end_date or cmd.on):
            raise InvalidInput.single("on", "policy.cancel_date",
                                      f"a cancellation takes effect within the cover, "
                                      f"{policy.start_date} to {policy.end_date}")
        if policy.policyholder is PolicyRole.DEBTOR and actor.funder_id != policy.funder_id \
                and not cmd.insured_consent:
            raise InvalidInput.single("insured_consent", "policy.insured_consent",
                                      "the cover is the insured funder's: its consent is "
                                      "needed to cancel it")
        loan = require(uow.loans.get(policy.loan_id), "loan", policy.loan_id)
        assert loan.id is not None
        now = position(loan.installments, paid_by_installment(uow.repayments.for_loan(loan.id)),
                       cmd.on)
        if now.days_past_due > 0:
            raise Conflict(f"the loan is {now.days_past_due} days past due: its cover cannot "
                           "be cancelled while the insured may claim")
        days = (rules or shipped()).cooling_off_for(policy.product_code)
        cooling_off_ends = min(policy.issued_on + timedelta(days=days),
                               loan.installments[0].due_date - timedelta(days=1))
        refunded_before = policy.refunded_fen
        policy.schedule = loan.installments  # a policy earning by exposure reads it
        cancelled = policy.cancel_on_request(cmd.on, cooling_off_ends=cooling_off_ends,
                                             reason=cmd.reason.strip())
        post(uow, postings.premium_earned(
            on=cmd.on, policy_id=policy.id, policy_no=policy.policy_no,
            earned_through_fen=policy.earned_fen, amount_fen=cancelled.earned_fen))
        clawback = post_refund(
            uow, policy, on=cmd.on, refunded_fen=cancelled.refunded_fen,
            refunded_before=refunded_before,
            earned_reversed_fen=cancelled.earned_reversed_fen,
            description=f"Premium refund on cancellation of {policy.policy_no}")
        uow.policies.save(policy)
        endorsement = uow.policies.add_endorsement(Endorsement(
            policy.id, policy.version, EndorsementKind.CANCELLATION, cmd.on,
            cmd.reason.strip(), cancelled.refunded_fen, clawback, {
                "cooling_off": cancelled.cooling_off,
                "cooling_off_ends": cooling_off_ends.isoformat(),
                "earned_fen": cancelled.earned_fen,
                "earned_reversed_fen": cancelled.earned_reversed_fen}))
        uow.commit()
    return endorsement


@retried
def transfer_policy(cmd: TransferPolicy, uow: UnitOfWork) -> Endorsement:
    """The insured changes with the loan's transfer (see the module's docstring)."""
    authorize(uow, Action.POLICY_ENDORSE)
    problems = _check_reason(cmd.reason)
    contract = cmd.contract_no.strip()
    if not contract or len(contract) > 64 or not _TEXT.match(contract):
        problems.append(FieldError("contract_no", "policy.contract_no",
                                   "the new funder's contract number, 1 to 64 characters"))
    if problems:
        raise InvalidInput(problems)
    with uow:
        policy = require(uow.policies.get(cmd.policy_id), "policy", cmd.policy_id)
        to = require(uow.funders.get_by_code(cmd.to_funder), "funder", cmd.to_funder)
        assert policy.id is not None and to.id is not None
        taken = uow.loans.get_by_contract(to.id, contract)
        # Read after the policy: a concurrent transfer of this sale that committed since
        # has left its loan under the contract and its endorsement.
        if taken is not None and taken.id == policy.loan_id:
            done = next((e for e in reversed(uow.policies.endorsements(policy.id))
                         if e.kind is EndorsementKind.TRANSFER
                         and e.details.get("to_funder_id") == to.id
                         and e.details.get("to_contract_no") == contract), None)
            if done is not None and uow.actor.funder_id in (
                    None, done.details.get("from_funder_id"),
                    done.details.get("to_funder_id")):
                return done  # a retry, the seller's included: the transfer it asked for
        own(uow, policy.funder_id, "policy", cmd.policy_id)
        if policy.status is not PolicyStatus.IN_FORCE or policy.loan_id is None:
            raise Conflict(f"policy {policy.policy_no} is {policy.status.value}: only a "
                           "policy in force changes its insured")
        if policy.product_code not in to.products:
            raise InvalidInput.single("to_funder", "policy.transfer_product",
                                      f"{to.code}'s agreement does not cover "
                                      f"{policy.product_code}")
        if taken is not None:
            raise Conflict(f"{to.code} has a loan with contract number {contract} already")
        loan = require(uow.loans.get(policy.loan_id), "loan", policy.loan_id)
        before = (policy.funder_id, loan.contract_no)
        policy.transfer(cmd.on, to_funder_id=to.id)
        loan.transfer(to_funder_id=to.id, contract_no=contract, on=cmd.on)
        uow.loans.reassign(loan)
        uow.policies.save(policy)
        endorsement = uow.policies.add_endorsement(Endorsement(
            policy.id, policy.version, EndorsementKind.TRANSFER, cmd.on, cmd.reason.strip(),
            details={"from_funder_id": before[0], "from_contract_no": before[1],
                     "to_funder_id": to.id, "to_contract_no": contract}))
        uow.commit()
    return endorsement


@retried
def prepay_in_part(cmd: PrepayInPart, uow: UnitOfWork) -> Endorsement:
    """A partial prepayment the funder reports (see the module's docstring)."""
    authorize(uow, Action.REPAYMENT_RECORD)
    with uow:
        endorsement = prepay_part(uow, cmd)
        uow.commit()
    return endorsement


def prepay_part(uow: UnitOfWork, cmd: PrepayInPart) -> Endorsement:
    """``prepay_in_part`` inside the caller's open unit of work, which authorizes and commits
    (a funder's repayment file too): every check before anything is written, so a refused one
    leaves nothing behind."""
    problems = []
    if not isinstance(cmd.principal_fen, int) or cmd.principal_fen <= 0:
        problems.append(FieldError("principal_fen", "amount.positive",
                                   "the principal prepaid is more than 0"))
    if not isinstance(cmd.interest_fen, int) or cmd.interest_fen < 0:
        problems.append(FieldError("interest_fen", "amount.nonnegative",
                                   "interest cannot be negative"))
    reference = cmd.reference.strip()
    if not reference or len(reference) > 64 or not _TEXT.match(reference):
        problems.append(FieldError("reference", "repayment.reference",
                                   "the funder's transaction number, 1 to 64 characters"))
    if problems:
        raise InvalidInput(problems)
    loan = require(uow.loans.get(cmd.loan_id), "loan", cmd.loan_id)
    own(uow, loan.funder_id, "loan", cmd.loan_id)
    assert loan.id is not None
    policy = uow.policies.get_by_loan(loan.id)
    paid = uow.repayments.paid_totals([loan.id]).get(loan.id, {})
    # The evidence of a repeat is read last: a concurrent sender that committed after
    # the loan or what was paid on it was read is seen here.
    if uow.repayments.known_references([(loan.id, reference)]):
        done = next((e for e in reversed(uow.policies.endorsements(policy.id))
                     if e.kind is EndorsementKind.PARTIAL_PREPAYMENT
                     and e.details.get("reference") == reference), None) \
            if policy is not None and policy.id is not None else None
        if done is None:
            raise Conflict(f"transaction {reference!r} is recorded on loan {loan.id} as "
                           "another repayment")
        return done
    if loan.status is not LoanStatus.ACTIVE:
        raise Conflict(f"loan {loan.id} is {loan.status.value}")
    if policy is None or policy.status is not PolicyStatus.IN_FORCE or policy.id is None:
        raise Conflict(f"loan {loan.id} has no policy in force")
    if not loan.start_date <= cmd.paid_on < loan.maturity_date:
        raise InvalidInput.single("paid_on", "repayment.date",
                                  f"a partial prepayment is made between disbursement "
                                  f"({loan.start_date}) and maturity "
                                  f"({loan.maturity_date})")
    now = position(loan.installments, paid, cmd.paid_on)
    if now.days_past_due > 0:
        raise Conflict(f"loan {loan.id} is {now.days_past_due} days past due: record the "
                       "overdue repayments before a prepayment")
    schedule = partial_prepayment_schedule(loan, paid, on=cmd.paid_on,
                                           principal_fen=cmd.principal_fen,
                                           interest_fen=cmd.interest_fen)
    current = next(i for i, j in zip(loan.installments, schedule, strict=True) if i != j)
    outstanding = now.outstanding_principal_fen
    uow.repayments.add(Repayment(loan.id, current.number, cmd.paid_on, cmd.principal_fen,
                                 cmd.interest_fen), reference)
    before = paid.get(current.number, (0, 0))
    paid = {**paid, current.number: (before[0] + cmd.principal_fen,
                                     before[1] + cmd.interest_fen)}
    policy.schedule = loan.installments  # earned to the day on the schedule it had
    loan.reschedule(schedule, on=cmd.paid_on, why="partial prepayment",
                    reference=reference, principal_fen=cmd.principal_fen,
                    interest_fen=cmd.interest_fen)
    loan.first_unpaid_due_date = first_unpaid_due_date(schedule, paid)
    uow.loans.reschedule(loan)
    uow.loans.refresh_first_unpaid([loan.id])
    refunded_before, premium_before = policy.refunded_fen, policy.installment_premium_fen
    change = policy.prepay_partly(cmd.paid_on, principal_fen=cmd.principal_fen,
                                  outstanding_fen=outstanding,
                                  schedule_sha256=schedule_digest(schedule),
                                  interest_fen=sum(i.interest_fen for i in schedule))
    post(uow, postings.premium_earned(
        on=cmd.paid_on, policy_id=policy.id, policy_no=policy.policy_no,
        earned_through_fen=policy.earned_fen, amount_fen=change.earned_fen))
    clawback = post_refund(
        uow, policy, on=cmd.paid_on, refunded_fen=change.refunded_fen,
        refunded_before=refunded_before, version=policy.version,
        description=f"Premium refund on partial prepayment of {policy.policy_no}")
    uow.policies.save(policy)
    endorsement = uow.policies.add_endorsement(Endorsement(
        policy.id, policy.version, EndorsementKind.PARTIAL_PREPAYMENT, cmd.paid_on,
        "partial prepayment", change.refunded_fen, clawback, {
            "reference": reference, "principal_fen": cmd.principal_fen,
            "interest_fen": cmd.interest_fen, "outstanding_fen": outstanding,
            "installment": current.number, "earned_fen": change.earned_fen,
            "principal_insured_fen": policy.principal_insured_fen,
            "premium_before_fen": premium_before,
            "installment_premium_fen": policy.installment_premium_fen,
            "installments_written": policy.installments_written,
            "schedule_sha256": policy.schedule_sha256}))
    return endorsement


@retried
def restructure_loan(cmd: RestructureLoan, uow: UnitOfWork) -> Endorsement:
    """A restructuring of the insured loan (see the module's docstring)."""
    actor = authorize(uow, Action.POLICY_ENDORSE)
    problems = _check_reason(cmd.reason)
    reference = cmd.reference.strip()
    if not reference or len(reference) > 64 or not _TEXT.match(reference):
        problems.append(FieldError("reference", "restructure.reference",
                                   "the funder's restructuring agreement number, 1 to 64 "
                                   "characters"))
    if cmd.consent and actor.funder_id is not None:
        problems.append(FieldError("consent", "restructure.consent",
                                   "the insurer's consent is given by its staff, not a "
                                   "funder"))
    if problems:
        raise InvalidInput(problems)
    with uow:
        policy = require(uow.policies.get(cmd.policy_id), "policy", cmd.policy_id)
        own(uow, policy.funder_id, "policy", cmd.policy_id)
        assert policy.id is not None
        loan = uow.loans.get(policy.loan_id) if policy.loan_id is not None else None
        paid = uow.repayments.paid_totals([loan.id]).get(loan.id, {}) \
            if loan is not None and loan.id is not None else {}
        # The evidence of a repeat is read last: a concurrent request that committed after
        # the policy or its loan was read is seen here.
        done = next((e for e in reversed(uow.policies.endorsements(policy.id))
                     if e.kind is EndorsementKind.RESTRUCTURE
                     and e.details.get("reference") == reference), None)
        if done is not None:
            return done
        if policy.status is not PolicyStatus.IN_FORCE or loan is None or loan.id is None:
            raise Conflict(f"policy {policy.policy_no} is {policy.status.value}: only the "
                           "loan of a policy in force is restructured here")
        if loan.status is not LoanStatus.ACTIVE:
            raise Conflict(f"loan {loan.id} is {loan.status.value}")
        if not loan.start_date <= cmd.on < (policy.end_date or cmd.on):
            raise InvalidInput.single("on", "restructure.date",
                                      f"a restructuring takes effect within the cover, "
                                      f"{policy.start_date} to {policy.end_date}")
        rate = loan.annual_rate if cmd.annual_rate is None else cmd.annual_rate
        schedule = restructured_schedule(loan, paid, on=cmd.on, installments=cmd.installments,
                                         annual_rate=rate)
        policy.schedule = loan.installments  # earned to the day on the schedule it had
        loan.reschedule(schedule, on=cmd.on, why="restructuring", annual_rate=rate,
                        reference=reference, consent=cmd.consent)
        loan.first_unpaid_due_date = first_unpaid_due_date(schedule, paid)
        uow.loans.reschedule(loan)
        uow.loans.refresh_first_unpaid([loan.id])
        details: dict[str, object] = {
            "reference": reference, "consent": cmd.consent, "installments": cmd.installments,
            "annual_rate": str(rate), "term_months": loan.term_months,
            "maturity_date": loan.maturity_date.isoformat(),
            "schedule_sha256": schedule_digest(schedule)}
        if cmd.consent:
            change = policy.restructure(cmd.on, end=loan.maturity_date,
                                        term_months=loan.term_months,
                                        schedule_sha256=schedule_digest(schedule),
                                        interest_fen=sum(i.interest_fen for i in schedule))
            post(uow, postings.premium_earned(
                on=cmd.on, policy_id=policy.id, policy_no=policy.policy_no,
                earned_through_fen=policy.earned_fen, amount_fen=change.earned_fen))
            details["earned_fen"] = change.earned_fen
        else:
            policy.note_restructure(cmd.on)
        uow.policies.save(policy)
        endorsement = uow.policies.add_endorsement(Endorsement(
            policy.id, policy.version, EndorsementKind.RESTRUCTURE, cmd.on,
            cmd.reason.strip(), details=details))
        uow.commit()
    return endorsement


def lapse_unpaid(uow: UnitOfWork, *, on: date, rules: PolicyRules | None = None) -> list[int]:
    """Inside the end-of-day batch's unit of work: where the wording makes a policy lapse on
    unpaid premium (``params/policy.toml``), each policy in force whose oldest unpaid
    installment premium fell due more than its funder's agreement's grace days before
    ``on`` lapses (an endorsement; the single premium, if any, earned to the day; the
    premium written for the cover given stays owed). Returns the policies lapsed."""
    rules = rules or shipped()
    modes = [m.value for m in InsuranceMode if rules.unpaid_premium_for(m.value) == LAPSE]
    lapsed: list[int] = []
    grace: dict[int, int] = {}
    candidates = uow.policies.get_many(uow.policies.with_premium_due(modes))
    loans = uow.loans.get_many(p.loan_id for p in candidates if p.loan_id is not None)
    for policy in candidates:
        number = policy.first_unpaid_premium()
        assert policy.id is not None and policy.loan_id is not None
        loan = require(loans.get(policy.loan_id), "loan", policy.loan_id)
        installment = loan.installment(number) if number else None
        if policy.funder_id not in grace:
            versions = uow.funders.agreements(policy.funder_id)
            grace[policy.funder_id] = versions[-1].premium_grace_days if versions else 30
        if installment is None or installment.due_date + timedelta(
                days=grace[policy.funder_id]) >= on or policy.end_date is None \
                or on >= policy.end_date:  # cover over: it expires, it does not lapse
            continue
        policy.schedule = loan.installments  # a policy earning by exposure reads it
        earned = policy.lapse(on, installment=installment.number)
        post(uow, postings.premium_earned(
            on=on, policy_id=policy.id, policy_no=policy.policy_no,
            earned_through_fen=policy.earned_fen, amount_fen=earned))
        uow.policies.save(policy)
        uow.policies.add_endorsement(Endorsement(
            policy.id, policy.version, EndorsementKind.LAPSE, on,
            f"premium of installment {installment.number} unpaid since "
            f"{installment.due_date}", details={
                "installment": installment.number,
                "due_date": installment.due_date.isoformat(),
                "grace_days": grace[policy.funder_id],
                "premium_due_fen": policy.premium_due_fen}))
        lapsed.append(policy.id)
    return lapsed
