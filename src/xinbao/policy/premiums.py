"""Journal entries for premium: written, collected, earned, and the funder's commission.

Posting keys are derived from the business object, so re-running a step never posts twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from xinbao.catalogue.model.parties import Funder
from xinbao.kernel.money import apply_rate
from xinbao.ledger import model as ledger
from xinbao.ledger.services import key_digest, post
from xinbao.policy.model import Policy
from xinbao.policy.repository import PremiumTerms, UnitOfWork


def _ref(policy: Policy) -> str:
    return f"policy:{policy.id}"


def post_single_premiums(uow: UnitOfWork, policies: Sequence[Policy],
                         funders: Mapping[int, Funder], *, on: date, collected: bool) -> None:
    """At issue: write the single premiums, defer them to the UPR, accrue the funders'
    commission (and, when collected at disbursement, the cash) — one entry per batch."""
    premium = sum(p.single_premium_fen for p in policies)
    commission = sum(apply_rate(p.single_premium_fen, funders[p.funder_id].commission_rate)
                     for p in policies)
    moves = [
        (ledger.PREMIUM_RECEIVABLE, ledger.WRITTEN_PREMIUM, premium),
        (ledger.UPR_CHARGE, ledger.UNEARNED_PREMIUM_RESERVE, premium),
        (ledger.COMMISSION_EXPENSE, ledger.COMMISSION_PAYABLE, commission),
    ]
    if collected:
        moves.append((ledger.BANK, ledger.PREMIUM_RECEIVABLE, premium))
    ids = [str(p.id) for p in policies]
    reference = _ref(policies[0]) if len(policies) == 1 else f"issue:{on.isoformat()}"
    post(uow, ledger.entry(on=on, description=f"Single premium of {len(policies)} policies",
                           source="IssuePolicy", key=key_digest(ids), reference=reference,
                           moves=moves))


def write_installment_premiums(
    uow: UnitOfWork, due: Sequence[tuple[PremiumTerms, int]], funders: Mapping[int, Funder], *,
    on: date, source: str,
) -> int:
    """Write the premiums of installments up to each policy's number not yet written, as one
    journal entry for the batch, and record each policy's progress; returns the fen written.

    An installment premium pays for cover already given (it falls due at the end of its
    month), so it is earned as it is written: no UPR is set up for it. The per-policy detail
    is each policy's ``installments_written``; the entry's key is derived from exactly which
    installments it writes, so a rerun posts nothing twice.
    """
    premium_total = commission_total = 0
    written: list[str] = []
    progress: dict[int, int] = {}
    for terms, through in due:
        first, last = terms.installments_written + 1, min(through, terms.term_months)
        if last < first or not terms.installment_premium_fen:
            continue
        count = last - first + 1
        premium = terms.installment_premium_fen
        premium_total += premium * count
        commission_total += apply_rate(premium, funders[terms.funder_id].commission_rate) * count
        progress[terms.id] = last
        written.append(f"{terms.id}:{first}-{last}")
    if written:
        post(uow, ledger.entry(
            on=on, description=f"Installment premiums written ({len(written)} policies)",
            source="WriteInstallmentPremium", key=f"{source}:{key_digest(written)}",
            reference=source,
            moves=[(ledger.PREMIUM_RECEIVABLE, ledger.WRITTEN_PREMIUM, premium_total),
                   (ledger.COMMISSION_EXPENSE, ledger.COMMISSION_PAYABLE, commission_total)],
        ))
        uow.policies.set_installments_written(progress)
    return premium_total


def collect_premiums(uow: UnitOfWork, *, amount_fen: int, on: date, source: str,
                     key: str) -> None:
    """Premium received with a funder's repayment file (Dr bank / Cr premium receivable)."""
    post(uow, ledger.entry(
        on=on, description="Premium collected with repayments", source="CollectPremium",
        key=key, reference=source,
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


def earn_premiums(uow: UnitOfWork, policies: Sequence[Policy], *, on: date,
                  source: str) -> int:
    """Month-end close: release the UPR earned since the last close, for many policies, as
    one journal entry; each policy keeps its own ``earned_fen``."""
    total = 0
    parts: list[str] = []
    for policy in policies:
        target = policy.earned_to(on)
        delta = target - policy.earned_fen
        if delta > 0:
            total += delta
            policy.earned_fen = target
            parts.append(f"{policy.id}:{target}")
    if total:
        post(uow, ledger.entry(
            on=on, description=f"Premium earned to {on} ({len(parts)} policies)",
            source="EarnPremium", key=f"{source}:{key_digest(parts)}", reference=source,
            moves=[(ledger.UNEARNED_PREMIUM_RESERVE, ledger.UPR_CHARGE, total)],
        ))
    return total
