"""Risk approval: the declared profile, collateral and evidence on applications; decisions;
portfolio-limit counters; the anti-fraud blacklist.

- ``applications`` gains the borrower's declared income, employment and industry, the device,
  address and employer (encrypted, with keyed blind indexes), blind indexes of the phone and
  bank card for velocity and ring checks, the province (``region``), the collateral offered
  and the evidence references (SHA-256). Rows stored earlier get their phone and card indexes
  and their province here, with the cipher handed over by ``migrate.upgrade``.
- ``decisions`` keeps each decision with its inputs, reasons, price and limit.
- ``risk_counters`` holds the retained liability used and allowed under each portfolio and
  regulatory limit; ``blacklist`` the anti-fraud lists (blind indexes only).

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_INDEXED = ("phone_index", "card_index", "device_index", "address_index", "employer_index")


def upgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('monthly_income_fen', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('employment', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('industry', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('device_id', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('address', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('employer', sa.Text(), nullable=True))
        for name in _INDEXED:
            batch_op.add_column(sa.Column(name, sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('region', sa.String(length=2), server_default='00',
                                      nullable=False))
        batch_op.add_column(sa.Column('collateral', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('evidence', sa.JSON(), server_default='[]',
                                      nullable=False))
        for name in _INDEXED:
            batch_op.create_index(batch_op.f(f'ix_applications_{name}'), [name], unique=False)
    _index_stored_applications()
    op.create_table(
        'decisions',
        sa.Column('application_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('decided_by', sa.String(length=120), nullable=False),
        sa.Column('reason_codes', sa.String(length=1000), nullable=False),
        sa.Column('requested_fen', sa.BigInteger(), nullable=False),
        sa.Column('approved_fen', sa.BigInteger(), nullable=False),
        sa.Column('annual_premium_rate', sa.String(length=40), nullable=True),
        sa.Column('monthly_premium_rate', sa.String(length=40), nullable=True),
        sa.Column('pd', sa.String(length=40), nullable=True),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('model', sa.String(length=120), nullable=False),
        sa.Column('rule_set_version', sa.String(length=40), nullable=False),
        sa.Column('params_version', sa.String(length=40), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('reviews', sa.JSON(), nullable=False),
        sa.Column('final', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_decisions_application_id_applications')),
        sa.PrimaryKeyConstraint('application_id', name=op.f('pk_decisions')),
    )
    op.create_index(op.f('ix_decisions_outcome'), 'decisions', ['outcome'], unique=False)
    op.create_index(op.f('ix_decisions_final'), 'decisions', ['final'], unique=False)
    op.create_table(
        'risk_counters',
        sa.Column('dimension', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('cap_fen', sa.BigInteger(), nullable=False),
        sa.Column('used_fen', sa.BigInteger(), nullable=False),
        sa.Column('basis_fen', sa.BigInteger(), nullable=False),
        sa.Column('updated_on', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('dimension', 'key', name=op.f('pk_risk_counters')),
    )
    op.create_table(
        'blacklist',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('field', sa.String(length=20), nullable=False),
        sa.Column('value_index', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('added_on', sa.Date(), nullable=False),
        sa.Column('added_by', sa.String(length=120), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_blacklist')),
        sa.UniqueConstraint('field', 'value_index', name=op.f('uq_blacklist_field')),
    )


def _index_stored_applications() -> None:
    bind = op.get_bind()
    apps = sa.table("applications", sa.column("id"), sa.column("borrower_kind"),
                    sa.column("borrower_id_number"), sa.column("borrower_phone"),
                    sa.column("borrower_bank_card"), sa.column("phone_index"),
                    sa.column("card_index"), sa.column("region"))
    rows = bind.execute(sa.select(apps)).all()
    if not rows:
        return
    cipher = op.get_context().config.attributes.get("pii_cipher")
    if cipher is None:
        raise RuntimeError("migration 0005 indexes stored phones and cards and needs the PII "
                           "keys: run it with `xinbao db upgrade`, not the alembic command")
    updates = []
    for r in rows:
        number = cipher.decrypt(r.borrower_id_number, field="borrower_id_number")
        code = number[2:4] if r.borrower_kind == "enterprise" else number[:2]
        updates.append({
            "b_id": r.id, "b_region": code if code.isdigit() else "00",
            "b_phone": cipher.blind_index(cipher.decrypt(r.borrower_phone,
                                                         field="borrower_phone"),
                                          field="borrower_phone"),
            "b_card": cipher.blind_index(cipher.decrypt(r.borrower_bank_card,
                                                        field="borrower_bank_card"),
                                         field="borrower_bank_card")})
    bind.execute(sa.update(apps).where(apps.c.id == sa.bindparam("b_id")).values(
        region=sa.bindparam("b_region"), phone_index=sa.bindparam("b_phone"),
        card_index=sa.bindparam("b_card")), updates)


def downgrade() -> None:
    op.drop_table('blacklist')
    op.drop_table('risk_counters')
    op.drop_index(op.f('ix_decisions_final'), table_name='decisions')
    op.drop_index(op.f('ix_decisions_outcome'), table_name='decisions')
    op.drop_table('decisions')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        for name in _INDEXED:
            batch_op.drop_index(batch_op.f(f'ix_applications_{name}'))
        for name in ('evidence', 'collateral', 'region', *_INDEXED, 'employer', 'address',
                     'device_id', 'industry', 'employment', 'monthly_income_fen'):
            batch_op.drop_column(name)
