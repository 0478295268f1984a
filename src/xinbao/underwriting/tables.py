"""Underwriting table: applications, personal data encrypted (see ``platform/tables``)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from xinbao.platform.tables import DecimalText, enum_column, fen_column, id_column, metadata

applications = Table(
    "applications", metadata,
    id_column(),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("external_ref", String(64), nullable=False),
    Column("product_code", String(40), nullable=False),
    Column("product_version", Integer, nullable=False),
    enum_column("mode"),
    enum_column("borrower_kind"),
    # Personal data is encrypted at rest (adapters.crypto.PiiCipher); the ID number is found
    # by its keyed blind index, never by its text.
    Column("borrower_name", Text, nullable=False),
    Column("borrower_id_number", Text, nullable=False),
    Column("borrower_id_index", String(64), nullable=False, index=True),
    Column("borrower_phone", Text, nullable=False),
    Column("borrower_bank_card", Text),
    Column("borrower_birth_date", Date),
    enum_column("policyholder"),
    enum_column("insured"),
    fen_column("amount_fen"),
    Column("term_months", Integer, nullable=False),
    Column("annual_rate", DecimalText(), nullable=False),
    enum_column("repayment_method"),
    Column("applied_on", Date, nullable=False),
    enum_column("status"),
    Column("decided_on", Date),
    Column("reason_codes", String(400), nullable=False, default=""),
    Column("anonymized_on", Date),  # personal data replaced after the retention period
    # Declared profile (0005). Device, address and employer are personal data: encrypted,
    # with keyed blind indexes (as for phone and card) so anti-fraud can match them.
    fen_column("monthly_income_fen", nullable=True),
    Column("employment", String(30)),
    Column("industry", String(40)),
    Column("device_id", Text),
    Column("address", Text),
    Column("employer", Text),
    Column("phone_index", String(64), index=True),
    Column("card_index", String(64), index=True),
    Column("device_index", String(64), index=True),
    Column("address_index", String(64), index=True),
    Column("employer_index", String(64), index=True),
    Column("region", String(2), nullable=False, server_default="00"),
    Column("collateral", JSON),
    Column("evidence", JSON, nullable=False, server_default="[]"),
    UniqueConstraint("funder_id", "external_ref"),
    ForeignKeyConstraint(["product_code", "product_version"],
                         ["products.code", "products.version"]),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
    # The console's list sorts by each of these, then by id (migration 0010).
    Index("ix_applications_status_id", "status", "id"),
    Index("ix_applications_applied_on_id", "applied_on", "id"),
    Index("ix_applications_amount_fen_id", "amount_fen", "id"),
)
