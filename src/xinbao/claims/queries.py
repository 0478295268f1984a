"""Read-side use cases: claims."""

from __future__ import annotations

from dataclasses import dataclass, replace

from xinbao.claims.model import (
    Claim,
    ClaimParameters,
    ClaimStatus,
    Document,
    Recovery,
    RecoveryRight,
    RightStatus,
    ServiceLevel,
    Settlement,
    service_levels,
)
from xinbao.claims.repository import (
    AssessmentRecord,
    ClaimFilter,
    ClaimRow,
    RightRow,
    SettlementBatch,
    UnitOfWork,
)
from xinbao.claims.rules import shipped
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import require
from xinbao.kernel.paging import Page, PageRequest
from xinbao.policy.model import Policy


def get_claim(uow: UnitOfWork, claim_id: int) -> Claim:
    authorize(uow, Action.CLAIM_READ)
    with uow:
        claim = require(uow.claims.get(claim_id), "claim", claim_id)
        policy = require(uow.policies.get(claim.policy_id), "policy", claim.policy_id)
        own(uow, policy.funder_id, "claim", claim_id)
        return claim


def list_claims(uow: UnitOfWork, *, status: ClaimStatus | None = None, after_id: int = 0,
                limit: int = 100) -> list[Claim]:
    """Claims in id order, a page at a time, of one status if asked; a funder's client gets
    only the claims on its own policies."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        return uow.claims.page(status=status, funder_id=uow.actor.funder_id, after_id=after_id,
                               limit=min(max(limit, 1), 1000))


def search_claims(uow: UnitOfWork, filters: ClaimFilter, request: PageRequest,
                  ) -> Page[ClaimRow]:
    """One page of the claims the filters select, sorted as asked; a funder's client gets
    only the claims on its own policies, whichever funder it asks for."""
    authorize(uow, Action.CLAIM_READ)
    if uow.actor.funder_id is not None:
        filters = replace(filters, funder_id=uow.actor.funder_id)
    with uow:
        return uow.claims.search(filters, request)


def claim_of_policy(uow: UnitOfWork, policy_id: int) -> Claim | None:
    """The policy's claim that stands (any state but declined), if any: a policy has at
    most one (``claims.tables``); declined ones do not count."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        policy = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, policy.funder_id, "policy", policy_id)
        return next((c for c in uow.claims.for_policy(policy_id)
                     if c.status is not ClaimStatus.DECLINED), None)


@dataclass(frozen=True, slots=True)
class ClaimFile:
    """A claim with what a handler reads beside it: its policy, who made it known, who
    approved it (``claim.approvals``) and who paid it (the actors of those events in the
    audit trail), each run of its liability determination with the checks' evidence, the
    documents its notice came with, its recoveries and the recovery right handed to collection
    when it was paid."""

    claim: Claim
    policy: Policy
    opened_by: tuple[str, ...]
    paid_by: tuple[str, ...]
    recoveries: tuple[Recovery, ...]
    assessments: tuple[AssessmentRecord, ...] = ()
    documents: tuple[Document, ...] = ()
    right: RecoveryRight | None = None


def claim_file(uow: UnitOfWork, claim_id: int) -> ClaimFile:
    """The claim's file; NotFound for a claim on another funder's policy."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        claim = require(uow.claims.get(claim_id), "claim", claim_id)
        policy = require(uow.policies.get(claim.policy_id), "policy", claim.policy_id)
        own(uow, policy.funder_id, "claim", claim_id)
        opened = uow.events.makers("claim", [claim_id], ("ClaimNotified",))
        paid = uow.events.makers("claim", [claim_id], ("ClaimPaid",))
        return ClaimFile(claim, policy, tuple(sorted(opened[claim_id])),
                         tuple(sorted(paid[claim_id])),
                         tuple(uow.recoveries.for_claim(claim_id)),
                         tuple(uow.claims.assessments(claim_id)),
                         tuple(uow.claims.documents(claim_id)),
                         uow.recoveries.right_for(claim_id))


def recovery_rights(uow: UnitOfWork, *, status: RightStatus | None = RightStatus.OPEN,
                    limit: int = 100) -> list[RightRow]:
    """The recovery rights handed to collection, the oldest first (open ones by default),
    each with what its claim has recovered; a funder's client sees those on its loans."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        return uow.recoveries.rights(status=status, funder_id=uow.actor.funder_id,
                                     limit=min(max(limit, 1), 1000))


def claims_queue(uow: UnitOfWork, *, limit: int = 100) -> list[Claim]:
    """The claims waiting for a person, the longest since their trigger first; a funder's
    client sees only its own."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        return uow.claims.queue(funder_id=uow.actor.funder_id,
                                limit=min(max(limit, 1), 1000))


def settlement_batch(uow: UnitOfWork, settlement_id: int) -> SettlementBatch:
    """A payment batch with its claims, for its statement; NotFound for another funder's."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        settlement = require(uow.settlements.get(settlement_id), "settlement", settlement_id)
        own(uow, settlement.funder_id, "settlement", settlement_id)
        funder = require(uow.funders.get(settlement.funder_id), "funder", settlement.funder_id)
        return SettlementBatch(settlement, tuple(uow.settlements.lines(settlement_id)),
                               funder.code, funder.name, repeat=True)


def claim_service_levels(uow: UnitOfWork, rules: ClaimParameters | None = None,
                         ) -> list[ServiceLevel]:
    """Per funder and product: days from each claim's trigger to its decision and to its
    payment, against the service levels (``params/claims.toml``), and how many were
    automatic; a funder's client sees its own."""
    authorize(uow, Action.CLAIM_READ)
    levels = rules or shipped()
    with uow:
        times = uow.claims.times(uow.actor.funder_id)
    return service_levels(times, decision_days=levels.decision_days,
                          payment_days=levels.payment_days)


def payment_batches(uow: UnitOfWork, *, limit: int = 100) -> list[Settlement]:
    """Payment batches, the newest first; a funder's client sees its own."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        return uow.settlements.newest(uow.actor.funder_id, min(max(limit, 1), 1000))
