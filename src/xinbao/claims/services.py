"""Claims as a workflow (issue 22): notices, the end-of-day trigger and staff entry; liability
determination with every check kept; automatic claims; review, approval by authority with a
second approver above it, decline with reasons, reopening on appeal; recalculation; payment;
recovery after payment.

Every claim is assessed (``claims.model.assess``) the moment it is known, and each
assessment is kept with its checks' evidence. Then it is routed:

- only its trigger missing (a notice early, or staff ahead of the batch): it stays notified
  and the end-of-day batch assesses it again each day (``recheck_notified_claims``);
- a check fails: declined, with the failing checks' reason codes;
- every check passes: the case reserve is set, and the claim is approved by the system
  (acting as ``system:auto-claims``, in the events) when claim anti-fraud refers nothing
  (``claims.model.screen``) and it is payable within its product's automatic limit;
  otherwise it goes to the claims queue for a person.

The case reserve (documented rule, ``docs/CLAIMS.md``): the payable amount as last assessed,
held while the claim stands and its checks pass; adjusted with each new assessment; released
at payment (with the indemnity) or at decline. Each move is posted once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from xinbao.catalogue.model.products import Product
from xinbao.claims import postings
from xinbao.claims.commands import (
    ApproveClaim,
    DeclineClaim,
    FileClaim,
    PayClaim,
    RecalculateClaim,
    RecordRecovery,
    ReviewClaim,
    SettleClaims,
)
from xinbao.claims.model import (
    AUTOMATIC,
    OPEN,
    STANDING,
    Assessment,
    Claim,
    ClaimParameters,
    ClaimRules,
    ClaimSource,
    ClaimStatus,
    Document,
    Exclusion,
    Notice,
    Recovery,
    RecoveryRight,
    RingFacts,
    ScreenFacts,
    Settlement,
    assess,
    check_notice,
    screen,
    settlement_cycle,
)
from xinbao.claims.repository import SettlementBatch, UnitOfWork
from xinbao.claims.rules import shipped
from xinbao.iam.access import authorize, four_eyes, four_eyes_many, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, DomainError, InvalidInput, require
from xinbao.kernel.events import Event
from xinbao.kernel.results import FileOutcome, Rejection
from xinbao.kernel.retries import retried
from xinbao.ledger.services import post, posted_before
from xinbao.loans.model import Loan, paid_by_installment, position
from xinbao.policy.model import Policy, PolicyStatus
from xinbao.policy.premiums import earn_premium
from xinbao.policy.rules import NET
from xinbao.policy.rules import shipped as policy_rules

C = TypeVar("C")  # a command of a file
T = TypeVar("T")  # what the use case makes of it


#: The events whose actors made a claim's decision: its payer is never one of them.
_MAKERS = ("ClaimNotified", "ClaimApproved", "ClaimApprovalRecorded")


@dataclass(frozen=True, slots=True)
class _Book:
    """What a claim's assessment reads besides the claim."""

    policy: Policy
    product: Product
    loan: Loan
    paid: Mapping[int, tuple[int, int]]


def _book(uow: UnitOfWork, policy: Policy) -> _Book:
    product = uow.products.get(policy.product_code, policy.product_version)
    loan = uow.loans.get(policy.loan_id) if policy.loan_id is not None else None
    if product is None or loan is None or loan.id is None:
        raise Conflict(f"policy {policy.id} has no issued loan to claim on")
    return _Book(policy, product, loan, paid_by_installment(uow.repayments.for_loan(loan.id)))


#: The borrower's identity ring as the underwriting engine's graph has it on a date (None:
#: in none). Given by a layer that sees both claims and risk (``servicing.claim_screen``).
RingLookup = Callable[[Policy, date], RingFacts | None]


@dataclass(slots=True)
class _Run:
    """What a run of claims (the end of day's) has read already: claim anti-fraud's vintage
    figures, (funder, month) -> [loans, loans with a claim that stands] (counting the run's
    new claims as they come), and each funder's claims terms from its agreement."""

    vintages: dict[tuple[int, date], list[int]] = field(default_factory=dict)
    terms: dict[int, tuple[int, int, Decimal] | None] = field(default_factory=dict)


