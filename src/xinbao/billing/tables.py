"""Billing's table: the funders' premium settlement statements, once per funder and cycle."""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, String, Table, UniqueConstraint

from xinbao.platform.tables import fen_column, id_column, metadata

funder_statements = Table(
    "funder_statements", metadata,
    id_column(),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("number", String(60), nullable=False, unique=True),
    Column("cycle_from", Date, nullable=False),
    Column("cycle_to", Date, nullable=False),
    Column("premium_collector", String(16), nullable=False),
    fen_column("premium_held_fen"),
    fen_column("refunds_fen"),
    fen_column("commission_fen"),
    fen_column("clawback_fen"),
    fen_column("claims_paid_fen"),
    Column("settled_on", Date, nullable=False),
    Column("bank_reference", String(64), nullable=False, unique=True),
    UniqueConstraint("funder_id", "cycle_to"),
)
