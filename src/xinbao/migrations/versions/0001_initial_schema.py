"""Initial schema: catalogue, applications, loans, policies, claims, ledger, events.

The chart of accounts is seeded as it stood at this revision; the ledger and event tables
refuse UPDATE and DELETE through triggers on both SQLite and PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 03:41:52.032090
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name_en', sa.String(length=80), nullable=False),
    sa.Column('name_zh', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_accounts'))
    )
    op.create_table('domain_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('aggregate', sa.String(length=30), nullable=False),
    sa.Column('aggregate_id', sa.BigInteger(), nullable=True),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_domain_events'))
    )
    op.create_table('funders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('licensed', sa.Boolean(), nullable=False),
    sa.Column('commission_rate', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funders')),
    sa.UniqueConstraint('code', name=op.f('uq_funders_code'))
    )
    op.create_table('journal_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('posted_on', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source_command', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['reverses_id'], ['journal_entries.id'], name=op.f('fk_journal_entries_reverses_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_journal_entries_reverses_id')),
    sa.UniqueConstraint('source_command', 'idempotency_key', name=op.f('uq_journal_entries_source_command'))
    )
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_entries_posted_on'), ['posted_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entries_reference'), ['reference'], unique=False)

    op.create_table('products',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('mode', sa.String(length=32), nullable=False),
    sa.Column('family', sa.String(length=32), nullable=False),
    sa.Column('min_amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('max_amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('min_term_months', sa.Integer(), nullable=False),
    sa.Column('max_term_months', sa.Integer(), nullable=False),
    sa.Column('repayment_methods', sa.String(length=200), nullable=False),
    sa.Column('claim_trigger_dpd', sa.Integer(), nullable=False),
    sa.Column('waiting_period_days', sa.Integer(), nullable=False),
    sa.Column('coverage_share', sa.String(length=40), nullable=False),
    sa.Column('premium_basis', sa.String(length=32), nullable=False),
    sa.Column('monthly_premium_rate', sa.String(length=40), nullable=False),
    sa.Column('refund_method', sa.String(length=32), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('code', 'version', name=op.f('pk_products'))
    )
    op.create_table('applications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('funder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('external_ref', sa.String(length=64), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('product_version', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=32), nullable=False),
    sa.Column('borrower_kind', sa.String(length=32), nullable=False),
    sa.Column('borrower_name', sa.String(length=200), nullable=False),
    sa.Column('borrower_id_number', sa.String(length=18), nullable=False),
    sa.Column('borrower_phone', sa.String(length=20), nullable=False),
    sa.Column('borrower_bank_card', sa.String(length=19), nullable=True),
    sa.Column('borrower_birth_date', sa.Date(), nullable=True),
    sa.Column('policyholder', sa.String(length=32), nullable=False),
    sa.Column('insured', sa.String(length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=False),
    sa.Column('annual_rate', sa.String(length=40), nullable=False),
    sa.Column('repayment_method', sa.String(length=32), nullable=False),
    sa.Column('applied_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('reason_codes', sa.String(length=400), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_applications_amount_positive')),
    sa.ForeignKeyConstraint(['funder_id'], ['funders.id'], name=op.f('fk_applications_funder_id_funders')),
    sa.ForeignKeyConstraint(['product_code', 'product_version'], ['products.code', 'products.version'], name=op.f('fk_applications_product_code_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications')),
    sa.UniqueConstraint('funder_id', 'external_ref', name=op.f('uq_applications_funder_id'))
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_borrower_id_number'), ['borrower_id_number'], unique=False)

    op.create_table('journal_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account', sa.String(length=8), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_fen <> 0', name=op.f('ck_journal_lines_nonzero')),
    sa.ForeignKeyConstraint(['account'], ['accounts.code'], name=op.f('fk_journal_lines_account_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_journal_lines_entry_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_lines'))
    )
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_lines_entry_id'), ['entry_id'], unique=False)

    op.create_table('loans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('funder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contract_no', sa.String(length=64), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('annual_rate', sa.String(length=40), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.CheckConstraint('principal_fen > 0', name=op.f('ck_loans_principal_positive')),
    sa.ForeignKeyConstraint(['funder_id'], ['funders.id'], name=op.f('fk_loans_funder_id_funders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loans')),
    sa.UniqueConstraint('funder_id', 'contract_no', name=op.f('uq_loans_funder_id'))
    )
    op.create_table('installments',
    sa.Column('loan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('interest_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('principal_fen >= 0 AND interest_fen >= 0', name=op.f('ck_installments_nonnegative')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_installments_loan_id_loans')),
    sa.PrimaryKeyConstraint('loan_id', 'number', name=op.f('pk_installments'))
    )
    op.create_table('policies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('product_code', sa.String(length=40), nullable=False),
    sa.Column('product_version', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=32), nullable=False),
    sa.Column('funder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('borrower_id_number', sa.String(length=18), nullable=False),
    sa.Column('policyholder', sa.String(length=32), nullable=False),
    sa.Column('insured', sa.String(length=32), nullable=False),
    sa.Column('sum_insured_fen', sa.BigInteger(), nullable=False),
    sa.Column('coverage_share', sa.String(length=40), nullable=False),
    sa.Column('premium_basis', sa.String(length=32), nullable=False),
    sa.Column('monthly_premium_rate', sa.String(length=40), nullable=False),
    sa.Column('refund_method', sa.String(length=32), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=False),
    sa.Column('single_premium_fen', sa.BigInteger(), nullable=False),
    sa.Column('installment_premium_fen', sa.BigInteger(), nullable=False),
    sa.Column('quoted_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('loan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('earned_fen', sa.BigInteger(), nullable=False),
    sa.Column('installments_written', sa.Integer(), nullable=False),
    sa.Column('refunded_fen', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_policies_application_id_applications')),
    sa.ForeignKeyConstraint(['funder_id'], ['funders.id'], name=op.f('fk_policies_funder_id_funders')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_policies_loan_id_loans')),
    sa.ForeignKeyConstraint(['product_code', 'product_version'], ['products.code', 'products.version'], name=op.f('fk_policies_product_code_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies')),
    sa.UniqueConstraint('application_id', name=op.f('uq_policies_application_id')),
    sa.UniqueConstraint('loan_id', name=op.f('uq_policies_loan_id'))
    )
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policies_status'), ['status'], unique=False)

    op.create_table('repayments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('loan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('installment_number', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('interest_fen', sa.BigInteger(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.CheckConstraint('principal_fen >= 0 AND interest_fen >= 0', name=op.f('ck_repayments_nonnegative')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_repayments_loan_id_loans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repayments')),
    sa.UniqueConstraint('loan_id', 'reference', name=op.f('uq_repayments_loan_id'))
    )
    with op.batch_alter_table('repayments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repayments_loan_id'), ['loan_id'], unique=False)

    op.create_table('claims',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('loan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('days_past_due', sa.Integer(), nullable=False),
    sa.Column('principal_fen', sa.BigInteger(), nullable=False),
    sa.Column('interest_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reason_codes', sa.String(length=400), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('recovered_fen', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_fen >= 0 AND recovered_fen >= 0', name=op.f('ck_claims_nonnegative')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_claims_loan_id_loans')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_claims_policy_id_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claims'))
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claims_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_status'), ['status'], unique=False)

    op.create_table('recoveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('claim_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_recoveries_amount_positive')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_recoveries_claim_id_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recoveries')),
    sa.UniqueConstraint('claim_id', 'reference', name=op.f('uq_recoveries_claim_id'))
    )


    _seed_accounts()
    _append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table('recoveries')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claims_status'))
        batch_op.drop_index(batch_op.f('ix_claims_policy_id'))

    op.drop_table('claims')
    with op.batch_alter_table('repayments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repayments_loan_id'))

    op.drop_table('repayments')
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policies_status'))

    op.drop_table('policies')
    op.drop_table('installments')
    op.drop_table('loans')
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_lines_entry_id'))

    op.drop_table('journal_lines')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_borrower_id_number'))

    op.drop_table('applications')
    op.drop_table('products')
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entries_reference'))
        batch_op.drop_index(batch_op.f('ix_journal_entries_posted_on'))

    op.drop_table('journal_entries')
    op.drop_table('funders')
    op.drop_table('domain_events')
    op.drop_table('accounts')


_CHART = [
    ("1002", "Bank", "银行存款", "asset"),
    ("1122", "Premium receivable", "应收保费", "asset"),
    ("2221", "Commission payable", "应付手续费及佣金", "liability"),
    ("2601", "Unearned premium reserve", "未到期责任准备金", "liability"),
    ("2602", "Claim reserve", "未决赔款准备金", "liability"),
    ("4001", "Paid-in capital", "实收资本", "equity"),
    ("6031", "Written premium", "保费收入", "income"),
    ("6421", "Commission expense", "手续费及佣金支出", "expense"),
    ("6501", "Change in unearned premium reserve", "提取未到期责任准备金", "expense"),
    ("6502", "Change in claim reserve", "提取未决赔款准备金", "expense"),
    ("6511", "Claims paid", "赔付支出", "expense"),
    ("6513", "Recoveries", "追偿款收入", "expense"),
]

_APPEND_ONLY = ("journal_entries", "journal_lines", "domain_events")


def _seed_accounts() -> None:
    accounts = sa.table("accounts", sa.column("code"), sa.column("name_en"),
                        sa.column("name_zh"), sa.column("type"))
    op.bulk_insert(accounts, [dict(zip(("code", "name_en", "name_zh", "type"), row, strict=True))
                              for row in _CHART])


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION xinbao_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
            END $$ LANGUAGE plpgsql
        """)
        for table in _APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION xinbao_refuse_change()")
    else:
        for table in _APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON "
                           f"{table} BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                           f"{action} refused'); END")


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION xinbao_refuse_change()")
    else:
        for table in _APPEND_ONLY:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{action}")
