"""Read-side use cases: claims."""

from __future__ import annotations

from xinbao.claims.model import Claim
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
