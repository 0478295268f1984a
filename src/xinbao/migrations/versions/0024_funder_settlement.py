"""Issue 23: premium settlement with funders.

- A journal line may name its counterparty (``journal_lines.party``, 辅助核算; empty for the
  lines before and most after): a funder's commission payable and premium held carry it.
- The chart gains 1221 Premium held by funders (应收代收保费).
- An agreement says who collects the premium (``premium_collector``: the insurer, as every
  agreement before, or the funder), and the funder keeps its newest agreement's choice.
- ``funder_statements``: each funder's premium settlement statements, settled once per
  funder and cycle by one bank transaction.

Revision ID: 0024
Revises: 0023
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN: the append-only triggers on journal lines and agreements stay.
    op.add_column("journal_lines", sa.Column("party", sa.String(length=60), nullable=False,
                                             server_default=""))
    op.create_index(op.f("ix_journal_lines_party"), "journal_lines", ["party"], unique=False)
    for table in ("funders", "funder_agreements"):
        op.add_column(table, sa.Column("premium_collector", sa.String(length=16),
                                       nullable=False, server_default="insurer"))
    accounts = sa.table("accounts", sa.column("code"), sa.column("name_en"),
                        sa.column("name_zh"), sa.column("type"))
    op.bulk_insert(accounts, [{"code": "1221", "name_en": "Premium held by funders",
                               "name_zh": "应收代收保费", "type": "asset"}])
    op.create_table(
        "funder_statements",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("funder_id", _ID, nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("cycle_from", sa.Date(), nullable=False),
        sa.Column("cycle_to", sa.Date(), nullable=False),
        sa.Column("premium_collector", sa.String(length=16), nullable=False),
        sa.Column("premium_held_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunds_fen", sa.BigInteger(), nullable=False),
        sa.Column("commission_fen", sa.BigInteger(), nullable=False),
        sa.Column("clawback_fen", sa.BigInteger(), nullable=False),
        sa.Column("claims_paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=False),
        sa.Column("bank_reference", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["funder_id"], ["funders.id"],
                                name=op.f("fk_funder_statements_funder_id_funders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funder_statements")),
        sa.UniqueConstraint("bank_reference",
                            name=op.f("uq_funder_statements_bank_reference")),
        sa.UniqueConstraint("funder_id", "cycle_to",
                            name=op.f("uq_funder_statements_funder_id")),
        sa.UniqueConstraint("number", name=op.f("uq_funder_statements_number")),
    )


def downgrade() -> None:
    op.drop_table("funder_statements")
    op.execute("DELETE FROM accounts WHERE code = '1221'")
    # Plain DROP COLUMN (SQLite 3.35 and later too): rebuilding the tables would lose their
    # append-only triggers.
    for table in ("funder_agreements", "funders"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN premium_collector")
    op.drop_index(op.f("ix_journal_lines_party"), table_name="journal_lines")
    op.execute("ALTER TABLE journal_lines DROP COLUMN party")
