"""Premium postings: written, collected, earned, and the funder's commission.

The use-case side: it works out the amounts (the commission at each funder's rate, the
installments not yet written, what each policy earns), posts the entries that
`policy/postings.py` builds and records each policy's progress. Posting keys are derived from
the business object, so re-running a step never posts twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from xinbao.catalogue.model.agreements import PremiumCollector
from xinbao.catalogue.model.parties import Funder
from xinbao.kernel.errors import WriteConflict, require
from xinbao.kernel.money import apply_rate
from xinbao.ledger.model import funder_party
from xinbao.ledger.services import post
from xinbao.policy import postings
from xinbao.policy.model import EXPOSURE, Policy, single_premium_earned
from xinbao.policy.repository import PremiumTerms, UnitOfWork


def _id(policy: Policy) -> int:
    assert policy.id is not None  # only a stored policy has premium to post
    return policy.id


def funder_share(funder: Funder, *, premium_fen: int = 0, commission_fen: int = 0,
                 vat_fen: int = 0) -> postings.FunderShare:
    """A funder's part of a posting: its party, whether its agreement has it collect the
    premium, and the amounts."""
    return postings.FunderShare(funder_party(funder.code),
                                funder.premium_collector == PremiumCollector.FUNDER,
                                premium_fen, commission_fen, vat_fen)


def post_single_premiums(uow: UnitOfWork, policies: Sequence[Policy],
                         funders: Mapping[int, Funder], *, on: date, collected: bool) -> None:
    """At issue: write the single premiums with their VAT, defer them to the UPR, accrue
    each funder's commission (each policy's at its funder's rate, on the premium excluding
    VAT) and, when collected at disbursement, the cash (or the premium its funder holds) —
    one entry per batch."""
    premium: dict[int, int] = {}
    commission: dict[int, int] = {}
    vat: dict[int, int] = {}
    for p in policies:
        premium[p.funder_id] = premium.get(p.funder_id, 0) + p.single_premium_fen
        vat[p.funder_id] = vat.get(p.funder_id, 0) + p.vat_on(p.single_premium_fen)
        commission[p.funder_id] = commission.get(p.funder_id, 0) + apply_rate(
            p.single_premium_fen, funders[p.funder_id].commission_rate)
    post(uow, postings.single_premiums_at_issue(
        on=on, policy_ids=[_id(p) for p in policies],
        shares=[funder_share(funders[f], premium_fen=premium[f], commission_fen=commission[f],
                             vat_fen=vat[f])
                for f in sorted(premium)],
        collected=collected,
    ))


def write_installment_premiums(
    uow: UnitOfWork, due: Sequence[tuple[PremiumTerms, int]], funders: Mapping[int, Funder], *,
    on: date, source: str,
) -> int:
    """Write the premiums of installments up to each policy's number not yet written, with
    each one's VAT, as one journal entry for the batch, and record each policy's progress;
    returns the premium written, fen (excluding VAT).

    The per-policy detail is each policy's ``installments_written``; the entry's key is
    derived from exactly which installments it writes, so a rerun posts nothing twice.
    """
    premium_total = vat_total = 0
    commission: dict[str, int] = {}
    written: list[tuple[int, int, int]] = []
    progress: dict[int, int] = {}
    for terms, through in due:
        first, last = terms.installments_written + 1, min(through, terms.term_months)
        if last < first or not terms.installment_premium_fen:
            continue
        count = last - first + 1
        premium = terms.installment_premium_fen
        premium_total += premium * count
        vat_total += terms.installment_vat_fen * count
        funder = funders[terms.funder_id]
        party = funder_party(funder.code)
        commission[party] = commission.get(party, 0) + apply_rate(
            premium, funder.commission_rate) * count
        progress[terms.id] = last
        written.append((terms.id, first, last))
    if written:
        post(uow, postings.installment_premiums_written(
            on=on, source=source, installments=written, premium_fen=premium_total,
            vat_fen=vat_total, commission=commission))
        uow.policies.set_installments_written(progress)
    return premium_total


def post_refund(uow: UnitOfWork, policy: Policy, *, on: date, refunded_fen: int,
                refunded_before: int, description: str | None = None,
                earned_reversed_fen: int = 0, version: int | None = None) -> int:
    """Post the single premium the policy just refunded (``refunded_fen``; it had refunded
    ``refunded_before`` before), paid out of the bank or out of what its funder holds, and
    claw back the commission on it: the funder's rate on all the policy has refunded less on
    what it had, so that however many refunds it makes, the commission kept is the rate on
    the premium kept. The VAT on it is refunded the same way: what the policy kept before
    less what it keeps now (``Policy.single_vat_fen``), so the VAT left is always the rate
    on the premium kept. Returns the commission clawed back."""
    assert policy.id is not None
    funder = require(uow.funders.get(policy.funder_id), "funder", policy.funder_id)
    clawback = (apply_rate(policy.refunded_fen, funder.commission_rate)
                - apply_rate(refunded_before, funder.commission_rate))
    vat = policy.vat_on(policy.single_premium_fen - refunded_before) - policy.single_vat_fen
    post(uow, postings.premium_refunded(
        on=on, policy_id=policy.id, policy_no=policy.policy_no, amount_fen=refunded_fen,
        vat_fen=vat, share=funder_share(funder), commission_fen=clawback,
        earned_reversed_fen=earned_reversed_fen, description=description, version=version))
    return clawback


def earn_premium(uow: UnitOfWork, policy: Policy, *, on: date, all_of_it: bool = False) -> int:
    """Release the UPR earned since the last release; ``all_of_it`` when cover ends early."""
    earned = policy.earn(on, all_of_it=all_of_it)
    if earned:
        post(uow, postings.premium_earned(
            on=on, policy_id=_id(policy), policy_no=policy.policy_no,
            earned_through_fen=policy.earned_fen, amount_fen=earned))
    return earned


@dataclass(frozen=True, slots=True)
class Earned:
    """Single premium a policy earned in the day's batch: from ``before`` to ``now`` fen."""

    policy_id: int
    product_code: str
    before: int
    now: int

    @property
    def amount_fen(self) -> int:
        return self.now - self.before


