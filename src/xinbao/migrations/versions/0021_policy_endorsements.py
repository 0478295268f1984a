"""Issue 23: a policy's endorsements (批改). Each makes a new version of the policy
(``policies.version``, 1 for every policy before) and is kept once per policy and version
(``policy_endorsements``: its kind, the day it takes effect, why, the refund and the
commission clawed back, and what else it changed).

Revision ID: 0021
Revises: 0020
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("policies", sa.Column("version", sa.Integer(), nullable=False,
                                        server_default="1"))
    op.create_table(
        "policy_endorsements",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("policy_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("commission_clawback_fen", sa.BigInteger(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"],
                                name=op.f("fk_policy_endorsements_policy_id_policies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_endorsements")),
        sa.UniqueConstraint("policy_id", "version",
                            name=op.f("uq_policy_endorsements_policy_id")),
    )


def downgrade() -> None:
    op.drop_table("policy_endorsements")
    with op.batch_alter_table("policies") as batch_op:
        batch_op.drop_column("version")
