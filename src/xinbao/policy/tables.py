"""Policy table: quotes and policies (see ``platform/tables`` for the types)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from xinbao.platform.tables import DecimalText, enum_column, fen_column, id_column, metadata

policies = Table(
    "policies", metadata,
    id_column(),
    Column("application_id", ForeignKey("applications.id"), nullable=False, unique=True),
    Column("product_code", String(40), nullable=False),
    Column("product_version", Integer, nullable=False),
    enum_column("mode"),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("borrower_id_number", Text, nullable=False),  # encrypted
    enum_column("policyholder"),
    enum_column("insured"),
    fen_column("principal_insured_fen"),
    Column("coverage_share", DecimalText(), nullable=False),
    enum_column("premium_basis"),
    Column("monthly_premium_rate", DecimalText(), nullable=False),
    enum_column("refund_method"),
    Column("term_months", Integer, nullable=False),
    fen_column("single_premium_fen"),
    fen_column("installment_premium_fen"),
    Column("quoted_on", Date, nullable=False),
    enum_column("status", index=True),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("issued_on", Date),
    Column("loan_id", ForeignKey("loans.id"), unique=True),
    fen_column("earned_fen"),
    Column("installments_written", Integer, nullable=False),
    fen_column("refunded_fen"),
    Column("version", Integer, nullable=False, server_default="1"),  # 0021: endorsements
    # 0023: endorsements that change the cover (``Policy.prepay_partly``, ``restructure``)
    fen_column("upr_base_fen", nullable=True),
    Column("upr_base_on", Date),
    fen_column("earlier_installments_fen", server_default="0"),
    Column("earlier_installments", Integer, nullable=False, server_default="0"),
    Column("schedule_sha256", String(64)),
    fen_column("installments_collected_fen", server_default="0"),  # 0025
    Column("earning", String(16), nullable=False, server_default="time"),  # 0026
    fen_column("interest_insured_fen", server_default="0"),  # 0027: the sum insured's interest
    # 0028: VAT on premium
    Column("vat_rate", DecimalText(), nullable=False, server_default="0"),
    fen_column("installment_vat_fen", server_default="0"),
    fen_column("earlier_installments_vat_fen", server_default="0"),
    ForeignKeyConstraint(["product_code", "product_version"],
                         ["products.code", "products.version"]),
)

#: One row per policy's loan: what the end-of-day batch cuts and classifies each insured loan
#: by, copied from the policy and its application whenever the policy is written
#: (``SqlPolicyRepository``), so that the batch reads one narrow table instead of joining
#: policies and applications (each millions of wide rows) every day. ``policy_status`` is
#: the policy's status (which loans still carry risk is the batch's rule, ``batch/sql.py``).
insured_loans = Table(
    "insured_loans", metadata,
    Column("loan_id", ForeignKey("loans.id"), primary_key=True),
    Column("policy_id", ForeignKey("policies.id"), nullable=False, unique=True),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("product_code", String(40), nullable=False),
    Column("region", String(2), nullable=False),
    Column("borrower_id_index", String(64), nullable=False),  # the obligor
    enum_column("borrower_kind"),
    Column("coverage_share", DecimalText(), nullable=False),
    enum_column("policy_status"),
)

#: Each e-policy issued for a policy (issue 23, migration 0020): its SHA-256, the renderer and
#: wording that made it, and the day it was first issued. A policy renders the same bytes each
#: time, so one row each until an endorsement (or a new layout) makes another document.
policy_documents = Table(
    "policy_documents", metadata,
    id_column(),
    Column("policy_id", ForeignKey("policies.id"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("renderer", String(40), nullable=False),
    Column("wording", String(40), nullable=False),
    Column("first_issued_on", Date, nullable=False),
    UniqueConstraint("policy_id", "sha256"),
)

#: Each endorsement of a policy (issue 23, migration 0021): the version it made, its kind,
#: the day it takes effect, why, its money (refund, commission clawed back) and what else it
#: changed (JSON). Once per policy and version.
policy_endorsements = Table(
    "policy_endorsements", metadata,
    id_column(),
    Column("policy_id", ForeignKey("policies.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(30), nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("reason", String(200), nullable=False),
    fen_column("refund_fen"),
    fen_column("commission_clawback_fen"),
    Column("details", JSON, nullable=False),
    UniqueConstraint("policy_id", "version"),
)
