"""The services' ``Credentials``: argon2id for passwords and client secrets, signed JWTs for
access tokens. Services keep naive UTC times; tokens want aware ones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from xinbao.platform.crypto import InvalidToken, PasswordHasher, TokenSigner


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Argon2JwtCredentials:
    def __init__(self, hasher: PasswordHasher, signer: TokenSigner) -> None:
        self._hasher = hasher
        self._signer = signer

    def hash_secret(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify_secret(self, stored_hash: str, secret: str) -> bool:
        return self._hasher.verify(stored_hash, secret)

    def spend_verify_time(self, secret: str) -> None:
        self._hasher.verify_dummy(secret)

    def sign_token(self, subject: str, claims: Mapping[str, Any], ttl_seconds: int,
                   now: datetime) -> str:
        return self._signer.issue(subject, claims=claims, ttl_seconds=ttl_seconds,
                                  now=_aware(now))

    def read_token(self, token: str, now: datetime) -> dict[str, Any] | None:
        try:
            return self._signer.verify(token, now=_aware(now))
        except InvalidToken:
            return None
