"""Issue 21: ``insured_loans``, one narrow row per policy's loan with what the end-of-day
batch cuts and classifies by (funder, product, region, the obligor's blind index and kind,
the insurer's share, the policy's status), written with the policy (``SqlPolicyRepository``).
At ten million loans, joining policies and applications (wide rows: sealed ID numbers,
terms) for these few columns took most of the day's read. Policies issued earlier are copied
in.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "insured_loans",
        sa.Column("loan_id", _ID, nullable=False),
        sa.Column("policy_id", _ID, nullable=False),
        sa.Column("funder_id", _ID, nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("borrower_id_index", sa.String(length=64), nullable=False),
        sa.Column("borrower_kind", sa.String(length=32), nullable=False),
        sa.Column("coverage_share", sa.String(length=40), nullable=False),
        sa.Column("policy_status", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"],
                                name=op.f("fk_insured_loans_loan_id_loans")),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"],
                                name=op.f("fk_insured_loans_policy_id_policies")),
        sa.ForeignKeyConstraint(["funder_id"], ["funders.id"],
                                name=op.f("fk_insured_loans_funder_id_funders")),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_insured_loans")),
        sa.UniqueConstraint("policy_id", name=op.f("uq_insured_loans_policy_id")),
    )
    op.execute(
        "INSERT INTO insured_loans (loan_id, policy_id, funder_id, product_code, region, "
        "borrower_id_index, borrower_kind, coverage_share, policy_status) "
        "SELECT p.loan_id, p.id, p.funder_id, p.product_code, a.region, a.borrower_id_index, "
        "a.borrower_kind, p.coverage_share, p.status "
        "FROM policies p JOIN applications a ON a.id = p.application_id "
        "WHERE p.loan_id IS NOT NULL")


def downgrade() -> None:
    op.drop_table("insured_loans")
