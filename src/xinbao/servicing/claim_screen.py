"""Claim anti-fraud's ring check (issue 22): whether a claim's borrower belongs to an identity
ring, read from the underwriting engine's own graph (``risk.identity_graph``: applications
linked by a shared phone, device, address, bank card or employer). Claims and risk are
siblings that never import each other, so the claims use cases take this lookup from here,
a layer that sees both: the end-of-day batch, the API, the CLI and the console pass it.
"""

from __future__ import annotations

from datetime import date

from xinbao.claims.model import RingFacts
from xinbao.claims.services import RingLookup
from xinbao.policy.model import Policy
from xinbao.risk.identity_graph import IdentityGraph
from xinbao.risk.repository import UnitOfWork


def ring_lookup(uow: UnitOfWork) -> RingLookup:
    """The lookup over ``uow``'s transaction (call it inside the use case's ``with uow``)."""

    def ring(policy: Policy, on: date) -> RingFacts | None:
        graph = IdentityGraph(uow.risk.neighbourhood([policy.application_id], on))
        if not graph.has(policy.application_id):
            return None
        found = graph.ring_of(policy.application_id)
        return RingFacts(found.size, found.overdue_share, found.linked_by)

    return ring
