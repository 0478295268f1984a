"""Retries that arrive at once: concurrent duplicates of ``POST /v1/applications`` get one
write and a replay or a 409, never a 500 (issue 19, items 1 and 2).

Twenty threads start together at a barrier, each with its own ``TestClient`` on one app (a
client is not thread-safe) and so its own connection and transaction, once per backend. What
was written is read back through the unit of work.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError, OperationalError

from tests import support
from tests.integration.test_api import application_body
from xinbao.bootstrap import Container
from xinbao.entrypoints.cli.common import use_case
from xinbao.kernel import retries
from xinbao.kernel.errors import WriteConflict
from xinbao.underwriting.sql import SqlApplicationRepository

CALLERS = 20


@pytest.fixture
def container(decided_container: Container) -> Container:
    return decided_container


@pytest.fixture
def app(decided_app: FastAPI) -> FastAPI:
    return decided_app


def at_once(app: FastAPI, token: str,
            request: Callable[[int], tuple[dict[str, Any], dict[str, str]]]) -> list[Any]:
    """Send ``CALLERS`` requests together, ``request(i)`` giving the i-th body and headers."""
    start = threading.Barrier(CALLERS)
    answers: list[Any] = [None] * CALLERS

    def call(i: int) -> None:
        client = TestClient(app, raise_server_exceptions=False)
        body, headers = request(i)
        start.wait()
        answers[i] = client.post("/v1/applications", json=body,
                                 headers={**support.bearer(token), **headers})

    threads = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(a is not None for a in answers)
    return answers


def stored(container: Container) -> tuple[int, int]:
    """(applications, ApplicationSubmitted events) stored."""
    with container.uow() as u:
        return (u.applications.count(),
                sum(e.name == "ApplicationSubmitted" for e in u.events.list()))


@pytest.fixture
def token(container: Container) -> str:
    return support.api_token(container, "underwriter", ["underwriter"])


def test_one_key_and_one_body_at_once_store_one_application_and_replay_it(
        app: FastAPI, container: Container, token: str) -> None:
    answers = at_once(app, token, lambda _: (application_body(), {"Idempotency-Key": "k-1"}))

    assert sorted(a.status_code for a in answers) == [201] * CALLERS
    assert len({a.json()["id"] for a in answers}) == 1
    replayed = sorted(a.headers["Idempotent-Replayed"] for a in answers)
    assert replayed == ["false"] + ["true"] * (CALLERS - 1)
    assert stored(container) == (1, 1)


def test_one_key_with_different_bodies_at_once_stores_one_and_refuses_the_rest(
        app: FastAPI, container: Container, token: str) -> None:
    answers = at_once(app, token, lambda i: (application_body(external_ref=f"APP-{i:04d}"),
                                             {"Idempotency-Key": "k-2"}))

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (CALLERS - 1)
    (winner,) = [a for a in answers if a.status_code == 201]
    assert winner.headers["Idempotent-Replayed"] == "false"
    assert stored(container) == (1, 1)
    with container.uow() as u:
        assert u.applications.get(winner.json()["id"]) is not None


def test_the_same_body_without_a_key_at_once_stores_one_application_and_no_5xx(
        app: FastAPI, container: Container, token: str) -> None:
    answers = at_once(app, token, lambda _: (application_body(), {}))

    assert [a.status_code for a in answers if a.status_code >= 500] == []
    assert sorted(a.status_code for a in answers) == [201] * CALLERS
    assert len({a.json()["id"] for a in answers}) == 1
    assert stored(container) == (1, 1)


def test_other_terms_under_one_reference_at_once_are_409_never_500(
        app: FastAPI, container: Container, token: str) -> None:
    answers = at_once(app, token,
                      lambda i: (application_body(amount_fen=3_000_000 + 10_000 * i), {}))

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (CALLERS - 1)
    assert stored(container) == (1, 1)


@pytest.fixture
def colliding(monkeypatch: pytest.MonkeyPatch) -> Callable[[Exception], list[int]]:
    """Make every insert of applications fail with a driver error; count the tries."""

    def install(driver_error: Exception) -> list[int]:
        runs: list[int] = []

        def add_many(*_: Any, **__: Any) -> None:
            runs.append(1)
            raise OperationalError("INSERT INTO applications", {}, driver_error)

        monkeypatch.setattr(SqlApplicationRepository, "add_many", add_many)
        monkeypatch.setattr(retries, "MAX_PAUSE_S", 0)
        return runs

    return install


@pytest.mark.parametrize("driver_error", [
    sqlite3.OperationalError("database is locked"),
    psycopg.errors.SerializationFailure("could not serialize access"),
    psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
], ids=["sqlite-locked", "pg-serialization", "pg-lock-timeout"])
def test_a_write_conflict_left_after_the_retries_is_a_409_not_a_500(
        app: FastAPI, token: str, colliding: Callable[[Exception], list[int]],
        driver_error: Exception) -> None:
    runs = colliding(driver_error)
    answer = TestClient(app, raise_server_exceptions=False).post(
        "/v1/applications", json=application_body(), headers=support.bearer(token))

    assert answer.status_code == 409
    assert "concurrent request" in answer.json()["detail"]
    assert len(runs) == retries.ATTEMPTS


def test_a_database_fault_is_not_retried_and_stays_a_500(
        app: FastAPI, token: str, colliding: Callable[[Exception], list[int]]) -> None:
    runs = colliding(sqlite3.OperationalError("no such table: x"))
    answer = TestClient(app, raise_server_exceptions=False).post(
        "/v1/applications", json=application_body(), headers=support.bearer(token))

    assert answer.status_code == 500 and runs == [1]


@pytest.mark.parametrize(("driver_error", "conflict"), [
    (sqlite3.OperationalError("database is locked"), True),
    (sqlite3.IntegrityError("UNIQUE constraint failed: loans.funder_id"), True),
    (psycopg.errors.DeadlockDetected("deadlock detected"), True),
    (psycopg.errors.UniqueViolation("duplicate key value"), True),
    (sqlite3.OperationalError("disk I/O error"), False),
    (psycopg.errors.UndefinedTable("relation x does not exist"), False),
], ids=["sqlite-locked", "sqlite-unique", "pg-deadlock", "pg-unique", "sqlite-fault",
        "pg-fault"])
def test_the_unit_of_work_names_a_write_conflict_and_lets_a_fault_through(
        container: Container, driver_error: Exception, conflict: bool) -> None:
    kind = IntegrityError if isinstance(driver_error, sqlite3.IntegrityError) else OperationalError
    error = kind("INSERT", {}, driver_error)
    with pytest.raises(WriteConflict if conflict else kind) as raised, container.uow():
        raise error

    assert (raised.value.__cause__ is error) if conflict else (raised.value is error)


def test_the_cli_answers_a_write_conflict_with_the_conflict_exit_code() -> None:
    with pytest.raises(typer.Exit) as refused, use_case():
        raise WriteConflict

    assert refused.value.exit_code == 4
