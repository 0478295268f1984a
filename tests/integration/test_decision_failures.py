"""One application the engine raises on does not stall the others (issue 19), over a real
database, once per backend: ``xinbao decision run --submitted`` decides the rest, exits 0
and names it; ``POST /v1/applications/approve`` answers 200, one answer per application.
The poison is written into the row behind intake's back (intake refuses such values)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container
from xinbao.entrypoints.api.app import create_app
from xinbao.entrypoints.cli.main import app as cli
from xinbao.risk.model import exposure
from xinbao.risk.model.decision import DECISION_ERROR
from xinbao.simulation.identities import IdentityFactory
from xinbao.underwriting import services as applications
from xinbao.underwriting import tables
from xinbao.underwriting.model import ApplicationStatus

RETAINED = (exposure.RETAINED, "all")


@pytest.fixture
def c(seeded_container: Container) -> Container:
    return seeded_container


def three_good_and_a_poisoned_one(c: Container) -> tuple[list[int], int]:
    """Four submitted applications; the second one's stored income is 2^63 - 1 fen, which
    the engine can compute with but no decision record can store."""
    people = IdentityFactory(19)
    ids = [applications.submit_application(b.consumer_application(
        external_ref=f"APP-{i}", borrower_id_number=people.resident_id(
            born_between=(date(1975, 1, 1), date(1995, 1, 1)))), c.uow()).id
        for i in range(4)]
    with c.engine.begin() as conn:
        conn.execute(update(tables.applications).where(tables.applications.c.id == ids[1])
                     .values(monthly_income_fen=2 ** 63 - 1))
    return [ids[0], *ids[2:]], ids[1]


def decision_failures(c: Container) -> list[int | None]:
    with c.uow() as u:
        return [e.aggregate_id for e in u.events.list(aggregate="application")
                if e.name == "DecisionFailed"]


def test_decision_run_submitted_refers_the_poisoned_application_and_decides_the_rest(c):
    good, bad = three_good_and_a_poisoned_one(c)
    args = ["decision", "run", "--submitted", "--batch", "2", "--on", "2025-01-15",
            "--database-url", c.settings.database_url]

    ran = CliRunner().invoke(cli, args)

    assert ran.exit_code == 0, ran.output
    assert "4 application(s) decided on 2025-01-15" in ran.output
    assert f"referred {DECISION_ERROR}" in ran.output and str(bad) in ran.output
    with c.uow() as u:
        assert all(u.applications.get(i).status is not ApplicationStatus.SUBMITTED
                   for i in good)
        poisoned = u.applications.get(bad)
        assert (poisoned.status, poisoned.reason_codes) == (
            ApplicationStatus.REFERRED, (DECISION_ERROR,))
        record = u.decisions.get(bad)
        assert record.detail["error"]["type"] == "ValueError" and record.approved_fen == 0
        approved = [u.decisions.get(i) for i in good
                    if u.applications.get(i).status is ApplicationStatus.APPROVED]
        used = u.counters.get([RETAINED])[RETAINED].used_fen
    assert used == sum(exposure.retained_fen(d.approved_fen, Decimal(1)) for d in approved)
    assert decision_failures(c) == [bad]
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert "No application applied for by 2025-01-15" in again.output


def test_the_batch_approve_endpoint_answers_every_application_when_one_cannot_be_decided(c):
    c.risk = b.engine()
    good, bad = three_good_and_a_poisoned_one(c)
    asked = [good[0], bad, *good[1:]]
    with TestClient(create_app(c)) as client:
        token = support.api_token(c, "ops", ["underwriting_approver"])
        answered = client.post("/v1/applications/approve", headers=support.bearer(token),
                               json={"application_ids": asked, "on": "2025-01-15"})

    assert answered.status_code == 200, answered.text
    answers = answered.json()["decisions"]
    assert [a["application"]["id"] for a in answers] == asked
    assert [a["outcome"] for a in answers] == ["approve", "refer", "approve", "approve"]
    assert answers[1]["reason_codes"] == [DECISION_ERROR] and answers[1]["policy"] is None
    assert decision_failures(c) == [bad]
