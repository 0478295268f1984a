"""The funder files applied (issue 21): ``feed_files`` keeps each applied file's content hash
per funder and type, with its reconciliation report, so that the same file sent again (under
another name too) has no second effect and answers with the first report.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("funder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("file_type", sa.String(length=24), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["funder_id"], ["funders.id"],
                                name=op.f("fk_feed_files_funder_id_funders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_files")),
        sa.UniqueConstraint("funder_id", "file_type", "content_hash",
                            name=op.f("uq_feed_files_funder_id")),
    )


def downgrade() -> None:
    op.drop_table("feed_files")
