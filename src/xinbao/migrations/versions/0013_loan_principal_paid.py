"""Issue 21: each loan keeps the principal repaid so far (``loans.principal_paid_fen``), moved
with its first unpaid installment whenever repayments are recorded, so the end-of-day batch
reads one row a loan (outstanding principal, days past due) instead of its whole schedule.
Loans stored earlier get the sum of their repayments. Repayments are indexed by the day they
were paid (``ix_repayments_paid_on``): the batch of a day finds the loans with repayments
reported paid after it (a day run again later) without reading every repayment.

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("loans", sa.Column("principal_paid_fen", sa.BigInteger(), nullable=False,
                                     server_default="0"))
    op.execute("UPDATE loans SET principal_paid_fen = COALESCE((SELECT SUM(r.principal_fen) "
               "FROM repayments r WHERE r.loan_id = loans.id), 0)")
    op.create_index(op.f("ix_repayments_paid_on"), "repayments", ["paid_on"])


def downgrade() -> None:
    op.drop_index(op.f("ix_repayments_paid_on"), table_name="repayments")
    op.drop_column("loans", "principal_paid_fen")
