"""Versioned cooperation agreements: ``funder_agreements`` keeps every version of each
funder's agreement (products, commission, volume share, risk share, settlement cycle, file
format); a version is never changed (UPDATE and DELETE refused by triggers).
``funders.products`` and ``funders.commission_rate`` stay the newest version's terms.

Funders stored earlier get version 1 from their current terms, in force since their first
application (or since the day of this migration if they have none), with no volume share
agreed, no risk share, a 30-day settlement cycle and CSV files.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TABLE = "funder_agreements"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column('funder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('products', sa.String(length=400), nullable=False),
        sa.Column('commission_rate', sa.String(length=40), nullable=False),
        sa.Column('volume_share', sa.String(length=40), nullable=True),
        sa.Column('risk_share', sa.String(length=40), nullable=False),
        sa.Column('settlement_days', sa.Integer(), nullable=False),
        sa.Column('file_format', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['funder_id'], ['funders.id'], name=op.f('fk_funder_agreements_funder_id_funders')),
        sa.PrimaryKeyConstraint('funder_id', 'version', name=op.f('pk_funder_agreements')),
    )
    op.execute(
        f"INSERT INTO {_TABLE} (funder_id, version, effective_from, products, commission_rate, "
        "volume_share, risk_share, settlement_days, file_format) "
        "SELECT f.id, 1, COALESCE((SELECT MIN(a.applied_on) FROM applications a "
        "WHERE a.funder_id = f.id), CURRENT_DATE), f.products, f.commission_rate, NULL, '0', "
        "30, 'csv' FROM funders f")
    if op.get_bind().dialect.name == "postgresql":
        # xinbao_refuse_change() is the ledger's (migration 0001).
        op.execute(f"CREATE TRIGGER {_TABLE}_append_only BEFORE UPDATE OR DELETE ON {_TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION xinbao_refuse_change()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {_TABLE}_no_{action.lower()} BEFORE {action} ON "
                       f"{_TABLE} BEGIN SELECT RAISE(ABORT, '{_TABLE} is append-only: "
                       f"{action} refused'); END")


def downgrade() -> None:
    op.drop_table(_TABLE)  # its triggers go with it
