"""Idempotency keys: a retried request gets the first answer again.

Per caller and key: the same request (same hash of its content) is answered with the stored
response; another request under a key already used is a conflict. The answer is remembered
after the use case has committed; should the process stop in between, the retry runs the use
case again, which is itself idempotent (a funder reference is stored once), so the answer is
the same.
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


def remember(uow: IdempotentUnitOfWork, key: str, digest: str, status_code: int,
             response: Mapping[str, Any], *, now: datetime) -> StoredResponse:
    """Store the answer; when a concurrent request with the same key got there first, its
    answer stands (and must be to the same request)."""
    with uow:
        stored = uow.idempotency.add_once(StoredResponse(
            uow.actor.actor, key, digest, status_code, dict(response)), now)
        uow.commit()
    return _same_or_conflict(stored, digest, key)