def close_month(uow: UnitOfWork, *, on: date) -> list[Earned]:
    """Month-end close: every policy in force earns its single premium to the end of ``on``
    (``model.single_premium_earned``, the rule ``Policy.earn`` follows), read and written
    as columns: no policy object, no personal data, only ``earned_fen`` rewritten, and only
    where it grows. Nothing is posted here (``post_earned`` posts the day's entries).

    The write is a compare-and-set on what was read: a policy settled, claimed or earned
    by a concurrent transaction meanwhile makes this one a ``WriteConflict`` (retried).
    """
    earned: list[Earned] = []
    terms = uow.policies.earning_terms()
    # Only the policies earning by exposure need their loan's schedule read.
    loans = uow.loans.get_many(t.loan_id for t in terms
                               if t.earning == EXPOSURE and t.loan_id is not None)
    for t in terms:
        schedule = (loans[t.loan_id].installments
                    if t.earning == EXPOSURE and t.loan_id is not None else None)
        now = single_premium_earned(t.single_premium_fen, t.refund_method, start=t.start_date,
                                    end=t.end_date, term_months=t.term_months, on=on,
                                    refunded_fen=t.refunded_fen, upr_base_fen=t.upr_base_fen,
                                    upr_base_on=t.upr_base_on, schedule=schedule)
        if now > t.earned_fen:
            earned.append(Earned(t.id, t.product_code, t.earned_fen, now))
    done = uow.policies.set_earned([(e.policy_id, e.before, e.now) for e in earned])
    if done != len(earned):
        raise WriteConflict(f"{len(earned) - done} policies changed while the month closed")
    return earned


def post_earned(uow: UnitOfWork, earned: Sequence[Earned], *, on: date, source: str) -> int:
    """Post the day's earned single premium as one journal entry per product (the sum of
    its policies'); returns the fen posted."""
    by_product: dict[str, list[Earned]] = {}
    for e in earned:
        if e.amount_fen > 0:
            by_product.setdefault(e.product_code, []).append(e)
    for product_code, items in sorted(by_product.items()):
        post(uow, postings.premiums_earned(
            on=on, source=source, product_code=product_code,
            earned=[(e.policy_id, e.now) for e in items],
            amount_fen=sum(e.amount_fen for e in items)))
    return sum(e.amount_fen for items in by_product.values() for e in items)
