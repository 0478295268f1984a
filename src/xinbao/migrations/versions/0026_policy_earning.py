"""Issue 23: how a policy's single premium is earned, fixed at issue from its product
(``params/policy.toml``): by time (its refund method) or by exposure (following the loan's
outstanding principal). Policies before earn by time, as they did.

Revision ID: 0026
Revises: 0025
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("policies", sa.Column("earning", sa.String(length=16), nullable=False,
                                        server_default="time"))


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch_op:
        batch_op.drop_column("earning")
