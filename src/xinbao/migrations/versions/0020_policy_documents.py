"""Issue 23: each e-policy issued is kept by its SHA-256 (``policy_documents``: the renderer and
wording that made it, the day it was first issued); a policy renders the same bytes each time.

Revision ID: 0020
Revises: 0019
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "policy_documents",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("policy_id", _ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("renderer", sa.String(length=40), nullable=False),
        sa.Column("wording", sa.String(length=40), nullable=False),
        sa.Column("first_issued_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"],
                                name=op.f("fk_policy_documents_policy_id_policies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_documents")),
        sa.UniqueConstraint("policy_id", "sha256", name=op.f("uq_policy_documents_policy_id")),
    )


def downgrade() -> None:
    op.drop_table("policy_documents")
