"""Alembic migrations build exactly the tables the code declares, and the ledger is
append-only in the database itself."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from xinbao import migrate, schema
from xinbao.catalogue import tables as catalogue_tables
from xinbao.ledger import model as ledger
from xinbao.ledger import tables as ledger_tables
from xinbao.platform import tables as orm
from xinbao.platform.database import create_db_engine


def test_upgrade_from_an_empty_database_reaches_head_and_matches_the_tables(
        empty_database_url):
    engine = create_db_engine(empty_database_url)
    assert migrate.current_revision(engine) is None
    assert "policies" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}),
                                schema.metadata)
        chart = ledger_tables.accounts
        accounts = c.execute(select(chart.c.code).order_by(chart.c.code))
        assert [r.code for r in accounts] == sorted(a.code for a in ledger.CHART)
    assert diff == []
    engine.dispose()


def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds_it(database_url):
    engine = create_db_engine(database_url)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert {"journal_entries", "journal_lines", "policies"} <= set(
        inspect(engine).get_table_names())
    engine.dispose()


def _posted_entry(engine) -> int:
    with engine.begin() as c:
        entry_id = c.execute(insert(ledger_tables.journal_entries).values(
            posted_on=date(2025, 1, 1), description="t", source_command="Test",
            idempotency_key="k", reference="")).inserted_primary_key[0]
        c.execute(insert(ledger_tables.journal_lines), [
            {"entry_id": entry_id, "account": ledger.BANK, "amount_fen": 100},
            {"entry_id": entry_id, "account": ledger.WRITTEN_PREMIUM, "amount_fen": -100}])
    return entry_id


@pytest.mark.parametrize("table", ["journal_entries", "journal_lines"])
def test_the_database_refuses_to_update_or_delete_ledger_rows(database_url, table):
    engine = create_db_engine(database_url)
    _posted_entry(engine)
    for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(text(statement))
    with engine.connect() as c:
        assert c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() >= 1
    engine.dispose()


def test_the_database_refuses_an_unknown_account_and_a_zero_line(database_url):
    engine = create_db_engine(database_url)
    entry_id = _posted_entry(engine)
    for account, amount in (("9999", 5), (ledger.BANK, 0)):
        with pytest.raises(DBAPIError), engine.begin() as c:
            c.execute(insert(ledger_tables.journal_lines).values(entry_id=entry_id, account=account,
                                                       amount_fen=amount))
    engine.dispose()


def test_domain_events_are_append_only_too(database_url):
    engine = create_db_engine(database_url)
    with engine.begin() as c:
        c.execute(insert(orm.domain_events).values(
            name="X", aggregate="loan", aggregate_id=1, occurred_on=date(2025, 1, 1), data={},
            seq=1, recorded_at="2025-01-01T00:00:00+00:00", actor="system:test",
            prev_hash="0" * 64, hash="1" * 64))
    for statement in (update(orm.domain_events).values(name="Y"), delete(orm.domain_events)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(statement)
    engine.dispose()


def test_funders_stored_before_agreements_get_the_catalogue_of_the_time(empty_database_url):
    engine = create_db_engine(empty_database_url)
    migrate.upgrade(engine, "0005")
    with engine.begin() as c:
        for code in ("CONSUMER-G", "SME-C"):
            c.execute(text(
                "INSERT INTO products (code, version, name, mode, family, min_amount_fen, "
                "max_amount_fen, min_term_months, max_term_months, repayment_methods, "
                "claim_trigger_dpd, waiting_period_days, coverage_share, premium_basis, "
                "monthly_premium_rate, refund_method, effective_from) VALUES (:code, 1, 'p', "
                "'guarantee', 'consumer', 1, 2, 1, 2, 'equal_installment', 80, 0, '1', "
                "'single', '0.001', 'pro_rata', '2025-01-01')"), {"code": code})
        c.execute(text("INSERT INTO funders (code, name, credit_code, kind, licensed, "
                       "commission_rate) VALUES ('OLD', 'Old bank', '911100001000033177', "
                       "'bank', true, '0.1')"))
    migrate.upgrade(engine)
    with engine.connect() as c:
        assert c.execute(text("SELECT products FROM funders")).scalar_one() == (
            "CONSUMER-G,SME-C")
    engine.dispose()


def test_funders_stored_before_agreement_versions_get_version_1_from_their_terms(
        empty_database_url):
    engine = create_db_engine(empty_database_url)
    migrate.upgrade(engine, "0007")
    with engine.begin() as c:
        c.execute(text("INSERT INTO funders (code, name, credit_code, kind, licensed, "
                       "commission_rate, products) VALUES ('OLD', 'Old bank', "
                       "'911100001000033177', 'bank', true, '0.1', 'CONSUMER-G,SME-C')"))
    migrate.upgrade(engine)
    agreements = catalogue_tables.funder_agreements
    with engine.connect() as c:
        row = c.execute(select(agreements)).one()
    assert (row.version, row.products, row.commission_rate) == (
        1, "CONSUMER-G,SME-C", Decimal("0.1"))
    assert (row.volume_share, row.risk_share, row.settlement_days, row.file_format) == (
        None, Decimal(0), 30, "csv")
    # No application: in force since the upgrade (the database's date: UTC or local).
    assert abs((row.effective_from - date.today()).days) <= 1
    for statement in (update(agreements).values(commission_rate=Decimal("0.2")),
                      delete(agreements)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
            c.execute(statement)
    migrate.downgrade(engine, "0007")
    assert "funder_agreements" not in inspect(engine).get_table_names()
    engine.dispose()
