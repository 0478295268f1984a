"""Issue 23: a policy keeps the installment premium collected on it (with repayments, or
netted against a claim), so that its premium receivable is its own: written less collected.
Policies before count what they have written as collected (the files did not say per policy,
and nothing is netted or lapses on a premium that may have been paid).

Revision ID: 0025
Revises: 0024
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("policies", sa.Column("installments_collected_fen", sa.BigInteger(),
                                        nullable=False, server_default="0"))
    op.execute("UPDATE policies SET installments_collected_fen = earlier_installments_fen "
               "+ installment_premium_fen * (installments_written - earlier_installments)")


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch_op:
        batch_op.drop_column("installments_collected_fen")
