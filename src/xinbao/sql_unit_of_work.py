"""The SQL unit of work: one connection and one transaction per use case, acting for one
principal (the actor every audit record of the transaction names)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Self

from sqlalchemy import Connection, Engine

from xinbao.batch.sql import SqlBookFrames, SqlFeedFiles, SqlOverrides
from xinbao.billing.sql import SqlFunderStatementRepository
from xinbao.catalogue.sql import SqlFunderRepository, SqlProductRepository
from xinbao.claims.sql import (
    SqlClaimRepository,
    SqlRecoveryRepository,
    SqlSettlementRepository,
)
from xinbao.compliance.sql import SqlAuditTrailReader, SqlRetentionRepository
from xinbao.iam.model.security import Principal, system
from xinbao.iam.sql import SqlClientRepository, SqlSessionRepository, SqlUserRepository
from xinbao.kernel.errors import WriteConflict
from xinbao.ledger.sql import SqlLedgerRepository
from xinbao.loans.sql import SqlLoanRepository, SqlRepaymentRepository
from xinbao.platform.crypto import PiiCipher
from xinbao.platform.database import is_write_conflict
from xinbao.platform.sql import SqlBatchRunRepository, SqlEventLog, SqlIdempotencyRepository
from xinbao.policy.sql import SqlPolicyRepository
from xinbao.reporting.sql import SqlReportingRepository
from xinbao.risk.sql import (
    SqlBlacklistRepository,
    SqlCounterRepository,
    SqlDecisionRepository,
    SqlRiskRepository,
)
from xinbao.servicing.feed_book import SqlFeedBook
from xinbao.servicing.sql import SqlEndOfDayQueries
from xinbao.servicing.staging import SqlStagedRepayments
from xinbao.underwriting.sql import SqlApplicationRepository

if TYPE_CHECKING:
    from xinbao.unit_of_work import UnitOfWork


class SqlUnitOfWork:
    """Repositories are made on first use within the open unit of work (most use cases touch
    a few of them; a small request should not pay for all) and dropped when it closes."""

    def __init__(self, engine: Engine, *, cipher: PiiCipher,
                 actor: Principal | None = None) -> None:
        self._engine = engine
        self._cipher = cipher
        self.actor = actor or system()
        self._connection: Connection | None = None
        self._events: SqlEventLog | None = None

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("unit of work already open; use cases do not nest")
        c = self._connection = self._engine.connect()
        self._events = SqlEventLog(c, self.actor.actor)
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the transaction (rolled back unless committed). A collision with a
        concurrent transaction leaves as ``WriteConflict``, the one place such database
        errors are named for the use cases and every edge."""
        connection, self._connection, self._events = self._connection, None, None
        for name in _REPOSITORIES & self.__dict__.keys():
            del self.__dict__[name]
        if connection is not None:
            connection.rollback()
            connection.close()
        error = exc[1] if len(exc) > 1 else None
        if isinstance(error, BaseException) and is_write_conflict(error):
            raise WriteConflict from error

    def commit(self) -> None:
        assert self._connection is not None, "commit outside a unit of work"
        self.events.flush()
        self._connection.commit()

    def rollback(self) -> None:
        if self._connection is not None:
            self.events.discard()
            self._connection.rollback()

    @property
    def events(self) -> SqlEventLog:
        if self._events is None:
            raise RuntimeError("the unit of work is not open: use it in a with block")
        return self._events

    @property
    def _open(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use it in a with block")
        return self._connection

    @cached_property
    def products(self) -> SqlProductRepository:
        return SqlProductRepository(self._open, self.events)

    @cached_property
    def funders(self) -> SqlFunderRepository:
        return SqlFunderRepository(self._open, self.events)

    @cached_property
    def applications(self) -> SqlApplicationRepository:
        return SqlApplicationRepository(self._open, self.events, self._cipher)

    @cached_property
    def policies(self) -> SqlPolicyRepository:
        return SqlPolicyRepository(self._open, self.events, self._cipher)

    @cached_property
    def loans(self) -> SqlLoanRepository:
        return SqlLoanRepository(self._open, self.events)

    @cached_property
    def repayments(self) -> SqlRepaymentRepository:
        return SqlRepaymentRepository(self._open, self.events)

    @cached_property
    def claims(self) -> SqlClaimRepository:
        return SqlClaimRepository(self._open, self.events)

    @cached_property
    def recoveries(self) -> SqlRecoveryRepository:
        return SqlRecoveryRepository(self._open, self.events)

    @cached_property
    def settlements(self) -> SqlSettlementRepository:
        return SqlSettlementRepository(self._open, self.events)

    @cached_property
    def funder_statements(self) -> SqlFunderStatementRepository:
        return SqlFunderStatementRepository(self._open, self.events)

    @cached_property
    def ledger(self) -> SqlLedgerRepository:
        return SqlLedgerRepository(self._open, self.events)

    @cached_property
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self._open, self.events)

    @cached_property
    def clients(self) -> SqlClientRepository:
        return SqlClientRepository(self._open, self.events)

    @cached_property
    def sessions(self) -> SqlSessionRepository:
        return SqlSessionRepository(self._open, self.events)

    @cached_property
    def idempotency(self) -> SqlIdempotencyRepository:
        return SqlIdempotencyRepository(self._open)

    @cached_property
    def batch_runs(self) -> SqlBatchRunRepository:
        return SqlBatchRunRepository(self._open)

    @cached_property
    def risk(self) -> SqlRiskRepository:
        return SqlRiskRepository(self._open, self._cipher)

    @cached_property
    def blacklist(self) -> SqlBlacklistRepository:
        return SqlBlacklistRepository(self._open, self._cipher)

    @cached_property
    def counters(self) -> SqlCounterRepository:
        return SqlCounterRepository(self._open)

    @cached_property
    def end_of_day(self) -> SqlEndOfDayQueries:
        return SqlEndOfDayQueries(self._open)

    @cached_property
    def book(self) -> SqlBookFrames:
        return SqlBookFrames(self._open)

    @cached_property
    def feed_files(self) -> SqlFeedFiles:
        return SqlFeedFiles(self._open)

    @cached_property
    def overrides(self) -> SqlOverrides:
        return SqlOverrides(self._open)

    @cached_property
    def staged_repayments(self) -> SqlStagedRepayments:
        return SqlStagedRepayments(self._open)

    @cached_property
    def feed_book(self) -> SqlFeedBook:
        return SqlFeedBook(self._open)

    @cached_property
    def retention(self) -> SqlRetentionRepository:
        return SqlRetentionRepository(self._open, cipher=self._cipher)

    @cached_property
    def audit(self) -> SqlAuditTrailReader:
        return SqlAuditTrailReader(self._open)

    @cached_property
    def reporting(self) -> SqlReportingRepository:
        return SqlReportingRepository(self._open)

    @cached_property
    def decisions(self) -> SqlDecisionRepository:
        return SqlDecisionRepository(self._open, self.events)


#: The repositories' attribute names: made once per open unit of work.
_REPOSITORIES = frozenset(name for name, value in vars(SqlUnitOfWork).items()
                          if isinstance(value, cached_property))

if TYPE_CHECKING:
    # mypy proves here that the SQL unit of work is every context's unit of work.
    _satisfies: type[UnitOfWork] = SqlUnitOfWork