def _rules_for(uow: UnitOfWork, policy: Policy, rules: ClaimParameters,
               run: _Run | None) -> ClaimRules:
    """The product's claims rules with the notice limit, premium grace and risk share of
    the funder's agreement in force (its newest version)."""
    if run is not None and policy.funder_id in run.terms:
        found = run.terms[policy.funder_id]
    else:
        versions = uow.funders.agreements(policy.funder_id)
        found = ((versions[-1].claim_notice_days, versions[-1].premium_grace_days,
                  versions[-1].risk_share) if versions else None)
        if run is not None:
            run.terms[policy.funder_id] = found
    product_rules = rules.for_product(policy.product_code)
    if found is None:  # a funder from before agreements had versions: the shipped rules
        return product_rules
    return replace(product_rules, notice_days=found[0], premium_grace_days=found[1],
                   risk_share=found[2])


def _assess(uow: UnitOfWork, claim: Claim, book: _Book, *, on: date,
            rules: ClaimParameters, exclusions: Mapping[Exclusion, str] | None = None,
            others: Sequence[Claim] | None = None, rings: RingLookup | None = None,
            run: _Run | None = None) -> Assessment:
    """Liability determination, then, for a claim whose checks pass, claim anti-fraud.
    ``others``: the policy's claims when the caller has them (else they are read); ``run``:
    what a run of claims has read so far (one read a funder's month or agreement)."""
    if others is None:
        others = uow.claims.for_policy(claim.policy_id)
    standing = [c.id for c in others
                if c.id is not None and c.id != claim.id and c.status in STANDING]
    product_rules = _rules_for(uow, book.policy, rules, run)
    assessment = assess(policy=book.policy, product=book.product, loan=book.loan,
                        paid=book.paid, on=on, notice=claim.notice, rules=product_rules,
                        standing_claims=standing, exclusions=exclusions,
                        claimed_by_this=claim.status is ClaimStatus.APPROVED)
    if not assessment.covered:
        return assessment
    start = book.loan.start_date.replace(day=1)
    key = (book.policy.funder_id, start)
    if run is None or key not in run.vintages:
        figures = list(uow.claims.vintage(book.policy.funder_id, start,
                                          (start + timedelta(days=32)).replace(day=1)))
        if run is not None:
            run.vintages[key] = figures
    else:
        figures = run.vintages[key]
    new = claim.id is None
    if new and run is not None:
        figures[1] += 1  # this claim, for the run's next ones
        new = False
    notices = sum(1 for c in others if c.source is ClaimSource.NOTICE and c.id != claim.id) \
        + (claim.source is ClaimSource.NOTICE)
    facts = ScreenFacts(notices, f"{start:%Y-%m}", figures[0], figures[1] + new,
                        rings(book.policy, on) if rings is not None else None)
    default_on = position(book.loan.installments, book.paid, on).first_unpaid_due_date
    return replace(assessment, referrals=screen(loan=book.loan, default_on=default_on,
                                                facts=facts, rules=product_rules))


def _keep(uow: UnitOfWork, claim: Claim, assessment: Assessment, difference: int, *,
          reason: str) -> None:
    assert claim.id is not None
    uow.claims.add_assessment(claim.id, assessment, reason=reason, difference_fen=difference)


def _reserve(uow: UnitOfWork, claim: Claim, book: _Book, amount_fen: int, *, on: date,
             step: str) -> None:
    """The case reserve becomes ``amount_fen``, the move posted once (``step``)."""
    assert claim.id is not None
    change = claim.reserve(amount_fen, on)
    post(uow, postings.claim_reserve_moved(on=on, claim_id=claim.id,
                                           policy_no=book.policy.policy_no,
                                           change_fen=change, step=step))


def _step(uow: UnitOfWork, claim: Claim, what: str, assessed: int | None = None) -> str:
    """A name for a reserve move unique within the claim: its assessments so far
    (``assessed``, when the caller knows)."""
    assert claim.id is not None
    if assessed is None:
        assessed = len(uow.claims.assessments(claim.id))
    return f"{what}{assessed}"


def _route(uow: UnitOfWork, claim: Claim, book: _Book, assessment: Assessment, *, on: date,
           rules: ClaimParameters, why: str, assessed: int | None = None) -> None:
    """Where an assessed notified claim goes (see the module's docstring); the claim is
    stored already (it has its id); ``assessed``: its assessments so far, when known."""
    if assessment.waiting_for_trigger:
        return
    if not assessment.covered:
        claim.decline(on=on, why=why, reason_codes=assessment.reason_codes)
        _reserve(uow, claim, book, 0, on=on, step=_step(uow, claim, "declined-a", assessed))
        return
    _reserve(uow, claim, book, claim.amount_fen, on=on, step=_step(uow, claim, "a", assessed))
    limit = rules.for_product(book.policy.product_code).automatic_limit_fen
    if assessment.referrals:
        claim.review(on, "referred by claim anti-fraud: "
                     + ", ".join(r.code for r in assessment.referrals))
    elif 0 < claim.amount_fen <= limit:
        claim.approve(by=AUTOMATIC, authority_fen=limit, on=on,
                      why="automatic: every check passed, within the automatic limit",
                      assessment_covered=True)
        _approved(uow, claim, book, on=on)
    else:
        claim.review(on, "every check passed; "
                     + ("above the automatic limit" if limit else "no automatic claims")
                     + " — for a person")


