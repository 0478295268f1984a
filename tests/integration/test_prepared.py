"""``platform.prepared``: statements run on the driver's cursor behave as SQLAlchemy's own
execution does (same rows and types, same transaction, same errors, listeners see them)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    exc,
    insert,
    select,
    update,
)

from xinbao.platform.database import create_db_engine
from xinbao.platform.prepared import Prepared
from xinbao.platform.sql_lists import in_list
from xinbao.platform.tables import DecimalText

t = Table("prepared_probe", MetaData(), Column("id", BigInteger, primary_key=True),
          Column("name", String(40), nullable=False, unique=True),
          Column("born", Date), Column("rate", DecimalText()), Column("ok", Boolean),
          Column("data", JSON), Column("note", String(40), default="python-side"))

ROWS = [
    {"id": 1, "name": "一", "born": date(1990, 3, 7), "rate": Decimal("0.0834"), "ok": True,
     "data": {"a": [1, 2], "说明": "值"}, "note": "x"},
    {"id": 2, "name": "it's", "born": None, "rate": Decimal("1E-7"), "ok": False,
     "data": None, "note": None},
    {"id": 3, "name": "three", "born": date(2025, 12, 31), "rate": None, "ok": None,
     "data": [], "note": "z"},
]


@pytest.fixture
def engine(empty_database_url):
    engine = create_db_engine(empty_database_url)
    with engine.begin() as c:
        t.create(c)
    yield engine
    engine.dispose()


def test_rows_and_types_are_those_of_sqlalchemy(engine):
    query = (select(t.c.id, t.c.name, t.c.born, t.c.rate, t.c.ok, t.c.data)
             .where(in_list(t.c.id, "ids"), t.c.name != bindparam("not")).order_by(t.c.id))
    prepared = Prepared(query)
    with engine.begin() as c:
        assert Prepared(insert(t)).execute_many(c, ROWS) == 3
    with engine.connect() as c:
        params = {"ids": [1, 2, 3, 9], "not": "three"}
        ours = prepared.all(c, params)
        theirs = c.execute(query, params).all()
    assert [tuple(r) for r in ours] == [tuple(r) for r in theirs]
    assert [[type(v) for v in r] for r in ours] == [[type(v) for v in r] for r in theirs]
    assert ours[0].born == date(1990, 3, 7) and ours[0].rate == Decimal("0.0834")
    assert ours[0].data == {"a": [1, 2], "说明": "值"} and ours[1].ok is False
    assert ours[1].name == "it's" and ours[1].born is None


def test_first_one_and_rowcounts(engine):
    by_name = Prepared(select(t.c.id).where(t.c.name == bindparam("name")))
    rename = Prepared(update(t).where(t.c.id == bindparam("k")).values(name=bindparam("n")))
    with engine.begin() as c:
        Prepared(insert(t)).execute_many(c, ROWS)
        assert by_name.first(c, {"name": "一"}).id == 1
        assert by_name.first(c, {"name": "none"}) is None
        with pytest.raises(exc.NoResultFound):
            by_name.one(c, {"name": "none"})
        with pytest.raises(exc.MultipleResultsFound):
            Prepared(select(t.c.id)).one(c)
        assert rename.execute(c, {"k": 2, "n": "two"}) == 1
        assert rename.execute(c, {"k": 99, "n": "nobody"}) == 0
        assert rename.execute_many(c, [{"k": 1, "n": "uno"}, {"k": 3, "n": "tres"}]) == 2
        assert by_name.one(c, {"name": "tres"}).id == 3


def test_an_insert_is_compiled_for_the_columns_given(engine):
    """Columns not given are left to the database (NULL here), whatever the first call
    gave; a column with a Python-side default cannot be left out."""
    adding = Prepared(insert(t))
    with engine.begin() as c:
        adding.execute(c, {"id": 1, "name": "a", "note": "n"})
        adding.execute(c, {"id": 2, "name": "b", "born": date(2000, 1, 1), "note": None})
        with pytest.raises(exc.InvalidRequestError, match="default"):
            adding.execute(c, {"id": 3, "name": "c"})
        rows = c.execute(select(t.c.id, t.c.born, t.c.note).order_by(t.c.id)).all()
    assert [tuple(r) for r in rows] == [(1, None, "n"), (2, date(2000, 1, 1), None)]


def test_it_runs_in_the_connections_transaction(engine):
    adding = Prepared(insert(t))
    count = select(t.c.id)
    with engine.connect() as c:  # the first statement of the connection: a transaction begins
        adding.execute(c, ROWS[0])
        assert c.in_transaction()
        c.rollback()
    with engine.connect() as c:
        assert c.execute(count).all() == []
        adding.execute(c, ROWS[0])
        c.commit()
    with engine.connect() as c:
        assert [r.id for r in c.execute(count)] == [1]


def test_driver_errors_are_sqlalchemys(engine):
    adding = Prepared(insert(t))
    with engine.connect() as c:
        adding.execute(c, ROWS[0])
        with pytest.raises(exc.IntegrityError):
            adding.execute(c, {**ROWS[1], "name": ROWS[0]["name"]})
        c.rollback()


@pytest.mark.parametrize("prepared", [False, True], ids=["sqlalchemy", "prepared"])
def test_a_failed_insert_never_shows_the_values_it_was_given(engine, prepared):
    # A ciphertext and a blind index must not reach a log or a traceback through the message.
    secret = "v1.k1.c2VjcmV0LWNpcGhlcnRleHQ"
    other = "0f4c2a9e1d"
    first, duplicate = {**ROWS[0], "name": secret}, {**ROWS[1], "name": secret, "note": other}
    adding = Prepared(insert(t))
    with engine.connect() as c:
        c.execute(insert(t), first)
        with pytest.raises(exc.IntegrityError) as caught:
            if prepared:
                adding.execute(c, duplicate)
            else:
                c.execute(insert(t), duplicate)
        c.rollback()
    message = str(caught.value)
    assert "prepared_probe" in message
    for shown in (message, str(caught.value.orig)):  # a traceback prints both
        assert secret not in shown and other not in shown


def test_listeners_see_every_statement(engine):
    seen: list[tuple[str, bool]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement.split(None, 1)[0], executemany))

    event.listen(engine, "before_cursor_execute", before)
    try:
        with engine.begin() as c:
            Prepared(insert(t)).execute_many(c, ROWS)
            Prepared(select(t.c.id)).all(c)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert seen == [("INSERT", True), ("SELECT", False)]


def test_expanding_lists_are_refused(engine):
    with engine.connect() as c, pytest.raises(exc.InvalidRequestError, match="in_list"):
        Prepared(select(t.c.id).where(t.c.id.in_(bindparam("ids", expanding=True)))).all(
            c, {"ids": [1]})


def test_a_missing_parameter_is_named(engine):
    with engine.connect() as c, pytest.raises(exc.ArgumentError, match="name"):
        Prepared(select(t.c.id).where(t.c.name == bindparam("name"))).all(c, {})
