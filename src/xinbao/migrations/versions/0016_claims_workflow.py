"""Issue 22: claims as a workflow. Claims gain their funder, where they came from (the
end-of-day trigger, the funder's notice, claims staff) with the funder's reference (once per
funder), what a partial claim asks, the trigger and decision dates, the amount's penalty and
deductible, the case reserve held, and who approved so far (one claim standing a
policy: a partial unique index, declined claims aside); each run of liability
determination is kept with every check's evidence (``claim_assessments``); a notice's
documents by reference and SHA-256 (``claim_documents``); payment batches per funder and
cycle with their statements (``claim_settlements``, each paid claim naming its batch).

Claims stored earlier: ``open`` (liability accepted, reserved, unpaid) becomes ``approved``
with its reserve, decided the day it opened; declined ones were decided that day too; each
came from the trigger (the only source there was besides a notice, which left no trace).

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "claim_settlements",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("funder_id", _ID, nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("cycle_from", sa.Date(), nullable=False),
        sa.Column("cycle_to", sa.Date(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["funder_id"], ["funders.id"],
                                name=op.f("fk_claim_settlements_funder_id_funders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_settlements")),
        sa.UniqueConstraint("funder_id", "cycle_to",
                            name=op.f("uq_claim_settlements_funder_id")),
        sa.UniqueConstraint("number", name=op.f("uq_claim_settlements_number")),
    )
    with op.batch_alter_table("claims") as batch_op:
        batch_op.add_column(sa.Column("funder_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False,
                                      server_default="trigger"))
        batch_op.add_column(sa.Column("reference", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_fen", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("trigger_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("decided_on", sa.Date(), nullable=True))
        for name in ("penalty_fen", "deductible_fen", "reserve_fen"):
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=False,
                                          server_default="0"))
        batch_op.add_column(sa.Column("approvals", sa.String(length=400), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("settlement_id", _ID, nullable=True))
    op.execute("UPDATE claims SET funder_id = (SELECT p.funder_id FROM policies p "
               "WHERE p.id = claims.policy_id)")
    op.execute("UPDATE claims SET status = 'approved', reserve_fen = amount_fen, "
               "decided_on = opened_on, trigger_on = opened_on WHERE status = 'open'")
    op.execute("UPDATE claims SET decided_on = opened_on, trigger_on = opened_on "
               "WHERE status <> 'approved'")
    with op.batch_alter_table("claims") as batch_op:
        batch_op.alter_column("funder_id", existing_type=_ID, nullable=False)
        batch_op.create_foreign_key(batch_op.f("fk_claims_funder_id_funders"), "funders",
                                    ["funder_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_claims_funder_id"), ["funder_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_claims_settlement_id_claim_settlements"),
                                    "claim_settlements", ["settlement_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_claims_settlement_id"), ["settlement_id"],
                              unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_claims_funder_id"),
                                          ["funder_id", "reference"])
    standing = sa.text("status <> 'declined'")
    op.create_index("uq_claims_standing_policy", "claims", ["policy_id"], unique=True,
                    postgresql_where=standing, sqlite_where=standing)
    op.create_table(
        "claim_assessments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("claim_id", _ID, nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.Column("trigger_on", sa.Date(), nullable=True),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=False),
        sa.Column("share", sa.String(length=40), nullable=False),
        sa.Column("gross_fen", sa.BigInteger(), nullable=False),
        sa.Column("deductible_fen", sa.BigInteger(), nullable=False),
        sa.Column("claimed_fen", sa.BigInteger(), nullable=True),
        sa.Column("payable_fen", sa.BigInteger(), nullable=False),
        sa.Column("difference_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"],
                                name=op.f("fk_claim_assessments_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_assessments")),
    )
    op.create_index(op.f("ix_claim_assessments_claim_id"), "claim_assessments", ["claim_id"])
    op.create_table(
        "claim_documents",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("claim_id", _ID, nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"],
                                name=op.f("fk_claim_documents_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_documents")),
        sa.UniqueConstraint("claim_id", "reference", name=op.f("uq_claim_documents_claim_id")),
    )


def downgrade() -> None:
    op.drop_table("claim_documents")
    op.drop_index(op.f("ix_claim_assessments_claim_id"), table_name="claim_assessments")
    op.drop_index("uq_claims_standing_policy", table_name="claims")
    op.drop_table("claim_assessments")
    op.execute("UPDATE claims SET status = 'open' WHERE status IN ('approved', 'notified', "
               "'under_review')")
    op.execute("UPDATE claims SET status = 'paid' WHERE status = 'recovering'")
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_claims_funder_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_claims_settlement_id"))
        batch_op.drop_constraint(batch_op.f("fk_claims_settlement_id_claim_settlements"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_claims_funder_id"))
        batch_op.drop_constraint(batch_op.f("fk_claims_funder_id_funders"), type_="foreignkey")
        for name in ("settlement_id", "approvals", "reserve_fen", "deductible_fen",
                     "penalty_fen", "decided_on", "trigger_on", "claimed_fen", "reference",
                     "source", "funder_id"):
            batch_op.drop_column(name)
    op.drop_table("claim_settlements")
