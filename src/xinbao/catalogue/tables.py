"""Catalogue tables: product versions, funders and the versions of their agreements (see
``platform/tables`` for the types)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
)

from xinbao.platform.tables import DecimalText, enum_column, fen_column, id_column, metadata

products = Table(
    "products", metadata,
    Column("code", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    enum_column("mode"),
    enum_column("family"),
    fen_column("min_amount_fen"),
    fen_column("max_amount_fen"),
    Column("min_term_months", Integer, nullable=False),
    Column("max_term_months", Integer, nullable=False),
    Column("repayment_methods", String(200), nullable=False),
    Column("claim_trigger_dpd", Integer, nullable=False),
    Column("waiting_period_days", Integer, nullable=False),
    Column("coverage_share", DecimalText(), nullable=False),
    enum_column("premium_basis"),
    Column("monthly_premium_rate", DecimalText(), nullable=False),
    enum_column("refund_method"),
    Column("effective_from", Date, nullable=False),
)

funders = Table(
    "funders", metadata,
    id_column(),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("credit_code", String(18), nullable=False),
    enum_column("kind"),
    Column("licensed", Boolean, nullable=False),
    Column("commission_rate", DecimalText(), nullable=False),
    # The newest agreement version's terms, for intake and the premium postings:
    Column("products", String(400), nullable=False, server_default=""),  # comma-joined
    Column("premium_collector", String(16), nullable=False, server_default="insurer"),
)

#: Every version of each funder's cooperation agreement; a version is never changed
#: (UPDATE and DELETE refused by triggers, migration 0008).
funder_agreements = Table(
    "funder_agreements", metadata,
    Column("funder_id", ForeignKey("funders.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("effective_from", Date, nullable=False),
    Column("products", String(400), nullable=False),  # comma-joined
    Column("commission_rate", DecimalText(), nullable=False),
    Column("volume_share", DecimalText()),
    Column("risk_share", DecimalText(), nullable=False),
    Column("settlement_days", Integer, nullable=False),
    enum_column("file_format", 16),
    # The funder's column names for our file columns ({"repayments": {"合同号": "contract_no"}}).
    Column("feed_mapping", JSON, nullable=False, server_default="{}"),
    # Claims' terms (issue 22, migration 0018): notice limit and premium grace, days.
    Column("claim_notice_days", Integer, nullable=False, server_default="30"),
    Column("premium_grace_days", Integer, nullable=False, server_default="30"),
    # Who collects the premium (issue 23, migration 0024).
    Column("premium_collector", String(16), nullable=False, server_default="insurer"),
)
