"""Engine settings: SQLite is durable by default; unsupported databases are refused."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import event

from xinbao.config import DEFAULT_DATABASE_URL, ConfigError, Settings
from xinbao.platform.database import create_db_engine


def test_sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys(tmp_path: Path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'nested' / 'x.db'}")
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    assert (tmp_path / "nested" / "x.db").exists()
    engine.dispose()


def test_an_unsupported_database_is_refused_by_name():
    with pytest.raises(ValueError, match="mysql"):
        create_db_engine("mysql://localhost/x")


def test_the_database_url_comes_from_the_environment_or_the_default():
    assert Settings.from_env({}).database_url == DEFAULT_DATABASE_URL
    assert DEFAULT_DATABASE_URL.startswith("sqlite:///")
    env = {"XINBAO_DATABASE_URL": "postgresql+psycopg://u@h/db", "XINBAO_LOG_LEVEL": "debug"}
    settings = Settings.from_env(env)
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.log_level == "DEBUG"


def test_the_pool_keeps_its_connections_under_concurrent_requests(empty_database_url):
    # 12 threads, each holding a connection at once, ten times over: a server's concurrent
    # requests. The connections are opened once and reused, not opened and closed each time
    # (SQLAlchemy's default pool of 5 opened 75 here: 7 more for every round).
    engine = create_db_engine(empty_database_url, pool_size=20)
    opened = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    barrier = threading.Barrier(12)

    def hold() -> None:
        for _ in range(10):
            with engine.connect() as c:
                c.exec_driver_sql("SELECT 1")
                barrier.wait(timeout=30)  # all 12 hold one at the same time
            barrier.wait(timeout=30)  # and all 12 gave it back

    threads = [threading.Thread(target=hold) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert len(opened) == 12


def test_the_pool_size_comes_from_the_environment():
    assert Settings.from_env({}).db_pool_size == 20
    assert Settings.from_env({"XINBAO_DB_POOL_SIZE": "64"}).db_pool_size == 64
    with pytest.raises(ConfigError, match="XINBAO_DB_POOL_SIZE"):
        Settings.from_env({"XINBAO_DB_POOL_SIZE": "0"})


def test_a_key_list_finds_exactly_its_keys_with_one_compiled_statement(empty_database_url):
    """``in_list`` binds a whole list as one parameter (a JSON array on SQLite, an array on
    PostgreSQL): any length, empty included, ints and strings of any characters."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table, select

    from xinbao.platform.sql_lists import in_list

    t = Table("key_list_probe", MetaData(), Column("id", BigInteger, primary_key=True),
              Column("name", String(40), index=True))
    names = ["plain", "带引号\"的", "back\\slash", "it's", "  spaced ", "数字 7"]
    engine = create_db_engine(empty_database_url)
    try:
        with engine.begin() as c:
            t.create(c)
            c.execute(t.insert(), [{"id": 10**12 + i, "name": n} for i, n in enumerate(names)])
        by_id = select(t.c.id).where(in_list(t.c.id, "ids")).order_by(t.c.id)
        by_name = select(t.c.name).where(in_list(t.c.name, "names")).order_by(t.c.name)
        with engine.connect() as c:
            wanted = [10**12 + 1, 10**12 + 5, 7] + list(range(2000, 3000))
            assert c.execute(by_id, {"ids": wanted}).scalars().all() == [10**12 + 1, 10**12 + 5]
            assert c.execute(by_id, {"ids": []}).scalars().all() == []
            asked = names[1:5] + ["plai", "PLAIN"]
            assert c.execute(by_name, {"names": asked}).scalars().all() == sorted(names[1:5])
            sent = set()
            for ids in ([1], wanted):
                result = c.execute(by_id, {"ids": ids})
                sent.add(result.context.statement)
                result.close()
            assert len(sent) == 1  # the same SQL text for 1 key and for 1,003
            t.drop(c)
            c.commit()
    finally:
        engine.dispose()


def test_the_blacklist_is_searched_through_its_index(request, tmp_path):
    """Each (field, key) pair asked is found through the blacklist's unique index: asked by
    key alone (not that index's first column) SQLite read the whole list for every batch.
    (The plan checked is SQLite's.)"""
    from sqlalchemy.dialects import sqlite

    from tests.conftest import provision
    from xinbao.risk.sql import _statements

    compiled = _statements()["listed"].statement.compile(dialect=sqlite.dialect())
    with provision("sqlite", request, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            with engine.connect() as c:
                plan = c.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                         tuple('["k"]' for _ in compiled.positiontup)).all()
        finally:
            engine.dispose()
    steps = [row[3] for row in plan]
    assert any(s.startswith("SEARCH blacklist USING INDEX") for s in steps), steps
    assert not any(s.startswith("SCAN blacklist") for s in steps), steps


def test_json_columns_accept_what_json_accepts_and_refuse_the_rest():
    """JSON columns are written by orjson, held to the standard library's rules: a date or a
    dataclass is refused (not silently turned into text), numpy's float64 is a float, keys
    become strings, Chinese is kept as it is."""
    from dataclasses import dataclass
    from datetime import date
    from decimal import Decimal

    import numpy as np

    from xinbao.platform.database import json_dumps

    @dataclass
    class Point:
        x: int

    assert json.loads(json_dumps({"a": [1, 2.5, np.float64(0.1)], 7: "说明"})) == {
        "a": [1, 2.5, 0.1], "7": "说明"}
    assert "说明" in json_dumps({"k": "说明"})
    for refused in (date(2025, 3, 1), Point(1), Decimal("1.5"), np.int64(3)):
        with pytest.raises(TypeError):
            json.dumps(refused)
        with pytest.raises(TypeError):
            json_dumps({"x": refused})
