"""Identities: console users and their sessions, funders' API clients and their tokens.

Managing accounts needs ``user.manage``. Logging in and asking for a token need nothing but
the credentials; every attempt, good or bad, is recorded in the audit trail, and the answer
to a bad one never says which part was wrong. Roles are read from storage on every request,
so disabling an account or changing its roles takes effect at once, tokens or not.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from xinbao.iam.access import authorize
from xinbao.iam.model.accounts import (
    SESSION_IDLE,
    SESSION_MAX,
    TOKEN_TTL,
    ApiClient,
    Session,
    User,
    check_client_id,
    check_password,
    check_username,
)
from xinbao.iam.model.security import Action, Principal, Role, Unauthenticated, validate_roles
from xinbao.iam.repository import AccountsUnitOfWork
from xinbao.kernel.errors import Conflict, FieldError, InvalidInput, collect, require
from xinbao.kernel.events import Event
from xinbao.kernel.paging import Page, PageRequest
from xinbao.kernel.retries import retried

#: What a refused login or token request is told, whatever was wrong.
REFUSED = "invalid credentials"


class Credentials(Protocol):
    """Hashing and signing, provided by the adapters (argon2id, HMAC-signed JWT)."""

    def hash_secret(self, secret: str) -> str: ...
    def verify_secret(self, stored_hash: str, secret: str) -> bool: ...
    def spend_verify_time(self, secret: str) -> None:
        """As long as a verification takes, for unknown names (so they are not told apart)."""
        ...

    def sign_token(self, subject: str, claims: Mapping[str, Any], ttl_seconds: int,
                   now: datetime) -> str: ...
    def read_token(self, token: str, now: datetime) -> dict[str, Any] | None:
        """The token's claims, or None for any token that is not valid now."""
        ...


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _roles(values: list[str], funder_id: int | None) -> frozenset[Role]:
    try:
        roles = frozenset(Role(v) for v in values)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidInput.single("roles", "SEC-ROLE", f"roles are: {known}") from None
    problems = validate_roles(set(roles), funder_id)
    if problems:
        raise InvalidInput([FieldError("roles", "SEC-ROLE", p) for p in problems])
    return roles


def _funder_id(uow: AccountsUnitOfWork, code: str | None) -> int | None:
    if code is None:
        return None
    return require(uow.funders.get_by_code(code), "funder", code).id


@dataclass(frozen=True, slots=True)
class AddUser:
    username: str
    display_name: str
    password: str
    roles: list[str]
    funder_code: str | None = None


@retried
def add_user(cmd: AddUser, uow: AccountsUnitOfWork, creds: Credentials, *,
             now: datetime) -> User:
    authorize(uow, Action.USER_MANAGE)
    errors = collect(check_username(cmd.username), check_password(cmd.password, cmd.username))
    if not cmd.display_name.strip():
        errors.append(FieldError("display_name", "SEC-NAME", "a user has a display name"))
    if errors:
        raise InvalidInput(errors)
    with uow:
        if uow.users.get_by_username(cmd.username) is not None:
            raise Conflict(f"user {cmd.username!r} exists")
        funder_id = _funder_id(uow, cmd.funder_code)
        user = User(username=cmd.username, display_name=cmd.display_name.strip(),
                    password_hash=creds.hash_secret(cmd.password),
                    roles=_roles(cmd.roles, funder_id), funder_id=funder_id,
                    created_at=now, password_changed_at=now)
        user.record_event("UserCreated", now, {"roles": ",".join(sorted(user.roles)),
                                          "funder_id": funder_id})
        uow.users.add(user)
        uow.commit()
    return user


@retried
def _change_user(uow: AccountsUnitOfWork, username: str,
                 change: Callable[[User], None]) -> User:
    authorize(uow, Action.USER_MANAGE)
    with uow:
        user = require(uow.users.get_by_username(username), "user", username)
        change(user)
        uow.users.save(user)
        uow.commit()
    return user


def set_user_roles(username: str, roles: list[str], uow: AccountsUnitOfWork, *,
                   now: datetime) -> User:
    def change(user: User) -> None:
        user.set_roles(_roles(roles, user.funder_id), now)
    return _change_user(uow, username, change)


