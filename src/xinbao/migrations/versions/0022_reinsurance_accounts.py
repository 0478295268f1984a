"""Issue 23: the chart of accounts gains the cedant's reinsurance accounts (CAS 26 再保险合同):
what a treaty's periodic account posts — ceded premium and the reinsurance payable, the
reinsurers' shares of the reserves, claims and reserves recovered, the ceding commission.

Revision ID: 0022
Revises: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_ACCOUNTS = [
    ("1211", "Reinsurance receivable", "应收分保账款", "asset"),
    ("1212", "Reinsurance share of unearned premium reserve", "应收分保未到期责任准备金",
     "asset"),
    ("1213", "Reinsurance share of claim reserve", "应收分保未决赔款准备金", "asset"),
    ("2261", "Reinsurance payable", "应付分保账款", "liability"),
    ("6201", "Claim reserve recovered from reinsurers", "摊回保险责任准备金", "income"),
    ("6202", "Claims recovered from reinsurers", "摊回赔付支出", "income"),
    ("6203", "Ceding commission", "摊回分保费用", "income"),
    ("6204", "Unearned premium reserve recovered from reinsurers", "摊回未到期责任准备金",
     "income"),
    ("6541", "Ceded premium", "分出保费", "expense"),
]


def upgrade() -> None:
    accounts = sa.table("accounts", sa.column("code"), sa.column("name_en"),
                        sa.column("name_zh"), sa.column("type"))
    op.bulk_insert(accounts, [dict(zip(("code", "name_en", "name_zh", "type"), row,
                                       strict=True)) for row in _ACCOUNTS])


def downgrade() -> None:
    codes = ", ".join(f"'{code}'" for code, *_ in _ACCOUNTS)
    op.execute(f"DELETE FROM accounts WHERE code IN ({codes})")  # noqa: S608 - constants
