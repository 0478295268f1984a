"""``xinbao decision|blacklist|limits`` and ``xinbao model list|promote`` over a real database,
once per backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner, Result

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container, bootstrap
from xinbao.risk import approval, model_store
from xinbao.risk.commands import ApproveApplications
from xinbao.risk.scoring.scorecard import TrainingSpec, train
from xinbao.underwriting import services as applications
from xinbao.underwriting.model import ApplicationStatus

runner = CliRunner()


@pytest.fixture
def c(database_url: str, tmp_path: Path) -> Iterator[Container]:
    container = bootstrap(support.settings(database_url, models_dir=str(tmp_path / "models")))
    b.seed(container.uow)
    yield container
    container.close()


def xinbao(c: Container, *args: str, stdin: str | None = None) -> Result:
    database = [] if args[0] == "model" else ["--database-url", c.settings.database_url]
    return runner.invoke(__import__("xinbao.entrypoints.cli.main", fromlist=["app"]).app,
                         [*args, *database], input=stdin,
                         env={"XINBAO_MODELS_DIR": c.settings.models_dir})


def test_decision_run_decides_and_explain_shows_the_reasons_on_one_screen(c):
    app_id = applications.submit_application(b.consumer_application(amount_fen=50_000),
                                             c.uow()).id
    ran = xinbao(c, "decision", "run", str(app_id), "--on", "2025-01-15")
    assert ran.exit_code == 0, ran.output
    assert "decline" in ran.output and "UW-AMOUNT-RANGE" in ran.output
    shown = xinbao(c, "decision", "explain", str(app_id))
    assert shown.exit_code == 0, shown.output
    for text in ("Decision", "Reasons", "UW-AMOUNT-RANGE", "decline", "Bureau",
                 "110105********1238", "fallback:bureau-score"):
        assert text in shown.output, text
    assert len(shown.output.splitlines()) <= 60  # one screen
    assert xinbao(c, "decision", "explain", "999").exit_code == 3


def test_decision_run_submitted_decides_every_waiting_application_batch_by_batch(c):
    ids = [applications.submit_application(
        b.consumer_application(external_ref=f"APP-{i}"), c.uow()).id for i in range(3)]
    later = applications.submit_application(
        b.consumer_application(external_ref="APP-LATER", applied_on=date(2025, 2, 1)),
        c.uow()).id
    ran = xinbao(c, "decision", "run", "--submitted", "--batch", "2", "--on", "2025-01-15")
    assert ran.exit_code == 0, ran.output
    assert "3 application(s) decided on 2025-01-15" in ran.output
    with c.uow() as u:
        statuses = {i: u.applications.get(i).status for i in [*ids, later]}
    assert all(statuses[i] is not ApplicationStatus.SUBMITTED for i in ids)
    assert statuses[later] is ApplicationStatus.SUBMITTED  # applied after --on: left waiting
    again = xinbao(c, "decision", "run", "--submitted", "--on", "2025-01-15")
    assert again.exit_code == 0 and "No application applied for by 2025-01-15" in again.output
    assert xinbao(c, "decision", "run", "--submitted", "--funder", "BANK-A",
                  "--on", "2025-02-01").exit_code == 0
    with c.uow() as u:
        assert u.applications.get(later).status is not ApplicationStatus.SUBMITTED


def test_decision_run_submitted_stopped_midway_keeps_the_batches_decided(c, monkeypatch):
    ids = [applications.submit_application(
        b.consumer_application(external_ref=f"APP-{i}"), c.uow()).id for i in range(3)]
    real, calls = approval.approve_applications, []

    def failing_second_batch(*args, **kwargs):
        calls.append(args[0].application_ids)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second batch is decided
        return real(*args, **kwargs)

    monkeypatch.setattr(approval, "approve_applications", failing_second_batch)
    stopped = xinbao(c, "decision", "run", "--submitted", "--batch", "2", "--on", "2025-01-15")
    assert stopped.exit_code == 130, stopped.output
    assert "Interrupted" in stopped.output
    assert "2 application(s) were decided and kept before that" in stopped.output
    with c.uow() as u:
        assert [u.applications.get(i).status is ApplicationStatus.SUBMITTED
                for i in ids] == [False, False, True]
    monkeypatch.undo()
    rest = xinbao(c, "decision", "run", "--submitted", "--on", "2025-01-15")
    assert rest.exit_code == 0 and "1 application(s) decided" in rest.output


def test_decision_run_refuses_ids_with_submitted_and_an_unknown_funder(c):
    assert xinbao(c, "decision", "run").exit_code == 2
    assert xinbao(c, "decision", "run", "1", "--submitted").exit_code == 2
    assert xinbao(c, "decision", "run", "1", "--funder", "BANK-A").exit_code == 2
    unknown = xinbao(c, "decision", "run", "--submitted", "--funder", "NOPE")
    assert unknown.exit_code == 3 and "NOPE" in unknown.output


def test_a_referral_is_listed_and_reviewed_from_the_command_line(c):
    app = applications.submit_application(b.consumer_application(), c.uow())
    approval.approve_applications(ApproveApplications((app.id,), b.START), c.uow(),
                                      b.engine(scorer=b.FixedScorer("0.15")))
    queue = xinbao(c, "decision", "queue")
    assert queue.exit_code == 0 and str(app.id) in queue.output
    assert "SCR-PD-REFER" in queue.output
    refused = xinbao(c, "decision", "review", str(app.id), "--approve", "--note", "ok")
    assert refused.exit_code == 2 and "REV-NOTE" in refused.output
    done = xinbao(c, "decision", "review", str(app.id), "--approve", "--note",
                  "income verified by phone", "--on", "2025-01-16")
    assert done.exit_code == 0, done.output
    assert "approved" in done.output
    assert "0 referral(s) waiting" in xinbao(c, "decision", "queue").output
    again = xinbao(c, "decision", "review", str(app.id), "--decline", "--note", "too late")
    assert again.exit_code == 4


def test_the_blacklist_takes_values_on_standard_input_and_never_shows_them(c):
    added = xinbao(c, "blacklist", "add", "--field", "phone", "--reason", "fraud case F-7",
                   stdin=b.PHONE + "\n")
    assert added.exit_code == 0 and "Listed." in added.output
    listed = xinbao(c, "blacklist", "list")
    assert "fraud case F-7" in listed.output and b.PHONE not in listed.output
    bad = xinbao(c, "blacklist", "add", "--field", "shoe", "--reason", "no such field",
                 stdin="x\n")
    assert bad.exit_code == 2
    assert xinbao(c, "blacklist", "remove", "--field", "phone", "--reason", "cleared",
                  stdin=b.PHONE + "\n").exit_code == 0
    assert xinbao(c, "blacklist", "remove", "--field", "phone", "--reason", "cleared",
                  stdin=b.PHONE + "\n").exit_code == 3


def test_limits_are_recounted_and_shown_with_the_net_assets(c):
    assert "No limits set yet" in xinbao(c, "limits", "show").output
    b.issued_policy(c.uow)
    refreshed = xinbao(c, "limits", "refresh", "--on", "2025-01-16")
    assert refreshed.exit_code == 0, refreshed.output
    shown = xinbao(c, "limits", "show")
    assert shown.exit_code == 0, shown.output
    assert "net assets 100,000,000.00 yuan" in shown.output
    assert "retained" in shown.output and "36,000.00" in shown.output
    from datetime import date as day

    from xinbao.kernel.money import format_yuan
    from xinbao.reinsurance.services import shipped
    from xinbao.risk.model import exposure

    ceded = shipped().quota_share_on(day.today())
    net = 3_600_000 - exposure.retained_fen(3_600_000, ceded)
    assert f"net of the quota share in force ({ceded:.0%} ceded) {format_yuan(net)} yuan" in \
        " ".join(shown.output.split())


def _train(tmp_path: Path, root: Path) -> None:
    rng = np.random.default_rng(5)
    score = rng.normal(600, 60, 2000)
    data = pl.DataFrame({"bureau_score": score,
                         "bad": (rng.random(2000) < 1 / (1 + np.exp((score - 520) / 30)))
                         .astype(int)})
    path = tmp_path / "d.csv"
    data.write_csv(path)
    spec = TrainingSpec(target="bad")
    model_store.save(train(data, spec), spec, path, root, "pd")


def test_models_are_listed_and_promoted_and_decide_from_then_on(c, tmp_path: Path):
    root = Path(c.settings.models_dir)
    _train(tmp_path, root)
    listed = xinbao(c, "model", "list")
    assert "pd/v1" in listed.output and "fallback" in listed.output
    assert xinbao(c, "model", "promote", "pd/v9").exit_code == 2
    promoted = xinbao(c, "model", "promote", "pd/v1")
    assert promoted.exit_code == 0 and "Champion pd/v1" in promoted.output
    assert "champion" in xinbao(c, "model", "list").output
    app_id = applications.submit_application(b.consumer_application(), c.uow()).id
    assert xinbao(c, "decision", "run", str(app_id), "--on", "2025-01-15").exit_code == 0
    assert "model pd/v1" in xinbao(c, "decision", "explain", str(app_id)).output


def test_a_referral_reviewed_as_a_named_user_holds_four_eyes_and_names_the_reviewer(c):
    from xinbao.entrypoints.api.deps import utcnow
    from xinbao.iam import services as accounts
    from xinbao.iam.model.security import Principal, Role

    password = "a long enough passphrase"
    for name, roles in (("zhou.xun", ["underwriter"]), ("qian.li", ["underwriter"]),
                        ("wu.di", ["auditor"])):
        accounts.add_user(accounts.AddUser(name, name, password, roles), c.uow(),
                          c.credentials, now=utcnow())
    keyed = applications.submit_application(b.consumer_application(), c.uow(
        Principal("user", "zhou.xun", frozenset({Role.UNDERWRITER}))))
    approval.approve_applications(ApproveApplications((keyed.id,), b.START), c.uow(),
                                  b.engine(scorer=b.FixedScorer("0.15")))
    review = ["decision", "review", str(keyed.id), "--approve", "--note",
              "income verified by phone", "--on", "2025-01-16", "--user"]
    maker = xinbao(c, *review, "zhou.xun", stdin=password + "\n")
    assert maker.exit_code == 5 and "four-eyes" in maker.output
    auditor = xinbao(c, *review, "wu.di", stdin=password + "\n")
    assert auditor.exit_code == 5 and "application.approve" in auditor.output
    with c.uow() as u:
        assert u.applications.get(keyed.id).status is ApplicationStatus.REFERRED
    checker = xinbao(c, *review, "qian.li", stdin=password + "\n")
    assert checker.exit_code == 0, checker.output
    with c.uow() as u:
        assert u.applications.get(keyed.id).status is ApplicationStatus.APPROVED
        reviewers = {r.actor for r in u.events.records(limit=1000)
                     if r.aggregate == "application" and r.aggregate_id == keyed.id}
    assert "user:qian.li" in reviewers
