"""Loan servicing state for set-based batches.

``loans.first_unpaid_due_date`` is the due date of the earliest installment not fully paid
(NULL once all are), kept by the repayment use cases so that the end-of-day batch reads days
past due from one indexed column; installments are indexed by due date.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BACKFILL = """
UPDATE loans SET first_unpaid_due_date = (
    SELECT MIN(i.due_date) FROM installments i
    WHERE i.loan_id = loans.id AND (
        i.principal_fen > COALESCE((SELECT SUM(r.principal_fen) FROM repayments r
                                    WHERE r.loan_id = i.loan_id
                                    AND r.installment_number = i.number), 0)
        OR i.interest_fen > COALESCE((SELECT SUM(r.interest_fen) FROM repayments r
                                      WHERE r.loan_id = i.loan_id
                                      AND r.installment_number = i.number), 0)))
"""


def upgrade() -> None:
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_unpaid_due_date", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_loans_first_unpaid_due_date"),
                              ["first_unpaid_due_date"], unique=False)
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_installments_due_date"), ["due_date"],
                              unique=False)
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_installments_due_date"))
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loans_first_unpaid_due_date"))
        batch_op.drop_column("first_unpaid_due_date")
