"""Issue 22: claim anti-fraud. A claim keeps the referral codes of its last assessment (a
referred claim goes to a person, never paid automatically), and each assessment its
referrals with their evidence. Claims stored earlier were never screened: none. Loans are
indexed by funder and start date: the screen counts a funder's loans of one month.

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_loans_funder_start", "loans", ["funder_id", "start_date"])
    with op.batch_alter_table("claims") as batch_op:
        batch_op.add_column(sa.Column("referrals", sa.String(length=200), nullable=False,
                                      server_default=""))
    with op.batch_alter_table("claim_assessments") as batch_op:
        batch_op.add_column(sa.Column("referrals", sa.JSON(), nullable=False,
                                      server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("claim_assessments") as batch_op:
        batch_op.drop_column("referrals")
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_column("referrals")
    op.drop_index("ix_loans_funder_start", table_name="loans")
