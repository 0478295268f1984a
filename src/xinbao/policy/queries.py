"""Read-side use cases: policies."""

from __future__ import annotations

from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import require
from xinbao.policy.model import Policy
from xinbao.policy.repository import UnitOfWork


def get_policy(uow: UnitOfWork, policy_id: int) -> Policy:
    authorize(uow, Action.POLICY_READ)
    with uow:
        p = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, p.funder_id, "policy", policy_id)
        return p


def list_policies(uow: UnitOfWork, *, after_id: int = 0, limit: int = 100) -> list[Policy]:
    """Issued policies in id order, a page at a time; a funder's client gets only its own."""
    authorize(uow, Action.POLICY_READ)
    with uow:
        return uow.policies.page(funder_id=uow.actor.funder_id, after_id=after_id,
                                 limit=min(max(limit, 1), 1000))


def policy_of_application(uow: UnitOfWork, application_id: int) -> Policy:
    """The policy quoted on an approved application (issued or not)."""
    authorize(uow, Action.POLICY_READ)
    with uow:
        p = require(uow.policies.get_by_application(application_id),
                    "policy for application", application_id)
        own(uow, p.funder_id, "policy for application", application_id)
        return p
