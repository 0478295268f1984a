"""Issue 21: repayments lose their index on ``loan_id`` alone. The unique key on
(``loan_id``, ``reference``), which makes a repayment count once, begins with the loan and
answers every look-up by loan; the second index only cost each written repayment one more
index entry (about a third of a second a million rows on SQLite).

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("repayments") as batch_op:
        batch_op.drop_index(batch_op.f("ix_repayments_loan_id"))


def downgrade() -> None:
    with op.batch_alter_table("repayments") as batch_op:
        batch_op.create_index(batch_op.f("ix_repayments_loan_id"), ["loan_id"], unique=False)
