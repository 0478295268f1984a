"""The audit trail in a real database, once per backend: every change is recorded with its
actor, and ``xinbao audit verify`` finds a record edited, deleted or moved by someone who
got past the append-only triggers, and says where."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests import builders as b
from tests import support
from xinbao import migrate
from xinbao.bootstrap import Container, bootstrap
from xinbao.entrypoints.cli.main import app
from xinbao.iam.model.security import Principal, Role
from xinbao.platform import tables as orm
from xinbao.underwriting import services as applications

runner = CliRunner()


@pytest.fixture
def book(database_url: str) -> Iterator[Container]:
    c = bootstrap(support.settings(database_url))
    b.seed(c.uow)
    b.issued_policy(c.uow)
    applications.submit_application(b.car_application(),
                                    c.uow(Principal("user", "zhang.uw",
                                                    frozenset({Role.UNDERWRITER}))))
    yield c
    c.close()


def verify(c: Container) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", "--database-url", c.settings.database_url])
    return result.exit_code, result.output


def _rows(c: Container) -> int:
    with c.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(orm.domain_events)).scalar_one()


def _as_intruder(c: Container, *statements: str) -> None:
    """Run SQL with the append-only triggers out of the way, as a DBA gone rogue would."""
    with c.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE domain_events DISABLE TRIGGER USER"))
        else:
            for action in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER domain_events_no_{action}"))
        for statement in statements:
            conn.execute(text(statement))


def test_every_change_is_recorded_with_its_actor_and_the_trail_verifies(book):
    code, output = verify(book)
    assert code == 0, output
    assert f"Audit trail intact: {_rows(book):,} records" in output
    with book.uow() as u:
        records = list(u.events.records())
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert {"system:operator", "user:zhang.uw"} <= {r.actor for r in records}
    submitted = [r for r in records if r.name == "ApplicationSubmitted"]
    assert submitted[-1].actor == "user:zhang.uw"


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_an_edited_record_is_found_and_named(book, where):
    n = _rows(book)
    seq = {"first": 1, "middle": n // 2, "last": n}[where]
    _as_intruder(book, f"UPDATE domain_events SET actor = 'user:mallory' WHERE seq = {seq}")
    code, output = verify(book)
    assert code == 1
    assert f"record {seq}: edited" in output


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_deleted_record_is_found(book, where):
    n = _rows(book)
    seq = {"first": 1, "middle": n // 2, "last": n}[where]
    _as_intruder(book, f"DELETE FROM domain_events WHERE seq = {seq}")
    code, output = verify(book)
    assert code == 1
    expected = f"record {seq + 1}: missing" if seq < n else "head: head"
    assert expected in output


def test_two_records_swapped_are_found(book):
    n = _rows(book)
    k = n // 2
    _as_intruder(book,
                 f"UPDATE domain_events SET seq = -1 WHERE seq = {k}",
                 f"UPDATE domain_events SET seq = {k} WHERE seq = {k + 1}",
                 f"UPDATE domain_events SET seq = {k + 1} WHERE seq = -1")
    code, output = verify(book)
    assert code == 1
    assert f"record {k}" in output or f"record {k + 1}" in output


def test_migrating_a_book_from_before_0003_encrypts_and_chains_what_is_there(database_url):
    engine_c = bootstrap(support.settings(database_url))
    migrate.downgrade(engine_c.engine, "0002")
    with engine_c.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO funders (code, name, credit_code, kind, licensed, commission_rate) "
            f"VALUES ('BANK-A', '示例银行', '{b.CREDIT_CODE_BANK}', 'bank', true, '0.1')"))
        conn.execute(text(
            "INSERT INTO domain_events (name, aggregate, aggregate_id, occurred_on, data) "
            "VALUES ('FunderRegistered', 'funder', 1, '2025-01-01', '{}')"))
        conn.execute(text(
            "INSERT INTO products VALUES ('CONSUMER-G', 1, '个人消费贷款保证保险', 'guarantee', "
            "'consumer', 100000, 20000000, 3, 36, 'equal_installment', 80, 0, '1', "
            "'monthly_on_balance', '0.005', 'pro_rata', '2024-01-01')"))
        conn.execute(text(
            "INSERT INTO applications (funder_id, external_ref, product_code, product_version, "
            "mode, borrower_kind, borrower_name, borrower_id_number, borrower_phone, "
            "borrower_bank_card, policyholder, insured, amount_fen, term_months, annual_rate, "
            "repayment_method, applied_on, status, reason_codes) VALUES (1, 'OLD-1', "
            f"'CONSUMER-G', 1, 'guarantee', 'individual', '张三', '{b.RESIDENT_ID}', "
            f"'{b.PHONE}', '{b.BANK_CARD}', 'debtor', 'creditor', 3600000, 12, '0.12', "
            "'equal_installment', '2025-01-15', 'submitted', '')"))
    engine_c.upgrade_database()
    code, output = verify(engine_c)
    assert code == 0 and "intact: 1 records" in output, output
    with engine_c.uow() as u:
        (record,) = list(u.events.records())
        (found,) = u.applications.find_by_id_number(b.RESIDENT_ID)
    assert record.actor == "system:migration" and record.name == "FunderRegistered"
    assert (found.borrower.name, found.borrower.phone, found.borrower.bank_card) == (
        "张三", b.PHONE, b.BANK_CARD)
    with engine_c.engine.connect() as conn:
        raw = conn.execute(text("SELECT borrower_name, borrower_id_number, borrower_phone "
                                "FROM applications")).one()
    assert all(value.startswith("v1.") for value in raw)
    engine_c.close()
