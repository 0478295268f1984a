"""The bureau behind each decision: ``decisions.bureau_source``.

Each decision names the credit bureau adapter whose answer it read, as the adapter declares
itself (``name/version``; ``XINBAO_BUREAU``, docs/BUREAU.md). Until this revision the
composition root always wired the simulated bureau, so the decisions already stored were
answered by it: they are given ``simulated/1``.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BEFORE = "simulated/1"


def upgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bureau_source', sa.String(length=120), nullable=True))
    op.get_bind().execute(sa.text("UPDATE decisions SET bureau_source = :before"),
                          {"before": _BEFORE})
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.alter_column('bureau_source', existing_type=sa.String(length=120),
                              nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_column('bureau_source')
