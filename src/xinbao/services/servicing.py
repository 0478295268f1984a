"""Post-insurance servicing: the funder's repayment data and the end-of-day batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from xinbao.domain.claims import ClaimStatus
from xinbao.domain.errors import Conflict, FieldError, InvalidInput, require
from xinbao.domain.events import Event
from xinbao.domain.loans import (
    Loan,
    LoanStatus,
    Repayment,
    installment_settled,
    paid_by_installment,
    position,
)
from xinbao.domain.policy import Policy, PolicyStatus
from xinbao.services.claims import open_claim
from xinbao.services.commands import (
    RecordMissedInstallment,
    RecordPrepayment,
    RecordRepayment,
    RunEndOfDay,
)
from xinbao.services.premiums import (
    collect_installment_premium,
    earn_premium,
    refund_unearned_premium,
    write_installment_premiums,
)
from xinbao.services.unit_of_work import UnitOfWork


def record_repayment(cmd: RecordRepayment, uow: UnitOfWork) -> Repayment:
    """Record one repayment from the funder's file; the same reference again is ignored."""
    errors: list[FieldError] = []
    if min(cmd.principal_fen, cmd.interest_fen, cmd.premium_fen) < 0:
        errors.append(FieldError("amount", "amount.nonnegative", "amounts cannot be negative"))
    elif cmd.principal_fen + cmd.interest_fen == 0:
        errors.append(FieldError("amount", "amount.positive", "a repayment repays something"))
    if not cmd.reference.strip():
        errors.append(FieldError("reference", "repayment.reference",
                                 "the funder's transaction number is required"))
    if errors:
        raise InvalidInput(errors)
    with uow:
        loan = require(uow.loans.get(cmd.loan_id), "loan", cmd.loan_id)
        repeat = uow.repayments.get_by_reference(loan.id, cmd.reference)
        if repeat is not None:
            return repeat
        if loan.status is not LoanStatus.ACTIVE:
            raise Conflict(f"loan {loan.id} is {loan.status.value}: repayments after a claim are "
                           "recoveries")
        installment = loan.installment(cmd.installment_number)
        if installment is None:
            raise InvalidInput.single("installment_number", "repayment.installment",
                                      f"loan {loan.id} has installments 1 to {loan.term_months}")
        if cmd.paid_on < loan.start_date:
            raise InvalidInput.single("paid_on", "repayment.date",
                                      "a repayment cannot precede disbursement")
        repayments = uow.repayments.for_loan(loan.id)
        p_paid, i_paid = paid_by_installment(repayments).get(installment.number, (0, 0))
        if (p_paid + cmd.principal_fen > installment.principal_fen
                or i_paid + cmd.interest_fen > installment.interest_fen):
            raise InvalidInput.single(
                "amount", "repayment.overpayment",
                f"installment {installment.number} has {installment.principal_fen - p_paid} fen "
                f"principal and {installment.interest_fen - i_paid} fen interest left")
        policy = uow.policies.get_by_loan(loan.id)
        if cmd.premium_fen and (policy is None or not policy.installment_premium_fen):
            raise InvalidInput.single("premium_fen", "repayment.premium",
                                      "this loan's policy has no installment premium")
        repayment = uow.repayments.add(Repayment(
            loan_id=loan.id, installment_number=installment.number, paid_on=cmd.paid_on,
            principal_fen=cmd.principal_fen, interest_fen=cmd.interest_fen), cmd.reference)
        if cmd.premium_fen and policy is not None:
            funder = uow.funders.get(policy.funder_id)
            assert funder is not None
            write_installment_premiums(uow, policy, funder, through=installment.number,
                                       on=cmd.paid_on)
            collect_installment_premium(uow, policy, installment=installment.number,
                                        amount_fen=cmd.premium_fen, on=cmd.paid_on,
                                        reference=cmd.reference)
            uow.policies.save(policy)
        uow.commit()
    return repayment


def record_missed_installment(cmd: RecordMissedInstallment, uow: UnitOfWork) -> Event:
    """The funder reports an installment unpaid after its due date (kept as an event)."""
    with uow:
        loan = require(uow.loans.get(cmd.loan_id), "loan", cmd.loan_id)
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
    """The loan is repaid: before maturity the unearned premium goes back and the policy is
    cancelled; at maturity the rest of the premium is earned and the policy expires. Either
    way the policy is then closed."""
    loan.status = LoanStatus.PAID_OFF
    uow.loans.save(loan)
    if on < loan.maturity_date:
        refunded = refund_unearned_premium(uow, policy, on=on)
        policy.cancel(on, "loan prepaid")
        outcome = Settlement(expired=False, earned_fen=0, refunded_fen=refunded)
    else:
        earned = earn_premium(uow, policy, on=on, all_of_it=True)
        policy.expire(on)
        outcome = Settlement(expired=True, earned_fen=earned, refunded_fen=0)
    policy.close(on, "loan repaid")
    uow.policies.save(policy)
    return outcome


