"""Authorization in the service layer: every use case asks here before it acts.

The unit of work carries the principal it acts for (``uow.actor``). A use case calls
``authorize`` with its action (and the amount of a money decision) and ``own`` for each
object it touches, so a funder's client can neither see nor change another funder's
business whichever entrypoint it comes through; objects outside its tenant are reported as
not found, so their existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable

from xinbao.iam.model.security import Action, Principal, check_four_eyes
from xinbao.iam.repository import UnitOfWork
from xinbao.kernel.errors import NotFound


def authorize(uow: UnitOfWork, action: Action, *, amount_fen: int | None = None) -> Principal:
    """The acting principal, or Forbidden if none of its roles grants the action (for this
    amount, where the authority matrix limits it)."""
    uow.actor.check(action, amount_fen)
    return uow.actor


def own(uow: UnitOfWork, funder_id: int | None, kind: str, key: object) -> None:
    """NotFound unless the object of ``kind`` belongs to a funder the principal may see."""
    if not uow.actor.sees_funder(funder_id):
        raise NotFound(kind, key)


def tenant(uow: UnitOfWork) -> int | None:
    """The funder the principal is bound to (None for the insurer's staff and the system)."""
    return uow.actor.funder_id


def four_eyes(uow: UnitOfWork, action: Action, aggregate: str, aggregate_id: int,
              maker_events: Iterable[str]) -> None:
    """Forbidden if the acting principal made the decision it is about to check."""
    four_eyes_many(uow, action, aggregate, [aggregate_id], maker_events)


def four_eyes_many(uow: UnitOfWork, action: Action, aggregate: str,
                   aggregate_ids: Iterable[int], maker_events: Iterable[str]) -> None:
    """Forbidden if the acting principal made any of the decisions it is about to check
    (one look-up for them all)."""
    if uow.actor.is_system:
        return
    for makers in uow.events.makers(aggregate, aggregate_ids, maker_events).values():
        check_four_eyes(uow.actor, makers, action)
