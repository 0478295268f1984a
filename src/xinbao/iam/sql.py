"""IAM's SQL repositories: users, API clients, sessions."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from xinbao.iam import tables
from xinbao.iam.model.accounts import ApiClient, Session, User, decode_roles, encode_roles
from xinbao.platform.prepared import Prepared
from xinbao.platform.sql import SqlRepository

_USER_COLUMNS = ("username", "display_name", "password_hash", "funder_id", "active",
                 "failed_logins", "locked_until", "created_at", "password_changed_at")
_CLIENT_COLUMNS = ("client_id", "name", "funder_id", "secret_hash", "previous_secret_hash",
                   "previous_valid_until", "active", "created_at", "rotated_at")
_SESSION_COLUMNS = ("token_hash", "user_id", "csrf_token", "created_at", "last_seen_at",
                    "expires_at", "revoked")



@functools.cache
def _hot() -> dict[str, Prepared]:
    """The client of a request, on the driver's cursor (``platform.prepared``)."""
    c = tables.api_clients
    return {"client": Prepared(select(c).where(c.c.client_id == bindparam("client_id")))}


class SqlUserRepository(SqlRepository):
    @staticmethod
    def _values(u: User) -> dict[str, Any]:
        return {**{c: getattr(u, c) for c in _USER_COLUMNS}, "roles": encode_roles(u.roles)}

    @staticmethod
    def _from_row(r: Any) -> User:
        return User(**{c: getattr(r, c) for c in _USER_COLUMNS},
                    roles=decode_roles(r.roles), id=r.id)

    def add(self, user: User) -> User:
        user.id = self._insert(tables.users, self._values(user))
        self._drain(user)
        return user

    def save(self, user: User) -> None:
        self._update_rows(tables.users, [{"id": user.id, **self._values(user)}])
        self._drain(user)

    def get(self, user_id: int) -> User | None:
        r = self._c.execute(select(tables.users).where(tables.users.c.id == user_id)).first()
        return self._from_row(r) if r else None

    def get_by_username(self, username: str) -> User | None:
        r = self._c.execute(select(tables.users).where(tables.users.c.username == username)).first()
        return self._from_row(r) if r else None

    def list(self) -> list[User]:
        return [self._from_row(r)
                for r in self._c.execute(select(tables.users).order_by(tables.users.c.username))]


class SqlClientRepository(SqlRepository):
    @staticmethod
    def _values(c: ApiClient) -> dict[str, Any]:
        return {**{k: getattr(c, k) for k in _CLIENT_COLUMNS}, "roles": encode_roles(c.roles)}

    @staticmethod
    def _from_row(r: Any) -> ApiClient:
        return ApiClient(**{k: getattr(r, k) for k in _CLIENT_COLUMNS},
                         roles=decode_roles(r.roles), id=r.id)

    def add(self, client: ApiClient) -> ApiClient:
        client.id = self._insert(tables.api_clients, self._values(client))
        self._drain(client)
        return client

    def save(self, client: ApiClient) -> None:
        self._update_rows(tables.api_clients, [{"id": client.id, **self._values(client)}])
        self._drain(client)

    def save_if_rotated_at(self, client: ApiClient, was: datetime | None) -> bool:
        t = tables.api_clients
        still = t.c.rotated_at.is_(None) if was is None else t.c.rotated_at == was
        saved = self._c.execute(update(t).where(t.c.id == client.id, still)
                                .values(**self._values(client))).rowcount == 1
        if saved:
            self._drain(client)
        return saved

    def get_by_client_id(self, client_id: str) -> ApiClient | None:
        r = _hot()["client"].first(self._c, {"client_id": client_id})
        return self._from_row(r) if r else None

    def list(self) -> list[ApiClient]:
        t = tables.api_clients
        return [self._from_row(r) for r in self._c.execute(select(t).order_by(t.c.client_id))]


class SqlSessionRepository(SqlRepository):
    def add(self, session: Session) -> Session:
        session.id = self._insert(tables.user_sessions,
                                  {c: getattr(session, c) for c in _SESSION_COLUMNS})
        return session

    def save(self, session: Session) -> None:
        self._update_rows(tables.user_sessions, [{
            "id": session.id, **{c: getattr(session, c) for c in _SESSION_COLUMNS}}])

    def get_by_token_hash(self, token_hash: str) -> Session | None:
        t = tables.user_sessions
        r = self._c.execute(select(t).where(t.c.token_hash == token_hash)).first()
        return Session(**{c: getattr(r, c) for c in _SESSION_COLUMNS}, id=r.id) if r else None

    def revoke_all(self, user_id: int) -> int:
        t = tables.user_sessions
        return self._c.execute(update(t).where(t.c.user_id == user_id, t.c.revoked.is_(False))
                               .values(revoked=True)).rowcount