def record_prepayment(cmd: RecordPrepayment, uow: UnitOfWork) -> Settlement:
    """The borrower repays all outstanding principal early (提前还款).

    The principal left on every unpaid installment is recorded as repaid on ``paid_on``, the
    interest reported goes to the current installment, and the policy is settled at once:
    unearned single premium refunded (pro rata or Rule of 78), policy cancelled and closed.
    """
    if cmd.interest_fen < 0:
        raise InvalidInput.single("interest_fen", "amount.nonnegative",
                                  "interest cannot be negative")
    if not cmd.reference.strip():
        raise InvalidInput.single("reference", "repayment.reference",
                                  "the funder's transaction number is required")
    with uow:
        loan = require(uow.loans.get(cmd.loan_id), "loan", cmd.loan_id)
        if loan.status is not LoanStatus.ACTIVE:
            raise Conflict(f"loan {loan.id} is {loan.status.value}")
        policy = uow.policies.get_by_loan(loan.id)
        if policy is None or policy.status is not PolicyStatus.IN_FORCE:
            raise Conflict(f"loan {loan.id} has no policy in force")
        if cmd.paid_on < loan.start_date:
            raise InvalidInput.single("paid_on", "repayment.date",
                                      "a repayment cannot precede disbursement")
        paid = paid_by_installment(uow.repayments.for_loan(loan.id))
        pos = position(loan.installments, paid, cmd.paid_on)
        if pos.days_past_due > 0:
            raise Conflict(f"loan {loan.id} is {pos.days_past_due} days past due: record the "
                           "overdue repayments before the prepayment")
        current = None
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
                uow.repayments.add(Repayment(
                    loan_id=loan.id, installment_number=inst.number, paid_on=cmd.paid_on,
                    principal_fen=principal_left, interest_fen=interest),
                    f"{cmd.reference}:{inst.number}")
        loan.events.append(Event("LoanPrepaid", "loan", loan.id, cmd.paid_on, {
            "principal_fen": pos.outstanding_principal_fen, "interest_fen": cmd.interest_fen}))
        outcome = _settle(uow, policy, loan, on=cmd.paid_on)
        uow.commit()
    return outcome


@dataclass(slots=True)
class EndOfDayReport:
    on: date
    policies_checked: int = 0
    premium_written_fen: int = 0
    premium_earned_fen: int = 0
    policies_expired: int = 0
    policies_cancelled: int = 0
    premium_refunded_fen: int = 0
    claims_opened: list[int] = field(default_factory=list)
    claims_declined: list[int] = field(default_factory=list)
    days_past_due: dict[int, int] = field(default_factory=dict)  # policy id → DPD


def run_end_of_day(cmd: RunEndOfDay, uow: UnitOfWork) -> EndOfDayReport:
    """Days past due, installment premium written, premium earned, expiries and claims.

    One transaction for the whole day; run it again for the same day and nothing more is
    posted (every posting key is derived from the policy and the amount it covers).
    """
    close_month = cmd.close_month
    if close_month is None:
        close_month = (cmd.on + timedelta(days=1)).month != cmd.on.month
    report = EndOfDayReport(on=cmd.on)
    with uow:
        funders = {f.id: f for f in uow.funders.list()}
        for policy in uow.policies.list_by_status([PolicyStatus.IN_FORCE]):
            report.policies_checked += 1
            loan = uow.loans.get(policy.loan_id)
            product = uow.products.get(policy.product_code, policy.product_version)
            if loan is None or product is None:  # pragma: no cover - referential integrity
                raise Conflict(f"policy {policy.id} refers to missing records")
            pos = position(loan.installments,
                           paid_by_installment(uow.repayments.for_loan(loan.id)), cmd.on)
            report.days_past_due[policy.id] = pos.days_past_due
            due_so_far = sum(1 for i in loan.installments if i.due_date <= cmd.on)
            report.premium_written_fen += write_installment_premiums(
                uow, policy, funders[policy.funder_id], through=due_so_far, on=cmd.on)
            if close_month:
                report.premium_earned_fen += earn_premium(uow, policy, on=cmd.on)
            if pos.paid_off:
                outcome = _settle(uow, policy, loan, on=cmd.on)
                report.premium_refunded_fen += outcome.refunded_fen
                report.premium_earned_fen += outcome.earned_fen
                report.policies_expired += outcome.expired
                report.policies_cancelled += not outcome.expired
            elif pos.days_past_due >= product.claim_trigger_dpd and not any(
                c.status is ClaimStatus.DECLINED for c in uow.claims.for_policy(policy.id)
            ):
                claim = open_claim(uow, policy, on=cmd.on)
                (report.claims_opened if claim.status is ClaimStatus.OPEN
                 else report.claims_declined).append(claim.id)
            uow.policies.save(policy)
        uow.commit()
    return report
