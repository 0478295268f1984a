"""Cryptography for personal data, passwords and access tokens.

- ``PiiCipher``: AES-256-GCM field encryption of personal data at rest (PIPL art. 51, JR/T
  0171-2020 §6.1.4: C2/C3 personal financial information stored encrypted). A stored value
  reads ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``; the column name is the associated
  data, so a ciphertext copied into another column does not decrypt. Old keys stay readable
  after rotation; ``rotate`` re-encrypts a value under the active key.
- ``PiiCipher.blind_index``: keyed HMAC-SHA256 of the normalised value, one derived key per
  column, so an encrypted column can still be searched by exact match.
- ``PasswordHasher``: argon2id (RFC 9106), for user passwords and API client secrets.
- ``TokenSigner``: HS256 JWT access tokens with a ``kid`` header, so signing keys rotate.

Keys come from ``xinbao.platform.secrets``; nothing here reads files or the environment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any, overload

import argon2
import jwt
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_VERSION = "v1"
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_ALGORITHM = "HS256"
_RESERVED_CLAIMS = frozenset({"iss", "sub", "iat", "nbf", "exp", "jti"})
_VERIFIED_TOKENS = 10_000  # verified tokens remembered per signer (most recent kept)


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe text secret carrying ``nbytes`` bytes of entropy."""
    return secrets.token_urlsafe(nbytes)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_keys(keys: Mapping[str, bytes], active_kid: str, what: str, *, exact: bool) -> None:
    if not keys:
        raise ValueError(f"{what}: at least one key is required")
    for kid, key in keys.items():
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise ValueError(f"{what}: key id {kid!r} must be 1-32 characters of [A-Za-z0-9_-]")
        if not isinstance(key, bytes):
            raise ValueError(f"{what}: key {kid!r} must be bytes")
        if (len(key) != KEY_BYTES) if exact else (len(key) < KEY_BYTES):
            need = "exactly" if exact else "at least"
            raise ValueError(f"{what}: key {kid!r} must be {need} {KEY_BYTES} bytes, "
                             f"got {len(key)}")
    if active_kid not in keys:
        raise ValueError(f"{what}: active key id {active_kid!r} is not among the keys")


class PiiDecryptError(Exception):
    """A stored personal-data value could not be decrypted.

    The message names the column and key id only: never the plaintext or the ciphertext, so it
    is safe to log.
    """

    def __init__(self, reason: str, *, field: str | None = None, kid: str | None = None):
        self.reason = reason
        self.field = field
        self.kid = kid
        where = f"field {field!r}" if field is not None else "PII value"
        key = f" (key id {kid!r})" if kid is not None else ""
        super().__init__(f"cannot decrypt {where}{key}: {reason}")


class PiiCipher:
    def __init__(self, keys: Mapping[str, bytes], active_kid: str, index_key: bytes):
        _check_keys(keys, active_kid, "PII keys", exact=True)
        if not isinstance(index_key, bytes) or len(index_key) != KEY_BYTES:
            raise ValueError(f"PII index key must be exactly {KEY_BYTES} bytes")
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active_kid
        self._index_key = index_key
        self._field_keys: dict[str, bytes] = {}
        self._field_macs: dict[str, hmac.HMAC] = {}

    @property
    def active_kid(self) -> str:
        return self._active

    @overload
    def encrypt(self, value: str, *, field: str) -> str: ...
    @overload
    def encrypt(self, value: None, *, field: str) -> None: ...
    @overload
    def encrypt(self, value: str | None, *, field: str) -> str | None: ...
    def encrypt(self, value: str | None, *, field: str) -> str | None:
        return None if value is None else self._seal(value, field)

    @overload
    def decrypt(self, token: str, *, field: str) -> str: ...
    @overload
    def decrypt(self, token: None, *, field: str) -> None: ...
    @overload
    def decrypt(self, token: str | None, *, field: str) -> str | None: ...
    def decrypt(self, token: str | None, *, field: str) -> str | None:
        return None if token is None else self._open(token, field)

    def _seal(self, value: str, field: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self._active].encrypt(nonce, value.encode("utf-8"), _aad(field))
        return f"{_VERSION}.{self._active}.{_b64encode(nonce + sealed)}"

    def _open(self, token: str, field: str) -> str:
        kid, blob = _split(token, field)
        aead = self._aead.get(kid)
        if aead is None:
            raise PiiDecryptError("unknown key id", field=field, kid=kid)
        try:
            plain = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(field))
            return plain.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise PiiDecryptError("authentication failed (wrong key, column or tampered)",
                                  field=field, kid=kid) from None

    def blind_index(self, value: str | None, *, field: str) -> str | None:
        """Deterministic search key for exact-match lookup on an encrypted column.

        The value is normalised first (outer and inner whitespace removed, upper case: a
        trailing ``x`` in an ID number matches ``X``); each column has its own derived key, so
        equal values in different columns do not link.
        """
        if value is None:
            return None
        normal = "".join(value.split()).upper()
        # a copy of the field's keyed HMAC, then the value: the same digest as
        # hmac.new(key, value, sha256) without deriving the key's pads each time (2 µs, not 4)
        mac = self._field_mac(field).copy()
        mac.update(normal.encode("utf-8"))
        return mac.hexdigest()

    def kid_of(self, token: str) -> str:
        return _split(token, None)[0]

    def needs_rotation(self, token: str) -> bool:
        return self.kid_of(token) != self._active

    def rotate(self, token: str, *, field: str) -> str:
        """The value re-encrypted under the active key (a fresh ciphertext every call)."""
        return self._seal(self._open(token, field), field)

    def _field_mac(self, field: str) -> hmac.HMAC:
        mac = self._field_macs.get(field)
        if mac is None:
            mac = hmac.new(self._field_key(field), digestmod=hashlib.sha256)
            self._field_macs[field] = mac
        return mac

    def _field_key(self, field: str) -> bytes:
        key = self._field_keys.get(field)
        if key is None:
            key = hmac.new(self._index_key, b"blind-index:" + field.encode("utf-8"),
                           hashlib.sha256).digest()
            self._field_keys[field] = key
        return key


