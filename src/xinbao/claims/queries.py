"""Read-side use cases: claims."""

from __future__ import annotations

from xinbao.claims.model import Claim, ClaimStatus, Recovery
from xinbao.claims.repository import UnitOfWork
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import require


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


def recoveries_of(uow: UnitOfWork, claim_id: int) -> list[Recovery]:
    """The recoveries recorded against a claim (after ``get_claim`` has checked access)."""
    authorize(uow, Action.CLAIM_READ)
    with uow:
        return uow.recoveries.for_claim(claim_id)
