"""Idempotency keys: a retried request gets the first answer again.

Per caller and key: the same request (same hash of its content) is answered with the stored
response; another request under a key already used is a conflict. The key is claimed in the
use case's own transaction, just before it commits (``claim``): the write and the key's record
commit together or not at all, so callers racing with one key make exactly one write. The
loser's insert of the key conflicts (PostgreSQL waits for the winner's commit; SQLite has one
writer at a time); its transaction is rolled back and it gets the winner's answer
(``Replay``), or a 409 when it sent another request.

Retries that arrive at once also collide in the database itself (two inserts of one funder
reference, SQLite's one writer, PostgreSQL's serialization failures): the unit of work turns
those into ``WriteConflict`` (``platform.database.is_write_conflict``), the use case runs
again (``kernel.retries.retried``; its repeat detection then finds what the winner
committed), and a conflict left after that is a 409 or exit 4, never an internal error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from xinbao.kernel.errors import Conflict, InvalidInput
from xinbao.platform.repository import IdempotentUnitOfWork, StoredResponse

MAX_KEY_LENGTH = 200


def request_hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False,
                                     separators=(",", ":"), default=str).encode()).hexdigest()


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput.single("Idempotency-Key", "idempotency.key",
                                  f"1 to {MAX_KEY_LENGTH} printable characters")


def _same_or_conflict(stored: StoredResponse, digest: str, key: str) -> StoredResponse:
    if stored.request_hash != digest:
        raise Conflict(f"Idempotency-Key {key!r} was used for another request")
    return stored


def replay(uow: IdempotentUnitOfWork, key: str, digest: str) -> StoredResponse | None:
    """The answer given before to this caller's request with this key, if any."""
    _check_key(key)
    with uow:
        stored = uow.idempotency.get(uow.actor.actor, key)
    return _same_or_conflict(stored, digest, key) if stored is not None else None


class Replay(Exception):  # noqa: N818 - an outcome, not an error: the stored answer stands
    """A concurrent request with the same key committed first: its answer is the answer."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__(f"Idempotency-Key {stored.key!r} answered already")
        self.stored = stored


def claim(uow: IdempotentUnitOfWork, key: str, digest: str, status_code: int,
          response: Mapping[str, Any], *, now: datetime) -> None:
    """Record the answer in the open transaction of the use case, before it commits.

    Raises ``Replay`` (the same request answered by a concurrent caller first) or
    ``Conflict`` (another request under this key); either rolls the use case's writes back.
    """
    _check_key(key)
    mine = StoredResponse(uow.actor.actor, key, digest, status_code, dict(response))
    stored = _same_or_conflict(uow.idempotency.add_once(mine, now), digest, key)
    if stored is not mine:
        raise Replay(stored)