def _approved(uow: UnitOfWork, claim: Claim, book: _Book, *, on: date) -> None:
    """Liability accepted: the rest of the premium is earned (the risk has run its course),
    the policy and the loan are claimed (later money from the borrower is a recovery)."""
    assert claim.id is not None
    earn_premium(uow, book.policy, on=on, all_of_it=True)
    book.policy.mark_claimed(on, claim.id)
    book.loan.mark_claimed()
    uow.policies.save(book.policy)
    uow.loans.save(book.loan)


def _declared(exclusions: Mapping[Exclusion, str] | frozenset[Exclusion],
              actor: str) -> dict[Exclusion, str]:
    if isinstance(exclusions, frozenset):
        return {e: f"declared by {actor}" for e in exclusions}
    return {Exclusion(e): str(note).strip() or f"declared by {actor}"
            for e, note in exclusions.items()}


def _new_claim(uow: UnitOfWork, policy: Policy, notice: Notice, *, on: date,
               rules: ClaimParameters, exclusions: Mapping[Exclusion, str] | None = None,
               reason: str, book: _Book | None = None,
               others: Sequence[Claim] | None = None, rings: RingLookup | None = None,
               run: _Run | None = None) -> Claim:
    """A claim made known, assessed, stored and routed (inside the caller's transaction);
    ``book`` and ``others`` (the policy's claims) when the caller read them already."""
    book = book or _book(uow, policy)
    claim = Claim.notify(policy=policy, loan=book.loan, notice=notice)
    assessment = _assess(uow, claim, book, on=on, rules=rules, exclusions=exclusions,
                         others=others, rings=rings, run=run)
    difference = claim.take(assessment, reason=reason)
    if not assessment.covered and not assessment.waiting_for_trigger:
        # Declined at once: stored declined, so it never stands beside another claim.
        claim.decline(on=on, why="liability determination",
                      reason_codes=assessment.reason_codes)
    uow.claims.add(claim)
    _keep(uow, claim, assessment, difference, reason=reason)
    if claim.status is ClaimStatus.NOTIFIED:
        _route(uow, claim, book, assessment, on=on, rules=rules, why="liability determination",
               assessed=1)
        uow.claims.save_if_unchanged(claim, status=ClaimStatus.NOTIFIED, recovered_fen=0)
    return claim


@retried
def file_claim(cmd: FileClaim, uow: UnitOfWork, rules: ClaimParameters | None = None,
               rings: RingLookup | None = None) -> Claim:
    """A claim notice, from the funder (its reference: the same one again is the same
    notice, answered with the claim it made) or entered by claims staff; assessed at once
    and routed (see the module's docstring). Staff entering a claim on a policy with one
    that stands get a conflict; a funder's second notice is kept, declined as a duplicate."""
    actor = authorize(uow, Action.CLAIM_FILE)
    from_funder = actor.funder_id is not None or cmd.notice
    check_notice(reference=cmd.reference, claimed_fen=cmd.claimed_fen,
                 documents=cmd.documents, needs_reference=from_funder)
    with uow:
        policy = require(uow.policies.get(cmd.policy_id), "policy", cmd.policy_id)
        own(uow, policy.funder_id, "policy", cmd.policy_id)
        assert policy.id is not None
        if cmd.reference is not None and not from_funder:  # staff's own reference
            seen = uow.claims.get_by_reference(policy.funder_id, cmd.reference)
            if seen is not None:
                if seen.policy_id != policy.id:
                    raise Conflict(f"notice {cmd.reference!r} was given for another policy")
                return seen
        exclusions = _declared(cmd.exclusions, actor.actor)
        if from_funder:
            assert cmd.reference is not None  # check_notice: a funder's notice has one
            claim, _ = give_notice(
                uow, policy, Notice(ClaimSource.NOTICE, cmd.on, cmd.reference, cmd.claimed_fen),
                on=cmd.on, documents=cmd.documents, rules=rules, rings=rings,
                exclusions=exclusions)
        else:
            standing = [c for c in uow.claims.for_policy(policy.id) if c.status in STANDING]
            if standing:
                raise Conflict(f"policy {policy.policy_no} already has claim {standing[0].id}")
            claim = _new_claim(uow, policy, Notice(ClaimSource.MANUAL, cmd.on, cmd.reference,
                                                   cmd.claimed_fen),
                               on=cmd.on, rules=rules or shipped(), exclusions=exclusions,
                               reason=ClaimSource.MANUAL.value, rings=rings)
            assert claim.id is not None
            uow.claims.add_documents(claim.id, cmd.documents)
        uow.commit()
    return claim


