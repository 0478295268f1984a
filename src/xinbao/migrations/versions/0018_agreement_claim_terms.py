"""Issue 22: a funder's agreement carries its claims' terms: a claim notice within so many days
of the trigger date (``claim_notice_days``) and the grace on premium due before a default
(``premium_grace_days``), both checked by liability determination. Versions stored earlier
take the 30 days each that the checks used until now.

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): the table's append-only triggers stay as they are.
    for name in ("claim_notice_days", "premium_grace_days"):
        op.add_column("funder_agreements", sa.Column(name, sa.Integer(), nullable=False,
                                                     server_default="30"))


def downgrade() -> None:
    for name in ("premium_grace_days", "claim_notice_days"):
        op.drop_column("funder_agreements", name)
