"""Claims tables: claims, each run of their liability determination, the documents a notice
came with, recoveries and the recovery rights handed to collection (see ``platform/tables``
for the types)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    text,
)

from xinbao.platform.tables import DecimalText, enum_column, fen_column, id_column, metadata

#: A payment batch: a funder's approved claims paid together, once per funder and cycle end,
#: with the statement sent to the funder (its number, the cycle, the payment date, totals).
claim_settlements = Table(
    "claim_settlements", metadata,
    id_column(),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("number", String(60), nullable=False, unique=True),
    Column("cycle_from", Date, nullable=False),
    Column("cycle_to", Date, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("claims", Integer, nullable=False),
    fen_column("total_fen"),
    UniqueConstraint("funder_id", "cycle_to"),
)

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
    # Issue 22 (migration 0016): where it came from, what the funder asked, the trigger and
    # decision dates, the amount's other parts, the case reserve held, who approved so far.
    Column("funder_id", ForeignKey("funders.id"), nullable=False, index=True),
    enum_column("source", 16),
    Column("reference", String(64)),  # the funder's own, once per funder
    fen_column("claimed_fen", nullable=True),
    Column("trigger_on", Date),
    Column("decided_on", Date),
    fen_column("penalty_fen"),
    fen_column("deductible_fen"),
    fen_column("reserve_fen"),
    Column("approvals", String(400), nullable=False),
    Column("settlement_id", ForeignKey("claim_settlements.id"), index=True),
    Column("referrals", String(200), nullable=False),  # claim anti-fraud's codes (0017)
    UniqueConstraint("funder_id", "reference"),
    CheckConstraint("amount_fen >= 0 AND recovered_fen >= 0", name="nonnegative"),
)

#: A policy has at most one claim that stands (declined ones do not): two notices or a
#: notice and the batch at once cannot both open one.
_STANDING = text("status <> 'declined'")
Index("uq_claims_standing_policy", claims.c.policy_id, unique=True,
      postgresql_where=_STANDING, sqlite_where=_STANDING)

#: Each run of a claim's liability determination: every check with its evidence (JSON:
#: ``claims.model.Check.as_data``) and the amount's breakdown; never changed once written.
claim_assessments = Table(
    "claim_assessments", metadata,
    id_column(),
    Column("claim_id", ForeignKey("claims.id"), nullable=False, index=True),
    Column("assessed_on", Date, nullable=False),
    Column("reason", String(40), nullable=False),  # notice, trigger, recheck, appeal, ...
    Column("covered", Boolean, nullable=False),
    Column("checks", JSON, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("trigger_on", Date),
    fen_column("principal_fen"),
    fen_column("interest_fen"),
    fen_column("penalty_fen"),
    Column("share", DecimalText(), nullable=False),
    fen_column("gross_fen"),
    fen_column("deductible_fen"),
    fen_column("claimed_fen", nullable=True),
    fen_column("payable_fen"),
    fen_column("difference_fen"),  # payable less the claim's amount before this run
    Column("referrals", JSON, nullable=False),  # ``claims.model.Referral.as_data`` (0017)
    # The policy's sum insured, the most payable (0019; earlier runs: their policy's).
    fen_column("limit_fen", server_default="0"),
)

#: The documents a notice came with, by the funder's reference and SHA-256 (the files stay
#: with the funder).
claim_documents = Table(
    "claim_documents", metadata,
    id_column(),
    Column("claim_id", ForeignKey("claims.id"), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    UniqueConstraint("claim_id", "reference"),
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

#: The insurer's right against the obligor after it paid (0019): one per paid claim, for
#: collection to work; closed when the claim's recoveries end.
recovery_rights = Table(
    "recovery_rights", metadata,
    id_column(),
    Column("claim_id", ForeignKey("claims.id"), nullable=False, unique=True),
    Column("policy_id", ForeignKey("policies.id"), nullable=False),
    Column("loan_id", ForeignKey("loans.id"), nullable=False),
    Column("funder_id", ForeignKey("funders.id"), nullable=False),
    Column("application_id", ForeignKey("applications.id"), nullable=False),
    Column("opened_on", Date, nullable=False),
    fen_column("amount_fen"),
    fen_column("principal_fen"),
    fen_column("interest_fen"),
    fen_column("penalty_fen"),
    Column("status", String(20), nullable=False, index=True),
    Column("closed_on", Date),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)