def give_notice(uow: UnitOfWork, policy: Policy, notice: Notice, *, on: date,
                documents: Sequence[Document] = (), rules: ClaimParameters | None = None,
                rings: RingLookup | None = None,
                exclusions: Mapping[Exclusion, str] | None = None) -> tuple[Claim, bool]:
    """A funder's notice on ``policy`` (checked by ``check_notice`` already), inside the
    caller's transaction: assessed on ``on`` and routed as ``file_claim`` does, with its
    documents. Its reference again is the same notice: (the claim it made, True); the
    reference given for another policy is a conflict. A claim file's rows come here
    (``servicing.feed_types``)."""
    assert notice.reference is not None and policy.id is not None
    seen = uow.claims.get_by_reference(policy.funder_id, notice.reference)
    if seen is not None:
        if seen.policy_id != policy.id:
            raise Conflict(f"notice {notice.reference!r} was given for another policy")
        return seen, True
    claim = _new_claim(uow, policy, notice, on=on, rules=rules or shipped(),
                       exclusions=exclusions, reason=ClaimSource.NOTICE.value, rings=rings)
    assert claim.id is not None
    uow.claims.add_documents(claim.id, documents)
    return claim, False


def open_triggered_claims(uow: UnitOfWork, policies: Sequence[Policy], *, on: date,
                          rules: ClaimParameters | None = None,
                          rings: RingLookup | None = None) -> list[Claim]:
    """The end-of-day batch's claims: ``policies`` reached their product's trigger on ``on``;
    each without a claim of any kind gets one from the trigger (a declined claim waits for
    an appeal, not for tomorrow's batch); inside the caller's transaction."""
    claims_of = uow.claims.for_policies(p.id for p in policies if p.id is not None)
    new = [p for p in policies if p.id is not None and not claims_of[p.id]]
    # What the assessments read, for all of them at once: loans, repayments, products.
    loans = uow.loans.get_many(p.loan_id for p in new if p.loan_id is not None)
    paid = uow.repayments.paid_totals(list(loans))
    products: dict[tuple[str, int], Product | None] = {}
    run = _Run()
    opened = []
    for policy in new:
        key = (policy.product_code, policy.product_version)
        if key not in products:
            products[key] = uow.products.get(*key)
        product = products[key]
        loan = loans.get(policy.loan_id) if policy.loan_id is not None else None
        if product is None or loan is None or loan.id is None:
            raise Conflict(f"policy {policy.id} has no issued loan to claim on")
        book = _Book(policy, product, loan, paid.get(loan.id, {}))
        opened.append(_new_claim(uow, policy, Notice(ClaimSource.TRIGGER, on), on=on,
                                 rules=rules or shipped(), reason="trigger", book=book,
                                 others=(), rings=rings, run=run))
    return opened


def recheck_notified_claims(uow: UnitOfWork, *, on: date,
                            rules: ClaimParameters | None = None,
                            rings: RingLookup | None = None) -> list[Claim]:
    """Notices kept until their loan reaches its trigger, assessed again for ``on`` and
    routed when it has (inside the end-of-day batch's transaction); returns those that
    moved on."""
    moved = []
    for claim in uow.claims.waiting_for_trigger():
        policy = require(uow.policies.get(claim.policy_id), "policy", claim.policy_id)
        book = _book(uow, policy)
        assessment = _assess(uow, claim, book, on=on, rules=rules or shipped(), rings=rings)
        if assessment.waiting_for_trigger:
            continue
        difference = claim.take(assessment, reason="recheck")
        _keep(uow, claim, assessment, difference, reason="recheck")
        _route(uow, claim, book, assessment, on=on, rules=rules or shipped(),
               why="the trigger is reached")
        if not uow.claims.save_if_unchanged(claim, status=ClaimStatus.NOTIFIED,
                                            recovered_fen=0):
            raise Conflict(f"claim {claim.id} changed while the batch checked it")
        moved.append(claim)
    return moved


