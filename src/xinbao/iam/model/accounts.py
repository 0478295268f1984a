"""Accounts that can act: console users, their sessions, and funders' API clients.

Secrets never live here in the clear: users hold an argon2id password hash, sessions the
SHA-256 of their token, clients the hash of their secret (and, for a grace period after a
rotation, the hash of the previous one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from xinbao.iam.model.security import Principal, Role
from xinbao.kernel.errors import FieldError
from xinbao.kernel.events import Event

#: Failed logins in a row that lock an account, and for how long.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
#: A session ends after this long without a request, and in any case after SESSION_MAX.
SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=8)
#: Access tokens of API clients live this long; a rotated secret keeps working this long.
TOKEN_TTL = timedelta(minutes=15)
ROTATION_GRACE = timedelta(hours=24)

MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
_CLIENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


def check_username(value: str, field_name: str = "username") -> FieldError | None:
    if not _USERNAME.fullmatch(value):
        return FieldError(field_name, "SEC-USERNAME", "3-64 characters: lower-case letters, "
                          "digits, '.', '_' or '-', starting with a letter")
    return None


def check_client_id(value: str, field_name: str = "client_id") -> FieldError | None:
    if not _CLIENT_ID.fullmatch(value):
        return FieldError(field_name, "SEC-CLIENT-ID", "3-64 characters: lower-case letters, "
                          "digits, '.', '_' or '-'")
    return None


def check_password(password: str, username: str, field_name: str = "password"
                   ) -> FieldError | None:
    """ASVS 5 V6.2: at least 12 characters, any characters allowed, no composition rules;
    refuses passwords that contain the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return FieldError(field_name, "SEC-PASSWORD-LENGTH",
                          f"at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 128:
        return FieldError(field_name, "SEC-PASSWORD-LENGTH", "at most 128 characters")
    if username.lower() in password.lower():
        return FieldError(field_name, "SEC-PASSWORD-USERNAME", "must not contain the username")
    return None


def encode_roles(roles: frozenset[Role] | set[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


def decode_roles(text: str) -> frozenset[Role]:
    return frozenset(Role(r) for r in text.split(",") if r)


@dataclass
class User:
    username: str
    display_name: str
    password_hash: str
    roles: frozenset[Role]
    created_at: datetime
    password_changed_at: datetime
    funder_id: int | None = None
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    def principal(self) -> Principal:
        return Principal("user", self.username, self.roles, self.funder_id)

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def login_failed(self, now: datetime) -> None:
        self.failed_logins += 1
        locked = self.failed_logins >= MAX_FAILED_LOGINS
        if locked:
            self.locked_until = now + LOCKOUT
        self.record_event("LoginFailed" if not locked else "AccountLocked", now,
                     {"failed_logins": self.failed_logins})

    def login_succeeded(self, now: datetime) -> None:
        self.failed_logins = 0
        self.locked_until = None
        self.record_event("LoginSucceeded", now, {})

    def unlock(self, now: datetime) -> None:
        self.failed_logins, self.locked_until = 0, None
        self.record_event("AccountUnlocked", now, {})

    def set_roles(self, roles: frozenset[Role], now: datetime) -> None:
        before = encode_roles(self.roles)
        self.roles = roles
        self.record_event("RolesChanged", now, {"before": before, "after": encode_roles(roles)})

    def set_active(self, active: bool, now: datetime) -> None:
        before = self.active
        self.active = active
        self.record_event("UserEnabled" if active else "UserDisabled", now,
                     {"before": before, "after": active})

    def set_password(self, password_hash: str, now: datetime) -> None:
        self.password_hash = password_hash
        self.password_changed_at = now
        self.failed_logins, self.locked_until = 0, None
        self.record_event("PasswordChanged", now, {})

    def record_event(self, name: str, now: datetime, data: Mapping[str, Any]) -> None:
        self.events.append(Event(name, "user", self.id, now.date(),
                                 {"username": self.username, **data}))


@dataclass
class Session:
    token_hash: str
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked: bool = False
    id: int | None = None

    def valid(self, now: datetime) -> bool:
        return (not self.revoked and now < self.expires_at
                and now - self.last_seen_at < SESSION_IDLE)


@dataclass
class ApiClient:
    client_id: str
    name: str
    roles: frozenset[Role]
    secret_hash: str
    created_at: datetime
    funder_id: int | None = None
    previous_secret_hash: str | None = None
    previous_valid_until: datetime | None = None
    active: bool = True
    rotated_at: datetime | None = None
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    def principal(self) -> Principal:
        return Principal("client", self.client_id, self.roles, self.funder_id)

    def hashes_accepted(self, now: datetime) -> list[str]:
        """The secret hashes a token request may match now (the previous one in its grace)."""
        hashes = [self.secret_hash]
        if (self.previous_secret_hash and self.previous_valid_until
                and now < self.previous_valid_until):
            hashes.append(self.previous_secret_hash)
        return hashes

    def rotate(self, new_hash: str, now: datetime, *, grace: timedelta = ROTATION_GRACE
               ) -> None:
        self.previous_secret_hash, self.secret_hash = self.secret_hash, new_hash
        self.previous_valid_until = now + grace
        self.rotated_at = now
        self.record_event("ClientSecretRotated", now,
                     {"previous_valid_until": self.previous_valid_until.isoformat()})

    def set_active(self, active: bool, now: datetime) -> None:
        before = self.active
        self.active = active
        self.record_event("ClientEnabled" if active else "ClientDisabled", now,
                     {"before": before, "after": active})

    def record_event(self, name: str, now: datetime, data: Mapping[str, Any]) -> None:
        self.events.append(Event(name, "api_client", self.id, now.date(),
                                 {"client_id": self.client_id, **data}))
