"""Cooperation agreements: the products each funder may sell with cover.

``funders.products`` holds the product codes of the funder's cooperation agreement
(comma-joined); intake refuses an application for a product outside it
(``funder.agreement``). Funders stored before this revision could sell every product, so
they are given the whole catalogue as it stands; narrow their agreements afterwards.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('funders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('products', sa.String(length=400), server_default='',
                                      nullable=False))
    bind = op.get_bind()
    codes = sorted(bind.execute(sa.text("SELECT DISTINCT code FROM products")).scalars())
    if codes:
        bind.execute(sa.text("UPDATE funders SET products = :codes"),
                     {"codes": ",".join(codes)})


def downgrade() -> None:
    with op.batch_alter_table('funders', schema=None) as batch_op:
        batch_op.drop_column('products')
