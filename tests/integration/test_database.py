"""Engine settings: SQLite is durable by default; unsupported databases are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinbao.adapters.database import create_db_engine
from xinbao.config import DEFAULT_DATABASE_URL, Settings


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
