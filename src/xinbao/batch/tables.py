"""The batch's tables: the funder files applied, one row a file (its content's hash keeps a
file sent again, under any name, from having a second effect)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from xinbao.platform.tables import id_column, metadata

feed_files = Table(
    "feed_files", metadata,
    id_column(),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("file_type", String(24), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("report", JSON, nullable=False),
    UniqueConstraint("funder_id", "file_type", "content_hash"),
)

#: A person's override of a loan's five-tier class, with its reason (append-only: the newest
#: row of a loan is in force from ``effective_from``; a row with no ``tier`` lifts it).
classification_overrides = Table(
    "classification_overrides", metadata,
    id_column(),
    Column("loan_id", ForeignKey("loans.id"), nullable=False, index=True),
    Column("tier", Integer),  # 1 正常 … 5 损失; NULL: the override is lifted
    Column("reason", String(400), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("set_by", ForeignKey("users.id"), nullable=False),  # who set it
    Column("set_at", DateTime, nullable=False),
)
