"""Issue 21: a funder's column names for its files kept on its agreement
(``funder_agreements.feed_mapping``, a term like the others: a new mapping is a new version),
and the classification overrides (``classification_overrides``, append-only: a person sets or
lifts a loan's five-tier class with a reason, the newest row of a loan in force).

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TABLE = "classification_overrides"


def upgrade() -> None:
    op.add_column("funder_agreements", sa.Column("feed_mapping", sa.JSON(), nullable=False,
                                                 server_default="{}"))
    op.create_table(
        _TABLE,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("loan_id", _ID, nullable=False),
        sa.Column("tier", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("set_by", _ID, nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"],
                                name=op.f("fk_classification_overrides_loan_id_loans")),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"],
                                name=op.f("fk_classification_overrides_set_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classification_overrides")),
    )
    op.create_index(op.f("ix_classification_overrides_loan_id"), _TABLE, ["loan_id"])
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
    op.drop_table(_TABLE)
    op.drop_column("funder_agreements", "feed_mapping")
