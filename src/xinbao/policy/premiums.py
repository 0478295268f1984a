"""Premium postings: written, collected, earned, and the funder's commission.

The use-case side: it works out the amounts (the commission at each funder's rate, the
installments not yet written, what each policy earns), posts the entries that
`policy/postings.py` builds and records each policy's progress. Posting keys are derived from
the business object, so re-running a step never posts twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from xinbao.catalogue.model.parties import Funder
from xinbao.kernel.money import apply_rate
from xinbao.ledger.services import post
from xinbao.policy import postings
from xinbao.policy.model import Policy
from xinbao.policy.repository import PremiumTerms, UnitOfWork


def _id(policy: Policy) -> int:
    assert policy.id is not None  # only a stored policy has premium to post
    return policy.id


def post_single_premiums(uow: UnitOfWork, policies: Sequence[Policy],
                         funders: Mapping[int, Funder], *, on: date, collected: bool) -> None:
    """At issue: write the single premiums, defer them to the UPR, accrue the funders'
    commission (each policy's at its funder's rate) and, when collected at disbursement, the
    cash — one entry per batch."""
    post(uow, postings.single_premiums_at_issue(
        on=on, policy_ids=[_id(p) for p in policies],
        premium_fen=sum(p.single_premium_fen for p in policies),
        commission_fen=sum(apply_rate(p.single_premium_fen, funders[p.funder_id].commission_rate)
                           for p in policies),
        collected=collected,
    ))


def write_installment_premiums(
    uow: UnitOfWork, due: Sequence[tuple[PremiumTerms, int]], funders: Mapping[int, Funder], *,
    on: date, source: str,
) -> int:
    """Write the premiums of installments up to each policy's number not yet written, as one
    journal entry for the batch, and record each policy's progress; returns the fen written.

    The per-policy detail is each policy's ``installments_written``; the entry's key is
    derived from exactly which installments it writes, so a rerun posts nothing twice.
    """
    premium_total = commission_total = 0
    written: list[tuple[int, int, int]] = []
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
        written.append((terms.id, first, last))
    if written:
        post(uow, postings.installment_premiums_written(
            on=on, source=source, installments=written, premium_fen=premium_total,
            commission_fen=commission_total))
        uow.policies.set_installments_written(progress)
    return premium_total


def earn_premium(uow: UnitOfWork, policy: Policy, *, on: date, all_of_it: bool = False) -> int:
    """Release the UPR earned since the last release; ``all_of_it`` when cover ends early."""
    earned = policy.earn(on, all_of_it=all_of_it)
    if earned:
        post(uow, postings.premium_earned(
            on=on, policy_id=_id(policy), policy_no=policy.policy_no,
            earned_through_fen=policy.earned_fen, amount_fen=earned))
    return earned


def earn_premiums(uow: UnitOfWork, policies: Sequence[Policy], *, on: date,
                  source: str) -> int:
    """Month-end close: release the UPR earned since the last close, for many policies, as
    one journal entry; each policy keeps its own ``earned_fen``."""
    total = 0
    earned: list[tuple[int, int]] = []
    for policy in policies:
        delta = policy.earn(on)
        if delta:
            total += delta
            earned.append((_id(policy), policy.earned_fen))
    post(uow, postings.premiums_earned(on=on, source=source, earned=earned, amount_fen=total))
    return total
