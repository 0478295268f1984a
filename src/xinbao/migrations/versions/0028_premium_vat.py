"""Issue 23: VAT on premium. A policy keeps the VAT rate of its quote (``vat_rate``), the VAT
on each installment premium at today's premium (``installment_vat_fen``) and on those
written at an earlier one (``earlier_installments_vat_fen``); the chart gains 222101 Output
VAT on premium (应交税费—应交增值税（销项税额）). Policies quoted before carry no VAT: their
premium was booked without it, and their refunds reverse none.

Revision ID: 0028
Revises: 0027
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("policies", sa.Column("vat_rate", sa.String(length=40), nullable=False,
                                        server_default="0"))
    for name in ("installment_vat_fen", "earlier_installments_vat_fen"):
        op.add_column("policies", sa.Column(name, sa.BigInteger(), nullable=False,
                                            server_default="0"))
    # Unless a downgrade kept it (its lines stay: the ledger is append-only).
    op.execute("INSERT INTO accounts (code, name_en, name_zh, type) SELECT '222101', "
               "'Output VAT on premium', '应交税费—应交增值税（销项税额）', 'liability' "
               "WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE code = '222101')")


def downgrade() -> None:
    # The account goes only if nothing was posted to it: journal lines are never deleted.
    op.execute("DELETE FROM accounts WHERE code = '222101' AND NOT EXISTS "
               "(SELECT 1 FROM journal_lines WHERE account = '222101')")
    with op.batch_alter_table("policies") as batch_op:
        for name in ("earlier_installments_vat_fen", "installment_vat_fen", "vat_rate"):
            batch_op.drop_column(name)
