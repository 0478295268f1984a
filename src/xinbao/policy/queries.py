"""Read-side use cases: policies."""

from __future__ import annotations

from datetime import date

from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import require
from xinbao.kernel.events import Event
from xinbao.kernel.paging import Page, PageRequest
from xinbao.ledger.model import JournalEntry
from xinbao.policy.model import Endorsement, Policy, PolicyStatus
from xinbao.policy.postings import policy_reference
from xinbao.policy.repository import PolicyFilter, UnitOfWork


def get_policy(uow: UnitOfWork, policy_id: int) -> Policy:
    authorize(uow, Action.POLICY_READ)
    with uow:
        p = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, p.funder_id, "policy", policy_id)
        return p


def endorsements_of(uow: UnitOfWork, policy_id: int) -> list[Endorsement]:
    """The policy's endorsements, the oldest first (NotFound: another funder's policy)."""
    authorize(uow, Action.POLICY_READ)
    with uow:
        p = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, p.funder_id, "policy", policy_id)
        return uow.policies.endorsements(policy_id)


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


def search_policies(uow: UnitOfWork, where: PolicyFilter, page: PageRequest) -> Page[Policy]:
    """One page of the issued policies ``where`` selects; a funder's client sees only its
    own (asking for another funder's finds nothing)."""
    authorize(uow, Action.POLICY_READ)
    scope = uow.actor.funder_id
    if scope is not None:
        if where.funder_id not in (None, scope):
            return Page([], 0, page)
        where = PolicyFilter(scope, where.status, where.policy_id)
    with uow:
        return uow.policies.search(where, page)


def find_policies(uow: UnitOfWork, *, id_number: str, on: date) -> list[Policy]:
    """The issued policies of one borrower, by exact ID number (the applications' blind
    index: the number is never stored or compared in clear), within the principal's
    tenant. The search is recorded in the audit trail: it is a read of personal data."""
    authorize(uow, Action.POLICY_READ)
    with uow:
        found = [p for a in uow.applications.find_by_id_number(id_number)
                 if a.id is not None and uow.actor.sees_funder(a.funder_id)
                 and (p := uow.policies.get_by_application(a.id)) is not None
                 and p.status is not PolicyStatus.QUOTED]
        uow.events.add([Event("BorrowerSearched", "policy", None, on,
                              {"results": len(found)})])
        uow.commit()
    return sorted(found, key=lambda p: p.id or 0)


def policy_entries(uow: UnitOfWork, policy_id: int) -> list[JournalEntry]:
    """The journal entries posted about one policy (its reference), with their lines:
    for who may read the ledger, within the principal's tenant."""
    authorize(uow, Action.LEDGER_READ)
    with uow:
        p = require(uow.policies.get(policy_id), "policy", policy_id)
        own(uow, p.funder_id, "policy", policy_id)
        return list(uow.ledger.entries(reference=policy_reference(policy_id)))