def set_user_active(username: str, active: bool, uow: AccountsUnitOfWork, *,
                    now: datetime) -> User:
    def change(user: User) -> None:
        user.set_active(active, now)
        if not active:
            uow.sessions.revoke_all(require(user.id, "user", username))
    return _change_user(uow, username, change)


def unlock_user(username: str, uow: AccountsUnitOfWork, *, now: datetime) -> User:
    return _change_user(uow, username, lambda user: user.unlock(now))


def reset_password(username: str, password: str, uow: AccountsUnitOfWork, creds: Credentials, *,
                   now: datetime) -> User:
    error = check_password(password, username)
    if error:
        raise InvalidInput(error)

    def change(user: User) -> None:
        user.set_password(creds.hash_secret(password), now)
        uow.sessions.revoke_all(require(user.id, "user", username))
    return _change_user(uow, username, change)


def list_users(uow: AccountsUnitOfWork) -> list[User]:
    authorize(uow, Action.USER_MANAGE)
    with uow:
        return uow.users.list()


#: The orders of the lists of accounts (tens to hundreds of them: paged in memory).
USER_SORTS = ("username", "id")
CLIENT_SORTS = ("client_id", "id")


def _paged(items: list[Any], request: PageRequest, sorts: tuple[str, ...]) -> Page[Any]:
    if request.sort not in sorts:
        raise InvalidInput.single("sort", "page.sort", f"sorts are: {', '.join(sorts)}")
    ordered = sorted(items, key=lambda a: (getattr(a, request.sort), a.id),
                     reverse=request.descending)
    return Page(ordered[request.offset:request.offset + request.size], len(ordered), request)


def users_page(uow: AccountsUnitOfWork, request: PageRequest) -> Page[User]:
    """One page of the console's users, by user name or id."""
    return _paged(list_users(uow), request, USER_SORTS)


def get_user(uow: AccountsUnitOfWork, username: str) -> User:
    authorize(uow, Action.USER_MANAGE)
    with uow:
        return require(uow.users.get_by_username(username), "user", username)


@dataclass(frozen=True, slots=True)
class LoggedIn:
    token: str  # goes to the browser in a cookie; only its hash is stored
    csrf_token: str
    principal: Principal
    expires_at: datetime


def login(username: str, password: str, uow: AccountsUnitOfWork, creds: Credentials, *,
          now: datetime) -> LoggedIn:
    """A new session for the right password of an active, unlocked account; otherwise
    Unauthenticated("invalid credentials"). Five failures in a row lock the account."""
    user = _check_password(username, password, uow, creds, now=now)
    with uow:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = Session(token_hash=_digest(token), user_id=require(user.id, "user", username),
                          csrf_token=csrf, created_at=now, last_seen_at=now,
                          expires_at=now + SESSION_MAX)
        uow.sessions.add(session)
        uow.commit()
    return LoggedIn(token, csrf, user.principal(), session.expires_at)


def authenticate(username: str, password: str, uow: AccountsUnitOfWork, creds: Credentials,
                 *, now: datetime) -> Principal:
    """Who a user is, for one command at the CLI (``--user``): the same checks, lock-outs and
    audit records as a console log-in, without a session to keep."""
    return _check_password(username, password, uow, creds, now=now).principal()


@retried
def _check_password(username: str, password: str, uow: AccountsUnitOfWork, creds: Credentials,
                    *, now: datetime) -> User:
    with uow:
        user = uow.users.get_by_username(username[:64])
        if user is None:
            creds.spend_verify_time(password)
            uow.events.add([Event("LoginFailed", "user", None, now.date(),
                                  {"username": username[:64], "reason": "unknown user"})])
            uow.commit()
            raise Unauthenticated(REFUSED)
        if not user.active or user.is_locked(now):
            creds.spend_verify_time(password)
            user.record_event("LoginRefused", now,
                         {"reason": "disabled" if not user.active else "locked"})
            uow.users.save(user)
            uow.commit()
            raise Unauthenticated(REFUSED)
        if not creds.verify_secret(user.password_hash, password):
            user.login_failed(now)
            uow.users.save(user)
            uow.commit()
            raise Unauthenticated(REFUSED)
        user.login_succeeded(now)
        uow.users.save(user)
        uow.commit()
    return user


