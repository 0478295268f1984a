"""The SQL unit of work: one connection and one transaction per use case, acting for one
principal (the actor every audit record of the transaction names)."""

from __future__ import annotations

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
        self.products = r.SqlProductRepository(c, self.events)
        self.funders = r.SqlFunderRepository(c, self.events)
        self.applications = r.SqlApplicationRepository(c, self.events, self._cipher)
        self.policies = r.SqlPolicyRepository(c, self.events, self._cipher)
        self.loans = r.SqlLoanRepository(c, self.events)
        self.repayments = r.SqlRepaymentRepository(c, self.events)
        self.claims = r.SqlClaimRepository(c, self.events)
        self.recoveries = r.SqlRecoveryRepository(c, self.events)
        self.ledger = r.SqlLedgerRepository(c, self.events)
        self.users = r.SqlUserRepository(c, self.events)
        self.clients = r.SqlClientRepository(c, self.events)
        self.sessions = r.SqlSessionRepository(c, self.events)
        self.idempotency = r.SqlIdempotencyRepository(c)
        self.risk = rr.SqlRiskRepository(c, self._cipher)
        self.blacklist = rr.SqlBlacklistRepository(c, self._cipher)
        self.counters = rr.SqlCounterRepository(c)
        self.decisions = rr.SqlDecisionRepository(c, self.events)
        return self

    def __exit__(self, *exc: object) -> None:
        connection, self._connection = self._connection, None
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
