"""Runs of a day's batch: ``batch_runs`` counts the runs of each batch per business day, and
its row is the first thing a run writes, so that concurrent runs of one day take turns (the
second finds the first's work done and posts nothing more).

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", "business_date", name=op.f("pk_batch_runs")),
    )


def downgrade() -> None:
    op.drop_table("batch_runs")
