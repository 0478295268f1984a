"""Shared fixtures: database backends and builders.

Integration tests take ``database_url`` and run once per backend: SQLite always, PostgreSQL
when ``XINBAO_TEST_POSTGRES_URL`` is set (``make test`` starts one). With
``XINBAO_REQUIRE_POSTGRES=1`` a missing PostgreSQL fails the run instead of skipping.
Each test gets a fresh database copied from a migrated template.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests import support  # test secrets before anything reads settings
from xinbao import migrate
from xinbao.bootstrap import Container, bootstrap
from xinbao.loans.model import Loan
from xinbao.platform.database import create_db_engine
from xinbao.sql_unit_of_work import SqlUnitOfWork

_PG_ENV = "XINBAO_TEST_POSTGRES_URL"
_counter = count(1)


def _backends() -> list:
    pg = pytest.param("postgresql", id="postgresql")
    if not os.environ.get(_PG_ENV):
        if os.environ.get("XINBAO_REQUIRE_POSTGRES") == "1":
            raise pytest.UsageError(f"XINBAO_REQUIRE_POSTGRES=1 but {_PG_ENV} is not set")
        pg = pytest.param("postgresql", id="postgresql",
                          marks=pytest.mark.skip(reason=f"{_PG_ENV} not set (make test sets it)"))
    return [pytest.param("sqlite", id="sqlite"), pg]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    base = os.environ[_PG_ENV]
    admin = create_db_engine(base)
    template = f"xinbao_template_{os.getpid()}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{template}"'))
        c.execute(text(f'CREATE DATABASE "{template}"'))
    engine = create_db_engine(make_url(base).set(database=template).render_as_string(False))
    migrate.upgrade(engine)
    engine.dispose()
    yield template
    admin.dispose()


@contextmanager
def provision(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database of ``backend``; dropped afterwards."""
    if backend == "sqlite":
        path = tmp_path / "xinbao.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    base = make_url(os.environ[_PG_ENV])
    name = f"xinbao_t{os.getpid()}_{next(_counter)}"
    admin = create_db_engine(base.render_as_string(False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield base.set(database=name).render_as_string(False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


BACKENDS = _backends()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with provision(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, per backend (for migration tests)."""
    with provision(request.param, request, tmp_path) as url:
        engine = create_db_engine(url)
        migrate.downgrade(engine, "base")
        engine.dispose()
        yield url


@pytest.fixture
def sqlite_uow(sqlite_template: Path, tmp_path: Path) -> Iterator[Callable[..., SqlUnitOfWork]]:
    """A unit-of-work factory over a fresh migrated SQLite database (``sqlite_uow()``, or
    ``sqlite_uow(principal)`` to act for someone): for unit tests of the use cases whose set
    questions only SQL answers, the end-of-day batch's (the fake has no copy of them)."""
    path = tmp_path / "unit.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    yield lambda actor=None: SqlUnitOfWork(engine, cipher=support.cipher(), actor=actor)
    engine.dispose()


@pytest.fixture
def seeded_container(database_url: str) -> Iterator[Container]:
    """A container on each backend with the shipped catalogue, a licensed bank BANK-A and
    100 million yuan of paid-in capital (``builders.seed``)."""
    from tests import builders

    container = bootstrap(support.settings(database_url))
    builders.seed(container.uow)
    yield container
    container.close()


@pytest.fixture
def decided_container(seeded_container: Container) -> Container:
    """``seeded_container`` deciding with the tests' risk engine (``builders.engine``: list
    prices, no anti-fraud rules, a fixed bureau and scorer)."""
    from tests import builders

    seeded_container.risk = builders.engine()
    return seeded_container


@pytest.fixture
def decided_app(decided_container: Container) -> Iterator[FastAPI]:
    """The API over ``decided_container``, its lifespan run once for the whole test, so that
    concurrent callers can each bring their own ``TestClient`` (a client is not
    thread-safe)."""
    from fastapi.testclient import TestClient

    from xinbao.entrypoints.api.app import create_app

    application = create_app(decided_container)
    with TestClient(application):
        yield application


@pytest.fixture
def loan(decided_container: Container) -> tuple[Container, Loan]:
    """``decided_container`` with one issued consumer policy, and its loan (twelve
    installments from ``builders.START``)."""
    from tests import builders

    policy = builders.issued_policy(decided_container.uow)
    with decided_container.uow() as uow:
        found = uow.loans.get(policy.loan_id)
    assert found is not None
    return decided_container, found
