"""Ledger tables: accounts, journal entries and their lines (append-only by trigger)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from xinbao.platform.tables import enum_column, fen_column, id_column, metadata

accounts = Table(
    "accounts", metadata,
    Column("code", String(8), primary_key=True),
    Column("name_en", String(80), nullable=False),
    Column("name_zh", String(40), nullable=False),
    enum_column("type", 16),
)

journal_entries = Table(
    "journal_entries", metadata,
    id_column(),
    Column("posted_on", Date, nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("source_command", String(40), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("reference", String(80), nullable=False, index=True),
    Column("reverses_id", ForeignKey("journal_entries.id"), unique=True),
    UniqueConstraint("source_command", "idempotency_key"),
)

journal_lines = Table(
    "journal_lines", metadata,
    id_column(),
    Column("entry_id", ForeignKey("journal_entries.id"), nullable=False, index=True),
    Column("account", ForeignKey("accounts.code"), nullable=False),
    fen_column("amount_fen"),
    # The counterparty (issue 23, migration 0024): a funder's premium held and commission.
    Column("party", String(60), nullable=False, server_default="", index=True),
    CheckConstraint("amount_fen <> 0", name="nonzero"),
)
