"""Loan tables: loans, their installments and repayments (see ``platform/tables``)."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from xinbao.platform.tables import DecimalText, enum_column, fen_column, id_column, metadata

loans = Table(
    "loans", metadata,
    id_column(),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("contract_no", String(64), nullable=False),
    fen_column("principal_fen"),
    Column("annual_rate", DecimalText(), nullable=False),
    Column("term_months", Integer, nullable=False),
    enum_column("method"),
    Column("start_date", Date, nullable=False),
    enum_column("status"),
    Column("first_unpaid_due_date", Date, index=True),
    # The principal repaid so far, moved with first_unpaid_due_date (the batch's loan state).
    fen_column("principal_paid_fen", server_default="0"),
    UniqueConstraint("funder_id", "contract_no"),
    CheckConstraint("principal_fen > 0", name="principal_positive"),
    # A funder's loans of a month: claim anti-fraud's vintage figures (migration 0017).
    Index("ix_loans_funder_start", "funder_id", "start_date"),
)

installments = Table(
    "installments", metadata,
    Column("loan_id", ForeignKey("loans.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("due_date", Date, nullable=False, index=True),
    fen_column("principal_fen"),
    fen_column("interest_fen"),
    CheckConstraint("principal_fen >= 0 AND interest_fen >= 0", name="nonnegative"),
)

repayments = Table(
    "repayments", metadata,
    id_column(),
    # Looked up by loan through the unique key below, which begins with it.
    Column("loan_id", ForeignKey("loans.id"), nullable=False),
    Column("installment_number", Integer, nullable=False),
    Column("paid_on", Date, nullable=False, index=True),
    fen_column("principal_fen"),
    fen_column("interest_fen"),
    Column("reference", String(64), nullable=False),
    UniqueConstraint("loan_id", "reference"),
    CheckConstraint("principal_fen >= 0 AND interest_fen >= 0", name="nonnegative"),
)
