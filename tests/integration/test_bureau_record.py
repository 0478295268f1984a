"""The bureau behind each decision, over a real database once per backend: a bureau adapter
named by import path answers, the decision record keeps its name, ``decision explain`` and
the API show it, and migration 0007 adds and removes the column."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from typer.testing import CliRunner, Result

from tests import builders as b
from tests import support
from tests.fakes import bureau as fake
from xinbao import migrate
from xinbao.bootstrap import Container, bootstrap
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.cli.main import app
from xinbao.platform.database import create_db_engine
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplications
from xinbao.underwriting import services as applications

runner = CliRunner()


@pytest.fixture
def c(database_url: str, tmp_path: Path) -> Iterator[Container]:
    container = bootstrap(support.settings(database_url, models_dir=str(tmp_path / "models"),
                                           bureau=fake.CONNECT))
    b.seed(container.uow)
    yield container
    container.close()


def xinbao(c: Container, *args: str, bureau: str | None = None) -> Result:
    env = {"XINBAO_MODELS_DIR": c.settings.models_dir,
           "XINBAO_BUREAU": bureau or c.settings.bureau}
    return runner.invoke(app, [*args, "--database-url", c.settings.database_url], env=env)


def submitted(c: Container, ref: str) -> int:
    application = applications.submit_application(b.consumer_application(external_ref=ref),
                                                  c.uow())
    assert application.id is not None
    return application.id


def test_a_bureau_adapter_named_by_import_path_answers_and_explain_names_it(c):
    app_id = submitted(c, "APP-REAL")
    ran = xinbao(c, "decision", "run", str(app_id), "--on", "2025-01-15")
    assert ran.exit_code == 0, ran.output
    with c.uow() as u:
        record = u.decisions.get(app_id)
    assert record is not None and record.bureau_source == "test-bureau/2.1"
    assert record.detail["bureau"]["report"]["report_id"] == "TB-1238"  # its report was read
    shown = xinbao(c, "decision", "explain", str(app_id))
    assert shown.exit_code == 0, shown.output
    assert "Bureau" in shown.output and "test-bureau/2.1: ok" in shown.output
    assert "simulated" not in shown.output


def test_explain_says_when_the_simulated_bureau_answered(c):
    app_id = submitted(c, "APP-SIM")
    assert xinbao(c, "decision", "run", str(app_id), "--on", "2025-01-15",
                  bureau="simulated").exit_code == 0
    with c.uow() as u:
        record = u.decisions.get(app_id)
    assert record is not None and record.bureau_source == "simulated/1"
    shown = xinbao(c, "decision", "explain", str(app_id))
    assert shown.exit_code == 0, shown.output
    assert "simulated/1 (simulated: not a real credit report)" in shown.output


def test_the_api_decision_names_the_bureau_that_answered(c):
    app_id = submitted(c, "APP-API")
    approval.approve_applications(ApproveApplications((app_id,), b.START), c.uow(), c.risk)
    with TestClient(create_app(c)) as client:
        token = support.api_token(c, "reader", ["underwriting_approver"])
        got = client.get(f"/v1/applications/{app_id}/decision", headers=support.bearer(token))
    assert got.status_code == 200, got.text
    assert got.json()["bureau_source"] == "test-bureau/2.1"
    assert got.json()["bureau"]["status"] == "ok"


def test_a_review_keeps_the_bureau_of_the_decision(c):
    app_id = submitted(c, "APP-REVIEW")
    approval.approve_applications(ApproveApplications((app_id,), b.START), c.uow(), c.risk)
    with c.uow() as u:
        record = u.decisions.get(app_id)
        assert record is not None
        record.final = False
        u.decisions.save(record)
        u.commit()
        again = u.decisions.get(app_id)
    assert again is not None and again.bureau_source == "test-bureau/2.1"


def test_migration_0007_names_the_simulated_bureau_for_decisions_made_before_it(c):
    app_id = submitted(c, "APP-OLD")
    approval.approve_applications(ApproveApplications((app_id,), b.START), c.uow(), c.risk)
    engine = create_db_engine(c.settings.database_url)
    try:
        migrate.downgrade(engine, "0006")
        assert "bureau_source" not in {col["name"] for col in inspect(engine).get_columns(
            "decisions")}
        migrate.upgrade(engine)
        with engine.connect() as conn:
            sources = conn.execute(text("SELECT bureau_source FROM decisions")).scalars().all()
        assert sources == ["simulated/1"]
        columns = {col["name"]: col for col in inspect(engine).get_columns("decisions")}
        assert columns["bureau_source"]["nullable"] is False
    finally:
        engine.dispose()