def _claim_for(uow: UnitOfWork, claim_id: int) -> tuple[Claim, Policy]:
    claim = require(uow.claims.get(claim_id), "claim", claim_id)
    policy = require(uow.policies.get(claim.policy_id), "policy", claim.policy_id)
    own(uow, policy.funder_id, "claim", claim_id)
    return claim, policy


def _save(uow: UnitOfWork, claim: Claim, status: ClaimStatus,
          approvals: tuple[str, ...]) -> None:
    """Write the claim back from the state it was read in; a concurrent change first is a
    conflict for the caller to answer (nothing of this transaction stays)."""
    if not uow.claims.save_if_unchanged(claim, status=status, recovered_fen=claim.recovered_fen,
                                        approvals=approvals):
        raise Conflict(f"claim {claim.id} was changed by someone else; read it again")


@retried
def review_claim(cmd: ReviewClaim, uow: UnitOfWork, rules: ClaimParameters | None = None,
                 rings: RingLookup | None = None) -> Claim:
    """Into the claims queue: a notified claim taken up by a person, or a declined one
    reopened on appeal (assessed again, its reserve set if its checks pass now)."""
    authorize(uow, Action.CLAIM_REVIEW)
    if not cmd.why.strip():
        raise InvalidInput.single("why", "claim.why", "say why the claim is reviewed")
    with uow:
        claim, policy = _claim_for(uow, cmd.claim_id)
        status, approvals = claim.status, claim.approvals
        if status is ClaimStatus.UNDER_REVIEW:
            return claim
        claim.review(cmd.on, cmd.why)
        if status is ClaimStatus.DECLINED:
            book = _book(uow, policy)
            assessment = _assess(uow, claim, book, on=cmd.on, rules=rules or shipped(),
                                 rings=rings)
            difference = claim.take(assessment, reason="appeal")
            _keep(uow, claim, assessment, difference, reason="appeal")
            if assessment.covered:
                _reserve(uow, claim, book, claim.amount_fen, on=cmd.on,
                         step=_step(uow, claim, "a"))
        _save(uow, claim, status, approvals)
        uow.commit()
    return claim


@retried
def approve_claim(cmd: ApproveClaim, uow: UnitOfWork) -> Claim:
    """Accept liability on a claim whose every check passed. Within the approver's authority
    (``claim.approve`` by amount) it is approved; above it, the approval is kept and a
    second approver, never the same person nor whoever entered the claim, completes it."""
    actor = authorize(uow, Action.CLAIM_APPROVE)
    with uow:
        claim, policy = _claim_for(uow, cmd.claim_id)
        if claim.status is ClaimStatus.APPROVED:
            return claim
        assert claim.id is not None
        four_eyes(uow, Action.CLAIM_APPROVE, "claim", claim.id, ("ClaimNotified",))
        status, approvals = claim.status, claim.approvals
        _, authority = actor.limit(Action.CLAIM_APPROVE)
        approved = claim.approve(by=actor.actor,
                                 authority_fen=None if actor.is_system else authority,
                                 on=cmd.on, why=cmd.why, assessment_covered=not claim.reason_codes)
        if approved:
            book = _book(uow, policy)
            _approved(uow, claim, book, on=cmd.on)
        _save(uow, claim, status, approvals)
        uow.commit()
    return claim


@retried
def decline_claim(cmd: DeclineClaim, uow: UnitOfWork, rules: ClaimParameters | None = None,
                  ) -> Claim:
    """Decline a claim not yet approved: assessed again with the exclusions the handler
    found; the failing checks are the reasons (a claim whose checks all pass cannot be
    declined without one). Its reserve is released."""
    actor = authorize(uow, Action.CLAIM_REVIEW)
    if not cmd.why.strip():
        raise InvalidInput.single("why", "claim.why", "say why the claim is declined")
    with uow:
        claim, policy = _claim_for(uow, cmd.claim_id)
        if claim.status is ClaimStatus.DECLINED:
            return claim
        if claim.status not in (ClaimStatus.NOTIFIED, ClaimStatus.UNDER_REVIEW):
            raise Conflict(f"claim {claim.id} is {claim.status.value}: it cannot be declined")
        status, approvals = claim.status, claim.approvals
        book = _book(uow, policy)
        assessment = _assess(uow, claim, book, on=cmd.on, rules=rules or shipped(),
                             exclusions=_declared(dict(cmd.exclusions), actor.actor))
        if assessment.covered:
            raise InvalidInput.single(
                "exclusions", "claim.decline_reason",
                "every check passes: a decline names the exclusion found, with what shows it")
        difference = claim.take(assessment, reason="review")
        _keep(uow, claim, assessment, difference, reason="review")
        claim.decline(on=cmd.on, why=cmd.why, reason_codes=assessment.reason_codes)
        _reserve(uow, claim, book, 0, on=cmd.on, step=_step(uow, claim, "declined-a"))
        _save(uow, claim, status, approvals)
        uow.commit()
    return claim