@dataclass(frozen=True, slots=True)
class ActiveSession:
    principal: Principal
    csrf_token: str
    display_name: str


@retried
def resolve_session(token: str, uow: AccountsUnitOfWork, *, now: datetime) -> ActiveSession:
    """The user behind a session cookie; it must be live (not idle past SESSION_IDLE, not
    past SESSION_MAX, not revoked) and its user active."""
    with uow:
        session = uow.sessions.get_by_token_hash(_digest(token))
        if session is None or not session.valid(now):
            raise Unauthenticated("session expired or unknown")
        user = uow.users.get(session.user_id)
        if user is None or not user.active:
            raise Unauthenticated("session expired or unknown")
        if now - session.last_seen_at > SESSION_IDLE / 10:  # write at most every 3 minutes
            session.last_seen_at = now
            uow.sessions.save(session)
            uow.commit()
    return ActiveSession(user.principal(), session.csrf_token, user.display_name)


@retried
def logout(token: str, uow: AccountsUnitOfWork, *, now: datetime) -> None:
    with uow:
        session = uow.sessions.get_by_token_hash(_digest(token))
        if session is None or session.revoked:
            return
        session.revoked = True
        uow.sessions.save(session)
        uow.events.add([Event("LoggedOut", "user", session.user_id, now.date(), {})])
        uow.commit()


@dataclass(frozen=True, slots=True)
class AddClient:
    client_id: str
    name: str
    roles: list[str]
    funder_code: str | None = None


@retried
def add_client(cmd: AddClient, uow: AccountsUnitOfWork, creds: Credentials, *,
               now: datetime) -> tuple[ApiClient, str]:
    """A new API client and its secret (shown once; only its hash is kept)."""
    authorize(uow, Action.USER_MANAGE)
    error = check_client_id(cmd.client_id)
    if error:
        raise InvalidInput(error)
    if not cmd.name.strip():
        raise InvalidInput.single("name", "SEC-NAME", "a client has a name")
    secret = secrets.token_urlsafe(32)
    with uow:
        if uow.clients.get_by_client_id(cmd.client_id) is not None:
            raise Conflict(f"client {cmd.client_id!r} exists")
        funder_id = _funder_id(uow, cmd.funder_code)
        client = ApiClient(client_id=cmd.client_id, name=cmd.name.strip(),
                           roles=_roles(cmd.roles, funder_id), funder_id=funder_id,
                           secret_hash=creds.hash_secret(secret), created_at=now)
        client.record_event("ClientCreated", now, {"roles": ",".join(sorted(client.roles)),
                                              "funder_id": funder_id})
        uow.clients.add(client)
        uow.commit()
    return client, secret


@dataclass(frozen=True, slots=True)
class SeenSecret:
    """The secret a person saw when asking for a rotation: last rotated at ``rotated_at``
    (None: never). A repeat of the request (a double submit, a retry) finds the secret
    rotated since, and rotates nothing."""

    rotated_at: datetime | None


@retried
def rotate_client_secret(client_id: str, uow: AccountsUnitOfWork, creds: Credentials, *,
                         now: datetime, seen: SeenSecret | None = None) -> tuple[ApiClient, str]:
    """A new secret; the old one keeps working for ROTATION_GRACE so the funder can switch.
    With ``seen``, only if the secret is still the one seen (Conflict otherwise: the new
    secret went to whoever rotated first and is never shown again)."""
    authorize(uow, Action.USER_MANAGE)
    secret = secrets.token_urlsafe(32)
    with uow:
        client = require(uow.clients.get_by_client_id(client_id), "client", client_id)
        was = client.rotated_at
        if seen is not None and seen.rotated_at != was:
            raise Conflict(f"the secret of client {client_id!r} was rotated since")
        client.rotate(creds.hash_secret(secret), now)
        if not uow.clients.save_if_rotated_at(client, was):
            raise Conflict(f"the secret of client {client_id!r} was rotated since")
        uow.commit()
    return client, secret


def set_client_active(client_id: str, active: bool, uow: AccountsUnitOfWork, *,
                      now: datetime) -> ApiClient:
    return _change_client(uow, client_id, lambda c: c.set_active(active, now))


