"""Issue 23: the sum insured is the principal and the interest covered (保险金额, the limit
of liability), no longer the principal alone. ``policies.sum_insured_fen`` becomes
``principal_insured_fen`` (what the premium rate applies to) and ``interest_insured_fen``
keeps the scheduled interest the cover includes, filled for the policies issued before from
their loan's schedule as it stands (a loan restructured without the insurer's consent then
counts its new schedule's interest: its claims fail the as-insured check either way).

Revision ID: 0027
Revises: 0026
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE policies RENAME COLUMN sum_insured_fen TO principal_insured_fen")
    op.add_column("policies", sa.Column("interest_insured_fen", sa.BigInteger(),
                                        nullable=False, server_default="0"))
    op.execute("UPDATE policies SET interest_insured_fen = (SELECT COALESCE(SUM(i.interest_fen), 0)"
               " FROM installments i WHERE i.loan_id = policies.loan_id)"
               " WHERE loan_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch_op:
        batch_op.drop_column("interest_insured_fen")
    op.execute("ALTER TABLE policies RENAME COLUMN principal_insured_fen TO sum_insured_fen")