@retried
def recalculate_claim(cmd: RecalculateClaim, uow: UnitOfWork,
                      rules: ClaimParameters | None = None,
                      rings: RingLookup | None = None) -> Claim:
    """Assess a claim not yet paid again (the funder corrected its data): the new amount,
    its difference from the old one and the checks are kept, the reserve follows. An
    approved claim whose checks fail now is refused (nothing changes): decline is before
    approval."""
    authorize(uow, Action.CLAIM_REVIEW)
    with uow:
        claim, policy = _claim_for(uow, cmd.claim_id)
        if claim.status not in OPEN:
            raise Conflict(f"claim {claim.id} is {claim.status.value}: its amount is fixed")
        status, approvals = claim.status, claim.approvals
        book = _book(uow, policy)
        assessment = _assess(uow, claim, book, on=cmd.on, rules=rules or shipped(),
                             rings=rings)
        if status is ClaimStatus.APPROVED and not assessment.covered:
            raise Conflict(f"claim {claim.id} is approved and would now fail "
                           f"{', '.join(assessment.reason_codes)}; nothing was changed")
        difference = claim.take(assessment, reason="recalculation")
        _keep(uow, claim, assessment, difference, reason="recalculation")
        if claim.reserve_fen or assessment.covered and status is not ClaimStatus.NOTIFIED:
            _reserve(uow, claim, book, claim.amount_fen if assessment.covered else 0,
                     on=cmd.on, step=_step(uow, claim, "a"))
        _save(uow, claim, status, approvals)
        uow.commit()
    return claim


@retried
def pay_claim(cmd: PayClaim, uow: UnitOfWork) -> Claim:
    """Pay the insured (the funder) and release the reserve; repeats return the paid claim.

    The payer must hold claim.pay up to the claim's amount, and cannot be whoever entered or
    approved it.
    """
    authorize(uow, Action.CLAIM_PAY)
    with uow:
        claim = _pay(uow, cmd)
        uow.commit()
    return claim


@retried
def settle_claims(cmd: SettleClaims, uow: UnitOfWork) -> SettlementBatch:
    """A funder's payment batch: its claims approved within or before the last whole cycle
    of its agreement's settlement days ending by ``on``, not yet paid, are paid together on
    ``on`` — each its indemnity (Dr claims paid / Cr bank) and its reserve released — and the
    batch is kept with its statement's number (``ST-<funder>-<cycle end>``). Once per funder
    and cycle: asked again, it answers with the batch it made. The payer needs claim.pay for
    each amount and is none of the claims' makers (four-eyes)."""
    authorize(uow, Action.CLAIM_PAY)
    with uow:
        funder = require(uow.funders.get_by_code(cmd.funder_code), "funder", cmd.funder_code)
        own(uow, funder.id, "funder", cmd.funder_code)
        assert funder.id is not None
        versions = uow.funders.agreements(funder.id)
        if not versions:
            raise Conflict(f"funder {funder.code} has no agreement with a settlement cycle")
        agreement = versions[-1]
        try:
            cycle_from, cycle_to = settlement_cycle(
                starts=versions[0].effective_from, days=agreement.settlement_days, on=cmd.on)
        except ValueError as exc:
            raise InvalidInput.single("on", "settlement.cycle", str(exc)) from None
        seen = uow.settlements.for_cycle(funder.id, cycle_to)
        if seen is not None:
            assert seen.id is not None
            return SettlementBatch(seen, tuple(uow.settlements.lines(seen.id)), funder.code,
                                   funder.name, repeat=True)
        due = uow.claims.approved_through(funder.id, cycle_to)
        if not due:
            raise Conflict(f"{funder.code} has no approved claim unpaid through {cycle_to}")
        for claim in due:
            authorize(uow, Action.CLAIM_PAY, amount_fen=claim.amount_fen)
        four_eyes_many(uow, Action.CLAIM_PAY, "claim", [c.id for c in due if c.id], _MAKERS)
        settlement = uow.settlements.add(Settlement(
            funder.id, f"ST-{funder.code}-{cycle_to:%Y%m%d}", cycle_from, cycle_to, cmd.on,
            len(due), sum(c.amount_fen for c in due)))
        for claim in due:
            _pay_one(uow, claim, cmd.on, settlement_id=settlement.id)
        assert settlement.id is not None
        batch = SettlementBatch(settlement, tuple(uow.settlements.lines(settlement.id)),
                                funder.code, funder.name)
        uow.commit()
    return batch


