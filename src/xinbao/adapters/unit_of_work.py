"""The SQL unit of work: one connection and one transaction per use case, acting for one
principal (the actor every audit record of the transaction names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from sqlalchemy import Connection, Engine

from xinbao.adapters import repositories as r
from xinbao.adapters import risk_repositories as rr
from xinbao.adapters.crypto import PiiCipher
from xinbao.domain.security import Principal, system


class SqlUnitOfWork:
    def __init__(self, engine: Engine, *, cipher: PiiCipher,
                 actor: Principal | None = None) -> None:
        self._engine = engine
        self._cipher = cipher
        self.actor = actor or system()
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("unit of work already open; use cases do not nest")
        c = self._connection = self._engine.connect()
        self.events = r.SqlEventLog(c, self.actor.actor)
        return self

    def __getattr__(self, name: str) -> object:
        """A repository, made on first use within the open unit of work (most use cases
        touch a few of them; a small request should not pay for all)."""
        make = _REPOSITORIES.get(name)
        connection = self.__dict__.get("_connection")
        if make is None or connection is None:
            raise AttributeError(name)
        repository = make(connection, self.events, self._cipher)
        setattr(self, name, repository)
        return repository

    def __exit__(self, *exc: object) -> None:
        connection, self._connection = self._connection, None
        for name in _REPOSITORIES.keys() & self.__dict__.keys():
            del self.__dict__[name]
        if connection is not None:
            connection.rollback()
            connection.close()

    def commit(self) -> None:
        assert self._connection is not None, "commit outside a unit of work"
        self.events.flush()
        self._connection.commit()

    def rollback(self) -> None:
        if self._connection is not None:
            self.events.discard()
            self._connection.rollback()


_REPOSITORIES: dict[str, Callable[[Connection, r.SqlEventLog, PiiCipher], object]] = {
    "products": lambda c, e, _: r.SqlProductRepository(c, e),
    "funders": lambda c, e, _: r.SqlFunderRepository(c, e),
    "applications": lambda c, e, k: r.SqlApplicationRepository(c, e, k),
    "policies": lambda c, e, k: r.SqlPolicyRepository(c, e, k),
    "loans": lambda c, e, _: r.SqlLoanRepository(c, e),
    "repayments": lambda c, e, _: r.SqlRepaymentRepository(c, e),
    "claims": lambda c, e, _: r.SqlClaimRepository(c, e),
    "recoveries": lambda c, e, _: r.SqlRecoveryRepository(c, e),
    "ledger": lambda c, e, _: r.SqlLedgerRepository(c, e),
    "users": lambda c, e, _: r.SqlUserRepository(c, e),
    "clients": lambda c, e, _: r.SqlClientRepository(c, e),
    "sessions": lambda c, e, _: r.SqlSessionRepository(c, e),
    "idempotency": lambda c, _, __: r.SqlIdempotencyRepository(c),
    "risk": lambda c, _, k: rr.SqlRiskRepository(c, k),
    "blacklist": lambda c, _, k: rr.SqlBlacklistRepository(c, k),
    "counters": lambda c, _, __: rr.SqlCounterRepository(c),
    "decisions": lambda c, e, _: rr.SqlDecisionRepository(c, e),
}
