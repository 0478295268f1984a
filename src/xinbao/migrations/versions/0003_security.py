"""Security: users, sessions, API clients; personal data encrypted; the audit hash chain.

- ``users``, ``user_sessions`` and ``api_clients`` hold console users (argon2id password
  hashes), their server-side sessions (token hashes only) and funders' API clients.
- Borrowers' names, ID numbers, phones and bank cards become AES-GCM ciphertexts, with a keyed
  blind index for exact-match lookup of the ID number. Rows already stored are encrypted here
  with the cipher handed over by ``migrate.upgrade`` (the configured keys).
- ``domain_events`` becomes the hash-chained audit trail: sequence number, actor, wall-clock
  time, previous hash and hash; rows already stored are chained here (actor
  ``system:migration``). ``audit_head`` keeps the newest sequence number and hash.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from xinbao.kernel.audit import GENESIS, AuditRecord, chain

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'users',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('display_name', sa.String(length=200), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('roles', sa.String(length=400), nullable=False),
        sa.Column('funder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('failed_logins', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('password_changed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['funder_id'], ['funders.id'], name=op.f('fk_users_funder_id_funders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
        sa.UniqueConstraint('username', name=op.f('uq_users_username')),
    )
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('revoked', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash')),
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)
    op.create_table(
        'api_clients',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('funder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('roles', sa.String(length=400), nullable=False),
        sa.Column('secret_hash', sa.String(length=200), nullable=False),
        sa.Column('previous_secret_hash', sa.String(length=200), nullable=True),
        sa.Column('previous_valid_until', sa.DateTime(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('rotated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['funder_id'], ['funders.id'], name=op.f('fk_api_clients_funder_id_funders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients')),
        sa.UniqueConstraint('client_id', name=op.f('uq_api_clients_client_id')),
    )
    op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )
    _encrypt_personal_data()
    _chain_events()


def _cipher():
    cipher = op.get_context().config.attributes.get("pii_cipher")
    if cipher is None:
        raise RuntimeError("migration 0003 encrypts stored personal data and needs the PII "
                           "keys: run it with `xinbao db upgrade`, not the alembic command")
    return cipher


def _encrypt_personal_data() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_borrower_id_number'))
        batch_op.alter_column('borrower_name', type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column('borrower_id_number', type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column('borrower_phone', type_=sa.Text(), existing_nullable=False)
        batch_op.alter_column('borrower_bank_card', type_=sa.Text(), existing_nullable=True)
        batch_op.add_column(sa.Column('borrower_id_index', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('anonymized_on', sa.Date(), nullable=True))
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.alter_column('borrower_id_number', type_=sa.Text(), existing_nullable=False)

    bind = op.get_bind()
    apps = sa.table("applications", sa.column("id"), sa.column("borrower_name"),
                    sa.column("borrower_id_number"), sa.column("borrower_id_index"),
                    sa.column("borrower_phone"), sa.column("borrower_bank_card"))
    rows = bind.execute(sa.select(apps)).all()
    if rows:
        cipher = _cipher()
        bind.execute(sa.update(apps).where(apps.c.id == sa.bindparam("b_id")).values(
            borrower_name=sa.bindparam("b_name"), borrower_id_number=sa.bindparam("b_idn"),
            borrower_id_index=sa.bindparam("b_idx"), borrower_phone=sa.bindparam("b_phone"),
            borrower_bank_card=sa.bindparam("b_card")), [{
                "b_id": r.id,
                "b_name": cipher.encrypt(r.borrower_name, field="borrower_name"),
                "b_idn": cipher.encrypt(r.borrower_id_number, field="borrower_id_number"),
                "b_idx": cipher.blind_index(r.borrower_id_number, field="borrower_id_number"),
                "b_phone": cipher.encrypt(r.borrower_phone, field="borrower_phone"),
                "b_card": cipher.encrypt(r.borrower_bank_card, field="borrower_bank_card"),
            } for r in rows])
    pols = sa.table("policies", sa.column("id"), sa.column("borrower_id_number"))
    rows = bind.execute(sa.select(pols)).all()
    if rows:
        cipher = _cipher()
        bind.execute(sa.update(pols).where(pols.c.id == sa.bindparam("b_id")).values(
            borrower_id_number=sa.bindparam("b_idn")), [{
                "b_id": r.id,
                "b_idn": cipher.encrypt(r.borrower_id_number, field="policy_borrower_id_number"),
            } for r in rows])
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.alter_column('borrower_id_index', existing_type=sa.String(length=64),
                              nullable=False)
        batch_op.create_index(batch_op.f('ix_applications_borrower_id_index'),
                              ['borrower_id_index'], unique=False)


def _chain_events() -> None:
    _set_event_triggers(enabled=False)
    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('recorded_at', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('actor', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    bind = op.get_bind()
    events = sa.table("domain_events", sa.column("id"), sa.column("name"),
                      sa.column("aggregate"), sa.column("aggregate_id"),
                      sa.column("occurred_on", sa.Date), sa.column("data", sa.JSON),
                      sa.column("seq"), sa.column("recorded_at"), sa.column("actor"),
                      sa.column("prev_hash"), sa.column("hash"))
    rows = bind.execute(sa.select(events).order_by(events.c.id)).all()
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    chained = chain((AuditRecord(0, r.name, r.aggregate, r.aggregate_id, r.occurred_on, now,
                                 "system:migration", r.data) for r in rows),
                    after_seq=0, after_hash=GENESIS)
    if rows:
        bind.execute(sa.update(events).where(events.c.id == sa.bindparam("b_id")).values(
            seq=sa.bindparam("b_seq"), recorded_at=sa.bindparam("b_at"),
            actor=sa.bindparam("b_actor"), prev_hash=sa.bindparam("b_prev"),
            hash=sa.bindparam("b_hash")), [{
                "b_id": row.id, "b_seq": c.seq, "b_at": c.recorded_at, "b_actor": c.actor,
                "b_prev": c.prev_hash, "b_hash": c.hash} for row, c in zip(rows, chained,
                                                                            strict=True)])
    head = sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"))
    op.bulk_insert(head, [{"id": 1, "seq": chained[-1].seq if chained else 0,
                           "hash": chained[-1].hash if chained else GENESIS}])

    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        for name, type_ in (('seq', sa.BigInteger()), ('recorded_at', sa.String(length=40)),
                            ('actor', sa.String(length=120)),
                            ('prev_hash', sa.String(length=64)),
                            ('hash', sa.String(length=64))):
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_domain_events_seq'), ['seq'])
        batch_op.create_index(batch_op.f('ix_domain_events_actor'), ['actor'], unique=False)
        batch_op.create_index('ix_domain_events_aggregate', ['aggregate', 'aggregate_id'],
                              unique=False)
    _set_event_triggers(enabled=True)


def _set_event_triggers(*, enabled: bool) -> None:
    """The append-only triggers of domain_events (0001), off while rows are chained.

    SQLite's batch mode copies the table, which drops its triggers; they are made again."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE domain_events {'ENABLE' if enabled else 'DISABLE'} "
                   "TRIGGER domain_events_append_only")
        return
    for action in ("UPDATE", "DELETE"):
        if enabled:
            op.execute(f"CREATE TRIGGER domain_events_no_{action.lower()} BEFORE {action} ON "
                       f"domain_events BEGIN SELECT RAISE(ABORT, 'domain_events is "
                       f"append-only: {action} refused'); END")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS domain_events_no_{action.lower()}")