@retried
def pay_claims(cmds: Sequence[PayClaim], uow: UnitOfWork) -> FileOutcome[Claim]:
    """A day's approved payments in one transaction; each refused one alone."""
    authorize(uow, Action.CLAIM_PAY)
    with uow:
        outcome = _each(uow, cmds, _pay, lambda c: str(c.claim_id))
        uow.commit()
    return outcome


@retried
def record_recovery(cmd: RecordRecovery, uow: UnitOfWork) -> Recovery:
    """Money recovered from the obligor after payment (subrogation 代位追偿)."""
    authorize(uow, Action.RECOVERY_RECORD)
    with uow:
        recovery = _recover(uow, cmd)
        uow.commit()
    return recovery


@retried
def record_recoveries(cmds: Sequence[RecordRecovery], uow: UnitOfWork,
                      ) -> FileOutcome[Recovery]:
    """A collection agency's file of recoveries in one transaction; each refused one alone."""
    authorize(uow, Action.RECOVERY_RECORD)
    with uow:
        outcome = _each(uow, cmds, _recover, lambda c: c.reference)
        uow.commit()
    return outcome


def _each(uow: UnitOfWork, cmds: Sequence[C], step: Callable[[UnitOfWork, C], T],
          reference: Callable[[C], str]) -> FileOutcome[T]:
    accepted: list[T] = []
    rejected: list[Rejection] = []
    for index, cmd in enumerate(cmds):
        try:
            accepted.append(step(uow, cmd))
        except DomainError as exc:
            rejected.append(Rejection(index, reference(cmd), exc))
    return FileOutcome(tuple(accepted), tuple(rejected))


def _pay(uow: UnitOfWork, cmd: PayClaim) -> Claim:
    claim = require(uow.claims.get(cmd.claim_id), "claim", cmd.claim_id)
    assert claim.id is not None
    policy = require(uow.policies.get(claim.policy_id), "policy", claim.policy_id)
    own(uow, policy.funder_id, "claim", claim.id)
    if claim.status in (ClaimStatus.PAID, ClaimStatus.RECOVERING, ClaimStatus.CLOSED):
        return claim
    if cmd.on < claim.opened_on or (claim.decided_on is not None and cmd.on < claim.decided_on):
        raise InvalidInput.single("on", "claim.payment_date",
                                  "a claim is paid on or after it was approved")
    authorize(uow, Action.CLAIM_PAY, amount_fen=claim.amount_fen)
    four_eyes(uow, Action.CLAIM_PAY, "claim", claim.id, _MAKERS)
    return _pay_one(uow, claim, cmd.on)


def _pay_one(uow: UnitOfWork, claim: Claim, on: date, *,
             settlement_id: int | None = None) -> Claim:
    """Pay an approved claim (checked already): its indemnity posted, its reserve released;
    a concurrent payment that came first answers instead (nothing more is written)."""
    assert claim.id is not None
    indemnity = postings.indemnity_paid(on=on, claim_id=claim.id, amount_fen=claim.amount_fen,
                                        reserve_fen=claim.reserve_fen)
    if indemnity is not None:  # refused now if it cannot be posted: a file's claim stays open
        posted_before(uow, indemnity)
    claim.pay(on)
    claim.reserve(0, on)
    claim.settlement_id = settlement_id
    # The state change comes first: a concurrent payment of the same claim waits for it,
    # finds the claim paid and answers with it, posting and recording nothing.
    if not uow.claims.save_if_unchanged(claim, status=ClaimStatus.APPROVED,
                                        recovered_fen=claim.recovered_fen,
                                        approvals=claim.approvals):
        if settlement_id is not None:  # a batch pays all of its claims or none
            raise Conflict(f"claim {claim.id} was paid meanwhile; settle the batch again")
        return require(uow.claims.get(claim.id), "claim", claim.id)
    post(uow, indemnity)
    if claim.amount_fen > 0:  # the right collection works: the obligor owes what was paid
        policy = require(uow.policies.get(claim.policy_id), "policy", claim.policy_id)
        uow.recoveries.add_right(RecoveryRight.of(claim, application_id=policy.application_id,
                                                  on=on))
        _net_unpaid_premium(uow, claim, policy, on)
    return claim


