"""The one ``MetaData`` every context's tables are declared on, and their column types.

Money columns are BIGINT fen; rates are exact decimal text; enums are their string values.
Alembic migrations (``migrations/``) create exactly the whole schema (``schema.py``); a test
compares the two. The audit trail's and the idempotency keys' tables live here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

#: Surrogate keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class DecimalText(TypeDecorator[Decimal]):
    """An exact Decimal stored as text (SQLite has no exact decimal type)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"rates are Decimal, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return Decimal(value) if value is not None else None


def id_column() -> Column[int]:
    return Column("id", IdType, primary_key=True, autoincrement=True)


def fen_column(name: str, **kw: Any) -> Column[int]:
    return Column(name, BigInteger, nullable=kw.pop("nullable", False), **kw)


def enum_column(name: str, length: int = 32, **kw: Any) -> Column[str]:
    return Column(name, String(length), nullable=kw.pop("nullable", False), **kw)

#: The audit trail: every domain event and security event, hash-chained (domain.audit).
domain_events = Table(
    "domain_events", metadata,
    id_column(),
    Column("name", String(60), nullable=False),
    Column("aggregate", String(30), nullable=False),
    Column("aggregate_id", BigInteger),
    Column("occurred_on", Date, nullable=False),
    Column("data", JSON, nullable=False),
    Column("seq", BigInteger, nullable=False, unique=True),
    Column("recorded_at", String(40), nullable=False),
    Column("actor", String(120), nullable=False, index=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_domain_events_aggregate", "aggregate", "aggregate_id"),
)

#: The newest record of the audit chain (one row), so that cutting records off its end shows.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

#: Answers already given to requests with an Idempotency-Key, per caller.
idempotency_keys = Table(
    "idempotency_keys", metadata,
    id_column(),
    Column("scope", String(120), nullable=False),  # the caller (actor)
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("scope", "key"),
)

#: Runs of a day's batch (the end of day): the first statement of a run claims its row, so
#: concurrent runs of one day take turns and each sees what the one before committed.
batch_runs = Table(
    "batch_runs", metadata,
    Column("name", String(40), primary_key=True),
    Column("business_date", Date, primary_key=True),
    Column("runs", Integer, nullable=False),
    Column("last_run_at", DateTime, nullable=False),
)

#: Tables whose rows are never updated or deleted (enforced by database triggers).
APPEND_ONLY = ("journal_entries", "journal_lines", "domain_events")
