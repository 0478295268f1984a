"""Claims tables: claims and recoveries (see ``platform/tables`` for the types)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from xinbao.platform.tables import enum_column, fen_column, id_column, metadata

claims = Table(
    "claims", metadata,
    id_column(),
    Column("policy_id", ForeignKey("policies.id"), nullable=False, index=True),
    Column("loan_id", ForeignKey("loans.id"), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    fen_column("principal_fen"),
    fen_column("interest_fen"),
    fen_column("amount_fen"),
    enum_column("status", index=True),
    Column("reason_codes", String(400), nullable=False),
    Column("paid_on", Date),
    fen_column("recovered_fen"),
    CheckConstraint("amount_fen >= 0 AND recovered_fen >= 0", name="nonnegative"),
)

recoveries = Table(
    "recoveries", metadata,
    id_column(),
    Column("claim_id", ForeignKey("claims.id"), nullable=False),
    Column("received_on", Date, nullable=False),
    fen_column("amount_fen"),
    Column("source", String(40), nullable=False),
    Column("reference", String(64), nullable=False),
    UniqueConstraint("claim_id", "reference"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)
