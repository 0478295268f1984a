"""Claims: liability determination, payment, and recovery after payment."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import TypeVar

from xinbao.catalogue.model.products import Product
from xinbao.claims import postings
from xinbao.claims.commands import FileClaim, PayClaim, RecordRecovery
from xinbao.claims.model import Claim, ClaimStatus, Exclusion, Recovery, determine_liability
from xinbao.claims.repository import UnitOfWork
from xinbao.iam.access import authorize, four_eyes, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, DomainError, InvalidInput, require
from xinbao.kernel.results import FileOutcome, Rejection
from xinbao.kernel.retries import retried
from xinbao.ledger.services import post, posted_before
from xinbao.loans.model import Loan, paid_by_installment, position
from xinbao.policy.model import Policy, PolicyStatus
from xinbao.policy.premiums import earn_premium

C = TypeVar("C")  # a command of a file
T = TypeVar("T")  # what the use case makes of it


def open_claim(uow: UnitOfWork, policy: Policy, *, on: date,
               exclusions: frozenset[Exclusion] = frozenset()) -> Claim:
    """Determine liability on ``on`` and record the claim, open (reserved) or declined.

    Runs inside the caller's transaction (a claim notice, or the end-of-day batch).
    """
    product = uow.products.get(policy.product_code, policy.product_version)
    loan = uow.loans.get(policy.loan_id) if policy.loan_id is not None else None
    if product is None or loan is None:
        raise Conflict(f"policy {policy.id} has no issued loan to claim on")
    assert loan.id is not None
    paid = paid_by_installment(uow.repayments.for_loan(loan.id))
    claim = _open(uow, policy, product, loan, paid, on=on, exclusions=exclusions)
    if claim.status is ClaimStatus.OPEN:
        uow.policies.save(policy)
        uow.loans.save(loan)
    return claim


def open_triggered_claims(uow: UnitOfWork, policies: Sequence[Policy], *,
                          on: date) -> list[Claim]:
    """The end-of-day batch's claims: ``policies`` reached their product's trigger on ``on``;
    each gets its claim as ``open_claim`` determines it, except a policy whose claim was
    declined before (it waits for a person, not for tomorrow's batch). What the claims need
    is read for all the policies at once (their claims, loans, repayments and products);
    inside the caller's transaction."""
    claims_of = uow.claims.for_policies(p.id for p in policies if p.id is not None)
    waiting = [p for p in policies if p.id is not None and not any(
        c.status is ClaimStatus.DECLINED for c in claims_of[p.id])]
    loans = uow.loans.get_many(p.loan_id for p in waiting if p.loan_id is not None)
    paid = uow.repayments.paid_totals(list(loans))
    products: dict[tuple[str, int], Product | None] = {}
    opened: list[Claim] = []
    covered: list[Policy] = []
    for policy in waiting:
        key = (policy.product_code, policy.product_version)
        if key not in products:
            products[key] = uow.products.get(*key)
        product = products[key]
        loan = loans.get(policy.loan_id) if policy.loan_id is not None else None
        if product is None or loan is None:
            raise Conflict(f"policy {policy.id} has no issued loan to claim on")
        assert loan.id is not None
        claim = _open(uow, policy, product, loan, paid.get(loan.id, {}), on=on)
        opened.append(claim)
        if claim.status is ClaimStatus.OPEN:
            covered.append(policy)
    uow.policies.save_many(covered)
    uow.loans.save_many(loans[p.loan_id] for p in covered if p.loan_id is not None)
    return opened


def _open(uow: UnitOfWork, policy: Policy, product: Product, loan: Loan,
          paid: Mapping[int, tuple[int, int]], *, on: date,
          exclusions: frozenset[Exclusion] = frozenset()) -> Claim:
    """Determine and record the claim; when covered, reserve it, earn the rest of the
    premium and mark the policy and the loan claimed (the caller saves them)."""
    pos = position(loan.installments, paid, on)
    determination = determine_liability(policy=policy, product=product, loan=loan,
                                        position=pos, exclusions=exclusions)
    claim = uow.claims.add(Claim.open(policy=policy, loan=loan, determination=determination,
                                      days_past_due=pos.days_past_due, on=on))
    assert claim.id is not None
    if determination.covered:
        post(uow, postings.claim_reserve_set(on=on, claim_id=claim.id,
                                             policy_no=policy.policy_no,
                                             amount_fen=claim.amount_fen))
        earn_premium(uow, policy, on=on, all_of_it=True)  # the risk has run its course
        policy.mark_claimed(on, claim.id)
        # The indemnity is fixed now: later money from the borrower is a recovery.
        loan.mark_claimed()
    return claim


@retried
def file_claim(cmd: FileClaim, uow: UnitOfWork) -> Claim:
    """A claim notice from the insured: determined at once, opened or declined with reasons."""
    authorize(uow, Action.CLAIM_FILE)
    with uow:
        policy = require(uow.policies.get(cmd.policy_id), "policy", cmd.policy_id)
        own(uow, policy.funder_id, "policy", cmd.policy_id)
        assert policy.id is not None
        active = [c for c in uow.claims.for_policy(policy.id)
                  if c.status is not ClaimStatus.DECLINED]
        if active:
            raise Conflict(f"policy {policy.policy_no} already has claim {active[0].id}")
        claim = open_claim(uow, policy, on=cmd.on, exclusions=cmd.exclusions)
        uow.commit()
    return claim


@retried
def pay_claim(cmd: PayClaim, uow: UnitOfWork) -> Claim:
    """Pay the insured (the funder) and release the reserve; repeats return the paid claim.

    The payer must hold claim.pay up to the claim's amount, and cannot be whoever opened it.
    """
    authorize(uow, Action.CLAIM_PAY)
    with uow:
        claim = _pay(uow, cmd)
        uow.commit()
    return claim


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
    if claim.status in (ClaimStatus.PAID, ClaimStatus.CLOSED):
        return claim
    if cmd.on < claim.opened_on:
        raise InvalidInput.single("on", "claim.payment_date",
                                  "a claim is paid on or after it was opened")
    authorize(uow, Action.CLAIM_PAY, amount_fen=claim.amount_fen)
    four_eyes(uow, Action.CLAIM_PAY, "claim", claim.id, ("ClaimOpened",))
    indemnity = postings.indemnity_paid(on=cmd.on, claim_id=claim.id,
                                        amount_fen=claim.amount_fen)
    if indemnity is not None:  # refused now if it cannot be posted: a file's claim stays open
        posted_before(uow, indemnity)
    claim.pay(cmd.on)
    # The state change comes first: a concurrent payment of the same claim waits for it,
    # finds the claim paid and answers with it, posting and recording nothing.
    if not uow.claims.save_if_unchanged(claim, status=ClaimStatus.OPEN,
                                        recovered_fen=claim.recovered_fen):
        return require(uow.claims.get(claim.id), "claim", claim.id)
    post(uow, indemnity)
    return claim


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
    if not uow.claims.save_if_unchanged(claim, status=status, recovered_fen=recovered_fen):
        return None
    recovery = uow.recoveries.add(Recovery(
        claim_id=claim.id, received_on=cmd.received_on, amount_fen=cmd.amount_fen,
        source=cmd.source), reference=cmd.reference)
    post(uow, received)
    if claim.status is ClaimStatus.CLOSED:
        policy = uow.policies.get(claim.policy_id)
        if policy is not None and policy.status is PolicyStatus.CLAIMED:
            policy.close(cmd.received_on, "recovery finished")
            uow.policies.save(policy)
    return recovery