@retried
def _change_client(uow: AccountsUnitOfWork, client_id: str,
                   change: Callable[[ApiClient], None]) -> ApiClient:
    authorize(uow, Action.USER_MANAGE)
    with uow:
        client = require(uow.clients.get_by_client_id(client_id), "client", client_id)
        change(client)
        uow.clients.save(client)
        uow.commit()
    return client


def list_clients(uow: AccountsUnitOfWork) -> list[ApiClient]:
    authorize(uow, Action.USER_MANAGE)
    with uow:
        return uow.clients.list()


def clients_page(uow: AccountsUnitOfWork, request: PageRequest) -> Page[ApiClient]:
    """One page of the funders' API clients, by client id or id."""
    return _paged(list_clients(uow), request, CLIENT_SORTS)


def get_client(uow: AccountsUnitOfWork, client_id: str) -> ApiClient:
    authorize(uow, Action.USER_MANAGE)
    with uow:
        return require(uow.clients.get_by_client_id(client_id), "client", client_id)


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int  # seconds


@retried
def issue_token(client_id: str, secret: str, uow: AccountsUnitOfWork, creds: Credentials, *,
                now: datetime) -> AccessToken:
    """OAuth2 client credentials: a short-lived signed token for a known, active client
    whose secret matches (the current one, or the previous one in its grace period)."""
    with uow:
        client = uow.clients.get_by_client_id(client_id[:64])
        ok = False
        if client is None:
            creds.spend_verify_time(secret)
        else:
            ok = client.active and any(creds.verify_secret(h, secret)
                                       for h in client.hashes_accepted(now))
        if not ok:
            uow.events.add([Event("TokenRefused", "api_client",
                                  client.id if client else None, now.date(),
                                  {"client_id": client_id[:64]})])
            uow.commit()
            raise Unauthenticated(REFUSED)
        assert client is not None
        ttl = int(TOKEN_TTL.total_seconds())
        token = creds.sign_token(client.client_id, {"typ": "access"}, ttl, now)
        uow.events.add([Event("TokenIssued", "api_client", client.id, now.date(),
                              {"client_id": client.client_id, "expires_in": ttl})])
        uow.commit()
    return AccessToken(token, ttl)


def resolve_token(token: str, uow: AccountsUnitOfWork, creds: Credentials, *,
                  now: datetime) -> Principal:
    """The client behind a bearer token: signature and expiry checked, then the client read
    afresh (disabled clients are refused at once)."""
    return client_principal(token_subject(token, creds, now=now), uow)


def token_subject(token: str, creds: Credentials, *, now: datetime) -> str:
    """The client id an access token was granted to, its signature and expiry checked (the
    client itself is not read: ``client_principal``)."""
    claims = creds.read_token(token, now)
    if (claims is None or claims.get("typ") != "access" or not claims.get("sub")
            or not _lifetime_within_ttl(claims, now)):
        raise Unauthenticated("invalid or expired token")
    return str(claims["sub"])


def _lifetime_within_ttl(claims: Mapping[str, Any], now: datetime) -> bool:
    """No token may live longer than ``TOKEN_TTL``, counted from its issue and from now: a
    correctly signed token with a far expiry (minted outside ``issue_token``) is refused."""
    issued, expires = claims.get("iat"), claims.get("exp")
    if type(issued) is not int or type(expires) is not int:
        return False
    ttl = int(TOKEN_TTL.total_seconds())
    moment = int((now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp())
    return expires - issued <= ttl and expires - moment <= ttl


def client_principal(client_id: str, uow: AccountsUnitOfWork) -> Principal:
    """An API client's principal, read afresh: an unknown or disabled client is refused."""
    with uow:
        client = uow.clients.get_by_client_id(client_id)
    if client is None or not client.active:
        raise Unauthenticated("invalid or expired token")
    return client.principal()


@retried
def record_security_event(name: str, data: Mapping[str, Any], uow: AccountsUnitOfWork, *,
                          on: date, aggregate: str = "security",
                          aggregate_id: int | None = None) -> None:
    """Record an event that changes nothing else (a refused request, an unmasking), in a
    transaction of its own so that it stays even when the request itself is rolled back."""
    with uow:
        uow.events.add([Event(name, aggregate, aggregate_id, on, dict(data))])
        uow.commit()