def _aad(field: str) -> bytes:
    return field.encode("utf-8")


def _split(token: str, field: str | None) -> tuple[str, bytes]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != _VERSION or not _KID.fullmatch(parts[1]):
        raise PiiDecryptError("not a v1 PII token", field=field)
    kid = parts[1]
    try:
        blob = _b64decode(parts[2])
    except (ValueError, binascii.Error):
        raise PiiDecryptError("payload is not base64url", field=field, kid=kid) from None
    if len(blob) < _NONCE_BYTES + _TAG_BYTES:
        raise PiiDecryptError("payload too short", field=field, kid=kid)
    return kid, blob


class PasswordHasher:
    """argon2id password hashing; defaults are RFC 9106's second recommended (low-memory)
    profile: t=3, m=64 MiB, p=4."""

    def __init__(self, *, time_cost: int = RFC_9106_LOW_MEMORY.time_cost,
                 memory_cost: int = RFC_9106_LOW_MEMORY.memory_cost,
                 parallelism: int = RFC_9106_LOW_MEMORY.parallelism):
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
            hash_len=RFC_9106_LOW_MEMORY.hash_len, salt_len=RFC_9106_LOW_MEMORY.salt_len,
            type=argon2.Type.ID)
        # Hashed once up front so verify_dummy costs exactly one verification, like a real one.
        self._dummy_hash = self._hasher.hash(new_secret())

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when the password matches; False on a mismatch or a malformed stored hash."""
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for a login whose user does not exist, so the
        response time does not reveal which user names are registered."""
        self.verify(self._dummy_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters (or is not an argon2 hash at
        all); rehash after the next successful login."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True


class InvalidToken(Exception):
    """An access token was refused; ``reason`` is short and safe to return to the client."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class TokenSigner:
    def __init__(self, keys: Mapping[str, bytes], active_kid: str, issuer: str = "xinbao", *,
                 leeway_seconds: int = 0):
        # HS256 keys at least as long as the hash output (RFC 7518 §3.2).
        _check_keys(keys, active_kid, "token keys", exact=False)
        if leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        self._keys = dict(keys)
        self._active = active_kid
        self._issuer = issuer
        self._leeway = leeway_seconds
        # Tokens whose signature, key and issuer were checked, with their claims: a client
        # sends the same token with every request for its 15 minutes, and the check is the
        # costliest part of a small request. Times are still checked on every use.
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._verified_lock = threading.Lock()

    @property
    def active_kid(self) -> str:
        return self._active

    def issue(self, subject: str, *, claims: Mapping[str, Any], ttl_seconds: int,
              now: datetime) -> str:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        reserved = _RESERVED_CLAIMS.intersection(claims)
        if reserved:
            raise ValueError(f"claims may not set registered claims {sorted(reserved)}")
        issued = _epoch(now)
        payload = {**claims, "iss": self._issuer, "sub": subject, "iat": issued,
                   "nbf": issued, "exp": issued + ttl_seconds, "jti": new_secret(16)}
        return jwt.encode(payload, self._keys[self._active], algorithm=_ALGORITHM,
                          headers={"kid": self._active})

    def verify(self, token: str, *, now: datetime) -> dict[str, Any]:
        with self._verified_lock:
            known = self._verified.get(token)
        if known is not None:
            self._check_times(known, _epoch(now))
            return dict(known)
        claims = self._verify_signed(token)
        self._check_times(claims, _epoch(now))
        with self._verified_lock:
            self._verified[token] = dict(claims)
            while len(self._verified) > _VERIFIED_TOKENS:
                self._verified.popitem(last=False)
        return claims

    def _verify_signed(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed") from None
        if header.get("alg") != _ALGORITHM:
            raise InvalidToken("algorithm not allowed")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("unknown key id")
        try:
            claims = jwt.decode(
                token, key, algorithms=[_ALGORITHM], issuer=self._issuer,
                # Times are checked below against the caller's clock, not PyJWT's.
                options={"require": sorted(_RESERVED_CLAIMS), "verify_exp": False,
                         "verify_nbf": False, "verify_iat": False})
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad signature") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"missing claim {exc.claim}") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("malformed") from None
        # Exact match again: PyJWT 2.10.0 matched issuers as substrings (CVE-2024-53861).
        if claims.get("iss") != self._issuer:
            raise InvalidToken("wrong issuer")
        return claims

    def _check_times(self, claims: Mapping[str, Any], now: int) -> None:
        times = {name: claims[name] for name in ("iat", "nbf", "exp")}
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in times.values()):
            raise InvalidToken("malformed")
        if now >= times["exp"] + self._leeway:
            raise InvalidToken("expired")
        if times["nbf"] > now + self._leeway or times["iat"] > now + self._leeway:
            raise InvalidToken("not yet valid")


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return int(moment.timestamp())
