"""Journal entries for premium: written, collected, earned, and the funder's commission.

Posting keys are derived from the business object, so re-running a step never posts twice.
"""

from __future__ import annotations

from datetime import date

from xinbao.domain import ledger
from xinbao.domain.money import apply_rate
from xinbao.domain.parties import Funder
from xinbao.domain.policy import Policy
from xinbao.services.ledger import post
from xinbao.services.unit_of_work import UnitOfWork


def _ref(policy: Policy) -> str:
    return f"policy:{policy.id}"


def post_single_premium(uow: UnitOfWork, policy: Policy, funder: Funder, *, on: date,
                        collected: bool) -> None:
    """At issue: write the single premium, defer it to the UPR, accrue the commission."""
    premium = policy.single_premium_fen
    commission = apply_rate(premium, funder.commission_rate)
    moves = [
        (ledger.PREMIUM_RECEIVABLE, ledger.WRITTEN_PREMIUM, premium),
        (ledger.UPR_CHARGE, ledger.UNEARNED_PREMIUM_RESERVE, premium),
        (ledger.COMMISSION_EXPENSE, ledger.COMMISSION_PAYABLE, commission),
    ]
    if collected:
        moves.append((ledger.BANK, ledger.PREMIUM_RECEIVABLE, premium))
    post(uow, ledger.entry(on=on, description=f"Single premium of {policy.policy_no}",
                           source="IssuePolicy", key=_ref(policy), reference=_ref(policy),
                           moves=moves))


def write_installment_premiums(uow: UnitOfWork, policy: Policy, funder: Funder, *,
                               through: int, on: date) -> int:
    """Write the premiums of installments up to ``through`` not yet written; returns fen.

    An installment premium pays for cover already given (it falls due at the end of its
    month), so it is earned as it is written: no UPR is set up for it.
    """
    written = 0
    premium = policy.installment_premium_fen
    if not premium:
        return 0
    commission = apply_rate(premium, funder.commission_rate)
    for number in range(policy.installments_written + 1, min(through, policy.term_months) + 1):
        post(uow, ledger.entry(
            on=on, description=f"Installment {number} premium of {policy.policy_no}",
            source="WriteInstallmentPremium", key=f"{_ref(policy)}:installment:{number}",
            reference=_ref(policy),
            moves=[(ledger.PREMIUM_RECEIVABLE, ledger.WRITTEN_PREMIUM, premium),
                   (ledger.COMMISSION_EXPENSE, ledger.COMMISSION_PAYABLE, commission)],
        ))
        policy.installments_written = number
        written += premium
    return written


def collect_installment_premium(uow: UnitOfWork, policy: Policy, *, installment: int,
                                amount_fen: int, on: date, reference: str) -> None:
    post(uow, ledger.entry(
        on=on, description=f"Premium collected with installment {installment} of "
                           f"{policy.policy_no}",
        source="CollectPremium", key=f"{_ref(policy)}:{reference}", reference=_ref(policy),
        moves=[(ledger.BANK, ledger.PREMIUM_RECEIVABLE, amount_fen)],
    ))


def earn_premium(uow: UnitOfWork, policy: Policy, *, on: date, all_of_it: bool = False) -> int:
    """Release the UPR earned since the last release; ``all_of_it`` when cover ends early."""
    target = policy.single_premium_fen if all_of_it else policy.earned_to(on)
    delta = target - policy.earned_fen
    if delta <= 0:
        return 0
    post(uow, ledger.entry(
        on=on, description=f"Premium earned on {policy.policy_no} to {on}",
        source="EarnPremium", key=f"{_ref(policy)}:{target}", reference=_ref(policy),
        moves=[(ledger.UNEARNED_PREMIUM_RESERVE, ledger.UPR_CHARGE, delta)],
    ))
    policy.earned_fen = target
    return delta


def refund_unearned_premium(uow: UnitOfWork, policy: Policy, *, on: date) -> int:
    """On prepayment: earn to date, then refund the rest of the single premium (DOMAIN §3).

    The refund reverses written premium and releases the same amount of UPR, so the policy's
    earned premium stays what it had earned.
    """
    earn_premium(uow, policy, on=on)
    refund = policy.refund_on_prepayment(on)
    if refund <= 0:
        return 0
    post(uow, ledger.entry(
        on=on, description=f"Premium refund on prepayment of {policy.policy_no}",
        source="RefundPremium", key=_ref(policy), reference=_ref(policy),
        moves=[(ledger.WRITTEN_PREMIUM, ledger.BANK, refund),
               (ledger.UNEARNED_PREMIUM_RESERVE, ledger.UPR_CHARGE, refund)],
    ))
    policy.refunded_fen = refund
    return refund