def _net_unpaid_premium(uow: UnitOfWork, claim: Claim, policy: Policy, on: date) -> None:
    """Where the wording nets unpaid premium against a claim (``params/policy.toml``), the
    installment premium the policy left unpaid is taken off the payment, up to it: posted,
    counted as collected on the policy, and recorded on the claim (``PremiumNetted``)."""
    if policy_rules().unpaid_premium_for(policy.mode.value) != NET:
        return
    netted = min(policy.premium_due_fen, claim.amount_fen)
    assert claim.id is not None and policy.id is not None
    if post(uow, postings.premium_netted(on=on, claim_id=claim.id, policy_no=policy.policy_no,
                                         amount_fen=netted)) is None:
        return
    uow.policies.add_collected({policy.id: netted})
    uow.events.add([Event("PremiumNetted", "claim", claim.id, on, {
        "policy_id": policy.id, "netted_fen": netted,
        "paid_fen": claim.amount_fen - netted})])


#: Tries of a recovery whose claim a concurrent recovery changed between reading and writing.
_ATTEMPTS = 5


def _recover(uow: UnitOfWork, cmd: RecordRecovery) -> Recovery:
    if cmd.amount_fen <= 0:
        raise InvalidInput.single("amount_fen", "amount.positive", "amount must be positive")
    if not cmd.reference.strip():
        raise InvalidInput.single("reference", "recovery.reference",
                                  "a recovery names its receipt reference")
    for _ in range(_ATTEMPTS):
        recovery = _try_recover(uow, cmd)
        if recovery is not None:
            return recovery
    raise Conflict(f"claim {cmd.claim_id} kept changing while recovery {cmd.reference!r} "
                   "was recorded; send it again")


def _try_recover(uow: UnitOfWork, cmd: RecordRecovery) -> Recovery | None:
    """The recovery, or None when a concurrent one changed the claim first (nothing written:
    read it again, and a repeat of the same reference then finds the one stored)."""
    claim = require(uow.claims.get(cmd.claim_id), "claim", cmd.claim_id)
    assert claim.id is not None
    repeat = uow.recoveries.get_by_reference(claim.id, cmd.reference)
    if repeat is not None:
        return repeat
    if cmd.amount_fen > claim.recoverable_fen:
        raise InvalidInput.single(
            "amount_fen", "recovery.scope",
            f"at most {claim.recoverable_fen} fen is recoverable on claim {claim.id}")
    if claim.paid_on is not None and cmd.received_on < claim.paid_on:
        raise InvalidInput.single("received_on", "recovery.date",
                                  "recoveries follow the claim payment")
    received = postings.recovery_received(on=cmd.received_on, claim_id=claim.id,
                                          amount_fen=cmd.amount_fen, recovered_from=cmd.source,
                                          receipt=cmd.reference)
    if received is not None:  # refused before anything is written, as for a payment
        posted_before(uow, received)
    status, recovered_fen = claim.status, claim.recovered_fen
    claim.record_recovery(cmd.amount_fen, cmd.received_on, final=cmd.final)
    if not uow.claims.save_if_unchanged(claim, status=status, recovered_fen=recovered_fen,
                                        approvals=claim.approvals):
        return None
    recovery = uow.recoveries.add(Recovery(
        claim_id=claim.id, received_on=cmd.received_on, amount_fen=cmd.amount_fen,
        source=cmd.source), reference=cmd.reference)
    post(uow, received)
    if claim.status is ClaimStatus.CLOSED:
        right = uow.recoveries.right_for(claim.id)
        if right is not None:
            right.close(cmd.received_on, recovered_fen=claim.recovered_fen)
            uow.recoveries.save_right(right)
        policy = uow.policies.get(claim.policy_id)
        if policy is not None and policy.status is PolicyStatus.CLAIMED:
            policy.close(cmd.received_on, "recovery finished")
            uow.policies.save(policy)
    return recovery
