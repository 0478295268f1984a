"""The ports every context shares: the audit trail, stored answers to retried requests, and
the unit of work's base.

Repositories never commit; the use case calls ``uow.commit()`` once. ``add`` stores a new
object and gives it its id; ``save`` stores the changes to one already stored. Both drain the
object's pending domain events into the event log, in the same transaction. Each context's
``repository.py`` declares the repositories it owns and widens ``UnitOfWork`` with what its
use cases need; the SQL unit of work (``xinbao.unit_of_work``) satisfies them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, Self

from xinbao.kernel.audit import AuditRecord
from xinbao.kernel.events import Event


class EventLog(Protocol):
    """The audit trail: append-only and hash-chained; each record names the unit of work's
    actor. Events added are chained when the unit of work commits."""

    def add(self, events: Iterable[Event]) -> None: ...
    def list(
        self, *, aggregate: str | None = None, aggregate_id: int | None = None,
    ) -> list[Event]: ...
    def makers(self, aggregate: str, aggregate_ids: Iterable[int],
               names: Iterable[str]) -> dict[int, set[str]]:
        """For each of these objects, the actors who recorded these events on it (for
        four-eyes checks; an empty set where none did)."""
        ...

    def records(self, *, actor: str | None = None, limit: int | None = None,
                newest_first: bool = False) -> Iterator[AuditRecord]:
        """Stored records in storage order (or newest first), for reading and verifying."""
        ...

    def head(self) -> tuple[int, str]:
        """(sequence number, hash) of the newest record, kept apart from the records."""
        ...


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The answer given to a request with an Idempotency-Key."""

    scope: str  # the caller
    key: str
    request_hash: str
    status_code: int
    body: dict[str, Any]


class IdempotencyRepository(Protocol):
    def get(self, scope: str, key: str) -> StoredResponse | None: ...
    def add_once(self, response: StoredResponse, now: datetime) -> StoredResponse:
        """Store the response unless one is stored for (scope, key) already; the stored one:
        ``response`` itself when it was stored, the earlier one (a concurrent caller's, once
        that has committed) otherwise."""
        ...


class BatchRunRepository(Protocol):
    def claim(self, name: str, on: date) -> int:
        """Count one more run of the batch ``name`` for the business day ``on`` and hold the
        day until the unit of work ends (a concurrent run of the same day waits, then sees
        what this one committed); the run's number, from 1."""
        ...


class Actor(Protocol):
    """Who acts, as far as the platform needs: the name its records carry."""

    @property
    def actor(self) -> str: ...


class UnitOfWork(Protocol):
    """One use case's transaction, for one actor, with the audit trail its events go to."""

    @property
    def actor(self) -> Actor: ...
    @property
    def events(self) -> EventLog: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class IdempotentUnitOfWork(UnitOfWork, Protocol):
    @property
    def idempotency(self) -> IdempotencyRepository: ...
