"""Issue 23: endorsements that change the cover, a partial prepayment and a restructuring.

A policy keeps the single premium its last such endorsement left unearned and that day
(``upr_base_fen``, ``upr_base_on``: it runs off from there), the installment premiums written
at an earlier premium per installment (``earlier_installments_fen``, ``earlier_installments``)
and the digest of the schedule it insures (``schedule_sha256``). Policies before have none:
their cover is the contract's.

Revision ID: 0023
Revises: 0022
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policies") as batch_op:
        batch_op.add_column(sa.Column("upr_base_fen", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("upr_base_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("earlier_installments_fen", sa.BigInteger(),
                                      nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("earlier_installments", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("schedule_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch_op:
        for name in ("schedule_sha256", "earlier_installments", "earlier_installments_fen",
                     "upr_base_on", "upr_base_fen"):
            batch_op.drop_column(name)
