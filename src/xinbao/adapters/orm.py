"""The relational schema, as SQLAlchemy Core tables.

Money columns are BIGINT fen; rates are exact decimal text; enums are their string values.
Alembic migrations (``migrations/``) create exactly this schema; a test compares the two.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
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


def _id() -> Column[int]:
    return Column("id", IdType, primary_key=True, autoincrement=True)


def _fen(name: str, **kw: Any) -> Column[int]:
    return Column(name, BigInteger, nullable=kw.pop("nullable", False), **kw)


def _enum(name: str, length: int = 32, **kw: Any) -> Column[str]:
    return Column(name, String(length), nullable=kw.pop("nullable", False), **kw)


products = Table(
    "products", metadata,
    Column("code", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    _enum("mode"),
    _enum("family"),
    _fen("min_amount_fen"),
    _fen("max_amount_fen"),
    Column("min_term_months", Integer, nullable=False),
    Column("max_term_months", Integer, nullable=False),
    Column("repayment_methods", String(200), nullable=False),
    Column("claim_trigger_dpd", Integer, nullable=False),
    Column("waiting_period_days", Integer, nullable=False),
    Column("coverage_share", DecimalText(), nullable=False),
    _enum("premium_basis"),
    Column("monthly_premium_rate", DecimalText(), nullable=False),
    _enum("refund_method"),
    Column("effective_from", Date, nullable=False),
)

funders = Table(
    "funders", metadata,
    _id(),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("credit_code", String(18), nullable=False),
    _enum("kind"),
    Column("licensed", Boolean, nullable=False),
    Column("commission_rate", DecimalText(), nullable=False),
    Column("products", String(400), nullable=False, server_default=""),  # agreed, comma-joined
)

applications = Table(
    "applications", metadata,
    _id(),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("external_ref", String(64), nullable=False),
    Column("product_code", String(40), nullable=False),
    Column("product_version", Integer, nullable=False),
    _enum("mode"),
    _enum("borrower_kind"),
    # Personal data is encrypted at rest (adapters.crypto.PiiCipher); the ID number is found
    # by its keyed blind index, never by its text.
    Column("borrower_name", Text, nullable=False),
    Column("borrower_id_number", Text, nullable=False),
    Column("borrower_id_index", String(64), nullable=False, index=True),
    Column("borrower_phone", Text, nullable=False),
    Column("borrower_bank_card", Text),
    Column("borrower_birth_date", Date),
    _enum("policyholder"),
    _enum("insured"),
    _fen("amount_fen"),
    Column("term_months", Integer, nullable=False),
    Column("annual_rate", DecimalText(), nullable=False),
    _enum("repayment_method"),
    Column("applied_on", Date, nullable=False),
    _enum("status"),
    Column("decided_on", Date),
    Column("reason_codes", String(400), nullable=False, default=""),
    Column("anonymized_on", Date),  # personal data replaced after the retention period
    # Declared profile (0005). Device, address and employer are personal data: encrypted,
    # with keyed blind indexes (as for phone and card) so anti-fraud can match them.
    _fen("monthly_income_fen", nullable=True),
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
)

loans = Table(
    "loans", metadata,
    _id(),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("contract_no", String(64), nullable=False),
    _fen("principal_fen"),
    Column("annual_rate", DecimalText(), nullable=False),
    Column("term_months", Integer, nullable=False),
    _enum("method"),
    Column("start_date", Date, nullable=False),
    _enum("status"),
    Column("first_unpaid_due_date", Date, index=True),
    UniqueConstraint("funder_id", "contract_no"),
    CheckConstraint("principal_fen > 0", name="principal_positive"),
)

installments = Table(
    "installments", metadata,
    Column("loan_id", ForeignKey("loans.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("due_date", Date, nullable=False, index=True),
    _fen("principal_fen"),
    _fen("interest_fen"),
    CheckConstraint("principal_fen >= 0 AND interest_fen >= 0", name="nonnegative"),
)

repayments = Table(
    "repayments", metadata,
    _id(),
    Column("loan_id", ForeignKey("loans.id"), nullable=False, index=True),
    Column("installment_number", Integer, nullable=False),
    Column("paid_on", Date, nullable=False),
    _fen("principal_fen"),
    _fen("interest_fen"),
    Column("reference", String(64), nullable=False),
    UniqueConstraint("loan_id", "reference"),
    CheckConstraint("principal_fen >= 0 AND interest_fen >= 0", name="nonnegative"),
)

policies = Table(
    "policies", metadata,
    _id(),
    Column("application_id", ForeignKey("applications.id"), nullable=False, unique=True),
    Column("product_code", String(40), nullable=False),
    Column("product_version", Integer, nullable=False),
    _enum("mode"),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("borrower_id_number", Text, nullable=False),  # encrypted
    _enum("policyholder"),
    _enum("insured"),
    _fen("sum_insured_fen"),
    Column("coverage_share", DecimalText(), nullable=False),
    _enum("premium_basis"),
    Column("monthly_premium_rate", DecimalText(), nullable=False),
    _enum("refund_method"),
    Column("term_months", Integer, nullable=False),
    _fen("single_premium_fen"),
    _fen("installment_premium_fen"),
    Column("quoted_on", Date, nullable=False),
    _enum("status", index=True),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("issued_on", Date),
    Column("loan_id", ForeignKey("loans.id"), unique=True),
    _fen("earned_fen"),
    Column("installments_written", Integer, nullable=False),
    _fen("refunded_fen"),
    ForeignKeyConstraint(["product_code", "product_version"],
                         ["products.code", "products.version"]),
)

claims = Table(
    "claims", metadata,
    _id(),
    Column("policy_id", ForeignKey("policies.id"), nullable=False, index=True),
    Column("loan_id", ForeignKey("loans.id"), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    _fen("principal_fen"),
    _fen("interest_fen"),
    _fen("amount_fen"),
    _enum("status", index=True),
    Column("reason_codes", String(400), nullable=False),
    Column("paid_on", Date),
    _fen("recovered_fen"),
    CheckConstraint("amount_fen >= 0 AND recovered_fen >= 0", name="nonnegative"),
)

recoveries = Table(
    "recoveries", metadata,
    _id(),
    Column("claim_id", ForeignKey("claims.id"), nullable=False),
    Column("received_on", Date, nullable=False),
    _fen("amount_fen"),
    Column("source", String(40), nullable=False),
    Column("reference", String(64), nullable=False),
    UniqueConstraint("claim_id", "reference"),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)

accounts = Table(
    "accounts", metadata,
    Column("code", String(8), primary_key=True),
    Column("name_en", String(80), nullable=False),
    Column("name_zh", String(40), nullable=False),
    _enum("type", 16),
)

journal_entries = Table(
    "journal_entries", metadata,
    _id(),
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
    _id(),
    Column("entry_id", ForeignKey("journal_entries.id"), nullable=False, index=True),
    Column("account", ForeignKey("accounts.code"), nullable=False),
    _fen("amount_fen"),
    CheckConstraint("amount_fen <> 0", name="nonzero"),
)

#: The audit trail: every domain event and security event, hash-chained (domain.audit).
domain_events = Table(
    "domain_events", metadata,
    _id(),
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

users = Table(
    "users", metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("roles", String(400), nullable=False),
    Column("funder_id", ForeignKey("funders.id")),
    Column("active", Boolean, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("password_changed_at", DateTime, nullable=False),
)

user_sessions = Table(
    "user_sessions", metadata,
    _id(),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked", Boolean, nullable=False),
)

api_clients = Table(
    "api_clients", metadata,
    _id(),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("funder_id", ForeignKey("funders.id")),
    Column("roles", String(400), nullable=False),
    Column("secret_hash", String(200), nullable=False),
    Column("previous_secret_hash", String(200)),
    Column("previous_valid_until", DateTime),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("rotated_at", DateTime),
)

#: Answers already given to requests with an Idempotency-Key, per caller.
idempotency_keys = Table(
    "idempotency_keys", metadata,
    _id(),
    Column("scope", String(120), nullable=False),  # the caller (actor)
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("scope", "key"),
)

#: Tables whose rows are never updated or deleted (enforced by database triggers).
APPEND_ONLY = ("journal_entries", "journal_lines", "domain_events")


decisions = Table(
    "decisions", metadata,
    Column("application_id", ForeignKey("applications.id"), primary_key=True),
    _enum("outcome", 20, index=True),
    Column("decided_on", Date, nullable=False),
    Column("decided_by", String(120), nullable=False),
    Column("reason_codes", String(1000), nullable=False),
    _fen("requested_fen"),
    _fen("approved_fen"),
    Column("annual_premium_rate", DecimalText()),
    Column("monthly_premium_rate", DecimalText()),
    Column("pd", DecimalText()),
    Column("score", Integer),
    Column("model", String(120), nullable=False),
    Column("rule_set_version", String(40), nullable=False),
    Column("params_version", String(40), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("reviews", JSON, nullable=False),
    Column("final", Boolean, nullable=False, index=True),
)

# Portfolio and regulatory limits as counters of retained liability (domain/exposure.py).
risk_counters = Table(
    "risk_counters", metadata,
    Column("dimension", String(20), primary_key=True),
    Column("key", String(80), primary_key=True),
    _fen("cap_fen"),
    _fen("used_fen"),
    _fen("basis_fen"),  # the net assets the cap was set from
    Column("updated_on", Date, nullable=False),
)

blacklist = Table(
    "blacklist", metadata,
    _id(),
    Column("field", String(20), nullable=False),
    Column("value_index", String(64), nullable=False),  # keyed blind index, never the value
    Column("reason", Text, nullable=False),
    Column("added_on", Date, nullable=False),
    Column("added_by", String(120), nullable=False),
    Column("active", Boolean, nullable=False),
    UniqueConstraint("field", "value_index"),
)
