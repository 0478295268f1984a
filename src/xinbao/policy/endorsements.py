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

Both are idempotent: asked again (a retry, a racing request), they answer with the
endorsement made, and a concurrent one of the same version is a write conflict that the
retry answers so (one effect, one event, one refund).
"""

from __future__ import annotations

import re
from datetime import timedelta

from xinbao.catalogue.model.parties import PolicyRole
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, FieldError, InvalidInput, require
from xinbao.kernel.money import apply_rate
from xinbao.kernel.retries import retried
from xinbao.ledger.services import post
from xinbao.loans.model import paid_by_installment, position
from xinbao.policy import postings
from xinbao.policy.commands import CancelPolicy, TransferPolicy
from xinbao.policy.model import Endorsement, EndorsementKind, PolicyStatus
from xinbao.policy.repository import UnitOfWork
from xinbao.policy.rules import PolicyRules, shipped

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
        cancelled = policy.cancel_on_request(cmd.on, cooling_off_ends=cooling_off_ends,
                                             reason=cmd.reason.strip())
        funder = require(uow.funders.get(policy.funder_id), "funder", policy.funder_id)
        clawback = apply_rate(cancelled.refunded_fen, funder.commission_rate)
        post(uow, postings.premium_earned(
            on=cmd.on, policy_id=policy.id, policy_no=policy.policy_no,
            earned_through_fen=policy.earned_fen, amount_fen=cancelled.earned_fen))
        post(uow, postings.premium_refunded(
            on=cmd.on, policy_id=policy.id, policy_no=policy.policy_no,
            amount_fen=cancelled.refunded_fen, commission_fen=clawback,
            earned_reversed_fen=cancelled.earned_reversed_fen,
            description=f"Premium refund on cancellation of {policy.policy_no}"))
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