def downgrade() -> None:
    _set_event_triggers(enabled=False)
    with op.batch_alter_table('domain_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_domain_events_actor'))
        batch_op.drop_index('ix_domain_events_aggregate')
        batch_op.drop_constraint(batch_op.f('uq_domain_events_seq'), type_='unique')
        for name in ('hash', 'prev_hash', 'actor', 'recorded_at', 'seq'):
            batch_op.drop_column(name)
    _set_event_triggers(enabled=True)
    op.drop_table('audit_head')
    if op.get_bind().execute(sa.text("SELECT COUNT(*) FROM applications")).scalar():
        raise RuntimeError("downgrading below 0003 would leave personal data encrypted in "
                           "columns the old schema reads as text; restore a backup instead")
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.alter_column('borrower_id_number', type_=sa.String(length=18),
                              existing_nullable=False)
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_borrower_id_index'))
        batch_op.drop_column('borrower_id_index')
        batch_op.drop_column('anonymized_on')
        batch_op.alter_column('borrower_bank_card', type_=sa.String(length=19),
                              existing_nullable=True)
        batch_op.alter_column('borrower_phone', type_=sa.String(length=20),
                              existing_nullable=False)
        batch_op.alter_column('borrower_id_number', type_=sa.String(length=18),
                              existing_nullable=False)
        batch_op.alter_column('borrower_name', type_=sa.String(length=200),
                              existing_nullable=False)
        batch_op.create_index(batch_op.f('ix_applications_borrower_id_number'),
                              ['borrower_id_number'], unique=False)
    op.drop_table('api_clients')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')
    op.drop_table('users')
