"""The console's list of applications (issue 20): an index for each column it sorts by,
with the id that breaks ties, so that a page deep in 20,000 applications reads an index
rather than sorting the table.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INDEXES = {"ix_applications_status_id": ["status", "id"],
            "ix_applications_applied_on_id": ["applied_on", "id"],
            "ix_applications_amount_fen_id": ["amount_fen", "id"]}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "applications", columns, unique=False)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="applications")
