"""Issue 22: what a claim pays is limited by the policy's sum insured (each assessment keeps its
``limit_fen``; those before take their policy's), and a paid claim hands its recovery right
to collection (``recovery_rights``: one per paid claim, created here for claims paid before,
open unless the claim is closed).

Revision ID: 0019
Revises: 0018
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("claim_assessments", sa.Column("limit_fen", sa.BigInteger(), nullable=False,
                                                 server_default="0"))
    op.execute("UPDATE claim_assessments SET limit_fen = (SELECT p.sum_insured_fen FROM claims c"
               " JOIN policies p ON p.id = c.policy_id WHERE c.id = claim_assessments.claim_id)")
    op.create_table(
        "recovery_rights",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("claim_id", _ID, nullable=False),
        sa.Column("policy_id", _ID, nullable=False),
        sa.Column("loan_id", _ID, nullable=False),
        sa.Column("funder_id", _ID, nullable=False),
        sa.Column("application_id", _ID, nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_recovery_rights_amount_positive")),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.id"],
                                name=op.f("fk_recovery_rights_claim_id_claims")),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"],
                                name=op.f("fk_recovery_rights_policy_id_policies")),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"],
                                name=op.f("fk_recovery_rights_loan_id_loans")),
        sa.ForeignKeyConstraint(["funder_id"], ["funders.id"],
                                name=op.f("fk_recovery_rights_funder_id_funders")),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_recovery_rights_application_id_applications")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_rights")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_recovery_rights_claim_id")),
    )
    op.create_index(op.f("ix_recovery_rights_status"), "recovery_rights", ["status"])
    # Claims paid before: their rights, from the claim's figures as paid.
    op.execute(
        "INSERT INTO recovery_rights (claim_id, policy_id, loan_id, funder_id, application_id,"
        " opened_on, amount_fen, principal_fen, interest_fen, penalty_fen, status, closed_on)"
        " SELECT c.id, c.policy_id, c.loan_id, p.funder_id, p.application_id, c.paid_on,"
        " c.amount_fen, c.principal_fen, c.interest_fen, c.penalty_fen,"
        " CASE WHEN c.status = 'closed' THEN 'closed' ELSE 'open' END,"
        " CASE WHEN c.status = 'closed' THEN c.paid_on END"
        " FROM claims c JOIN policies p ON p.id = c.policy_id"
        " WHERE c.paid_on IS NOT NULL AND c.amount_fen > 0 ORDER BY c.id")


def downgrade() -> None:
    op.drop_index(op.f("ix_recovery_rights_status"), table_name="recovery_rights")
    op.drop_table("recovery_rights")
    with op.batch_alter_table("claim_assessments") as batch_op:
        batch_op.drop_column("limit_fen")
