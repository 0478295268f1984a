"""A person's override of a loan's five-tier class (issue 21): set, lifted and listed by a
risk manager with a reason, kept append-only and audited, once under retries and concurrent
requests, and applied by the day's snapshot from its effective date; on SQLite and
PostgreSQL, through the use cases and ``xinbao eod override|overrides``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from tests import builders as b
from tests import support
from xinbao.batch import overrides
from xinbao.batch import services as batch
from xinbao.batch.commands import LiftOverride, SetOverride
from xinbao.batch.store import ParquetSnapshots
from xinbao.bootstrap import Container
from xinbao.entrypoints.cli.main import app
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Forbidden, Principal, Role, system
from xinbao.kernel.errors import InvalidInput, NotFound
from xinbao.servicing import services
from xinbao.servicing.commands import RecordPrepayment

RISK = Principal("user", "wang.risk", frozenset({Role.RISK_MANAGER}))
FINANCE = Principal("user", "zhao.fin", frozenset({Role.FINANCE}))
NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
REASON = "borrower's business closed; collateral sold"
runner = CliRunner()


@pytest.fixture
def book(decided_container: Container) -> tuple[Container, list[int]]:
    """Two insured loans, a risk manager and a finance clerk who may sign in."""
    c = decided_container
    loans = [b.issued_policy(c.uow).loan_id,
             b.issued_policy(c.uow, b.consumer_application(external_ref="APP-2")).loan_id]
    for who, roles in ((RISK, ["risk_manager"]), (FINANCE, ["finance"])):
        accounts.add_user(accounts.AddUser(who.name, who.name, support.CONSOLE_PASSWORD, roles),
                          c.uow(), c.credentials, now=NOW.replace(tzinfo=None))
    return c, loans


def _set(c: Container, loan_id: int, tier: object = 4, reason: str = REASON,
         since: date = b.START, who: Principal = RISK) -> overrides.OverrideOutcome:
    return overrides.set_override(SetOverride(loan_id, tier, reason, since),  # type: ignore[arg-type]
                                  c.uow(who), now=NOW)


def _rows(c: Container) -> int:
    with c.uow() as uow:
        return len(uow.overrides.list())


def _events(c: Container, loan_id: int) -> list:
    with c.uow() as uow:
        return [r for r in uow.events.records(limit=10_000)
                if r.aggregate == "loan" and r.aggregate_id == loan_id
                and r.name.startswith("ClassificationOverrid")]


def test_a_set_override_classifies_the_loan_from_its_date_with_its_reason_until_lifted(
        book, tmp_path):
    c, (loan, other) = book
    since, lifted = b.START + timedelta(days=10), b.START + timedelta(days=20)
    store = ParquetSnapshots(tmp_path / "snapshots")

    done = _set(c, loan, 4, REASON, since)
    overrides.lift_override(LiftOverride(loan, "collateral recovered in full", lifted),
                            c.uow(RISK), now=NOW)

    assert done.added and done.override.tier == 4 and done.override.set_by == RISK.name

    def classes(on: date) -> dict[int, tuple]:
        batch.snapshot_day(c.uow(), store, on, c.classification, c.early_warning)
        state = store.read(on)["loans"]  # type: ignore[index]
        return {r["loan_id"]: (r["tier"], r["tier_label"], r["tier_basis"], r["override_reason"])
                for r in state.iter_rows(named=True)}

    before, during, after = (classes(since - timedelta(days=1)), classes(since),
                             classes(lifted))
    assert before[loan] == (1, "正常", "days_past_due", None)
    assert during[loan] == (4, "可疑", "override", REASON)
    assert during[other] == (1, "正常", "days_past_due", None)
    assert after[loan] == (1, "正常", "days_past_due", None)
    listed = overrides.list_overrides(c.uow(RISK), loan)
    assert [(o.tier, o.effective_from) for o in listed] == [(4, since), (None, lifted)]
    assert overrides.list_overrides(c.uow(RISK), other) == []


def test_bad_input_is_refused_with_its_rule_and_adds_nothing(book):
    c, (loan, _) = book
    for tier in (0, 6, True, "3"):
        with pytest.raises(InvalidInput) as refused:
            _set(c, loan, tier)
        assert [e.rule for e in refused.value.errors] == ["override.tier"]
    with pytest.raises(InvalidInput) as refused:
        _set(c, loan, 9, "   too short  ")
    assert {e.rule for e in refused.value.errors} == {"override.tier", "override.reason"}
    with pytest.raises(InvalidInput) as refused:
        overrides.lift_override(LiftOverride(loan, "no", b.START), c.uow(RISK), now=NOW)
    assert refused.value.errors[0].rule == "override.reason"
    with pytest.raises(InvalidInput) as refused:  # nothing to lift yet
        overrides.lift_override(LiftOverride(loan, REASON, b.START), c.uow(RISK), now=NOW)
    assert refused.value.errors[0].rule == "override.none"
    with pytest.raises(NotFound):
        _set(c, 999_999)
    assert _rows(c) == 0


def test_a_loan_that_carries_no_risk_is_refused(book):
    c, (loan, _) = book
    services.record_prepayment(RecordPrepayment(loan, b.START + timedelta(days=5), 0,
                                                "TX-PRE-1"), c.uow())

    with pytest.raises(InvalidInput) as refused:
        _set(c, loan)

    assert refused.value.errors[0].rule == "override.loan"
    assert _rows(c) == 0


@pytest.mark.parametrize("who", [FINANCE, Principal("user", "li.audit",
                                                    frozenset({Role.AUDITOR})), system("eod")])
def test_only_a_person_holding_the_override_action_sets_one(book, who):
    c, (loan, _) = book

    with pytest.raises(Forbidden):
        _set(c, loan, who=who)

    assert _rows(c) == 0 and _events(c, loan) == []


def test_a_funders_client_may_not_read_the_insurers_overrides(book):
    c, (loan, _) = book
    _set(c, loan)
    funder = Principal("client", "bank-a-1", frozenset({Role.FUNDER}), funder_id=1)

    with pytest.raises(Forbidden):
        overrides.list_overrides(c.uow(funder), loan)
    assert len(overrides.list_overrides(c.uow(FINANCE), loan)) == 1


def test_each_change_is_in_the_audit_trail_with_who_and_why(book):
    c, (loan, _) = book
    _set(c, loan, 3, REASON, b.START)
    overrides.lift_override(LiftOverride(loan, "restructured and performing", b.START),
                            c.uow(RISK), now=NOW)

    records = _events(c, loan)

    assert [(r.name, r.actor) for r in records] == [
        ("ClassificationOverridden", "user:wang.risk"),
        ("ClassificationOverrideLifted", "user:wang.risk")]
    assert records[0].data["tier"] == 3 and records[0].data["tier_label"] == "次级"
    assert records[0].data["reason"] == REASON
    assert records[0].data["effective_from"] == b.START.isoformat()
    assert records[1].data["tier"] is None and records[1].data["previous_tier"] == 3


def test_the_overrides_are_append_only_in_the_database(book):
    c, (loan, _) = book
    _set(c, loan)

    with pytest.raises(Exception, match="append-only|refuse"), c.uow() as uow:
        uow._open.execute(text("UPDATE classification_overrides SET tier = 1"))
    assert [o.tier for o in overrides.list_overrides(c.uow(RISK))] == [4]


def test_a_retried_set_adds_one_row_and_one_audit_record(book):
    c, (loan, _) = book

    first, again = _set(c, loan), _set(c, loan)

    assert first.added and not again.added and again.override.id == first.override.id
    assert _rows(c) == 1 and len(_events(c, loan)) == 1
    assert _set(c, loan, 5).added  # another tier is another decision
    assert _rows(c) == 2


def test_concurrent_sets_of_one_override_add_one_row(book):
    c, (loan, _) = book

    done = support.race(6, lambda _: _set(c, loan))

    assert sum(d.added for d in done) == 1
    assert len({d.override.id for d in done}) == 1
    assert _rows(c) == 1 and len(_events(c, loan)) == 1


def xinbao(c: Container, *args: str, user: str | None = RISK.name) -> Result:
    who = ["--user", user] if user else []
    return runner.invoke(app, [*args, *who, "--database-url", c.settings.database_url],
                         input=support.CONSOLE_PASSWORD + "\n")


def test_the_command_line_sets_lifts_and_lists_overrides(book):
    c, (loan, _) = book

    set_ = xinbao(c, "eod", "override", str(loan), "--tier", "3", "--reason", REASON,
                  "--from", "2025-02-01")
    again = xinbao(c, "eod", "override", str(loan), "--tier", "3", "--reason", REASON,
                   "--from", "2025-02-01", "--json")
    lifted = xinbao(c, "eod", "override", str(loan), "--lift", "--reason",
                    "restructured and performing", "--from", "2025-03-01")
    listed = xinbao(c, "eod", "overrides", "--loan", str(loan), "--json")

    assert set_.exit_code == 0, set_.output
    assert "次级" in set_.output and REASON in set_.output
    assert again.exit_code == 0 and '"added": false' in again.output
    assert lifted.exit_code == 0, lifted.output
    assert listed.exit_code == 0, listed.output
    import json
    rows = json.loads(listed.output)
    assert [(r["tier"], r["effective_from"], r["set_by"]) for r in rows] == [
        (3, "2025-02-01", RISK.name), (None, "2025-03-01", RISK.name)]
    table = xinbao(c, "eod", "overrides")
    assert table.exit_code == 0 and "lifted" in table.output


def test_the_command_line_refuses_with_the_rule_and_the_exit_code(book):
    c, (loan, _) = book
    neither = xinbao(c, "eod", "override", str(loan), "--reason", REASON)
    bad_tier = xinbao(c, "eod", "override", str(loan), "--tier", "7", "--reason", REASON)
    short = xinbao(c, "eod", "override", str(loan), "--tier", "2", "--reason", "short")
    clerk = xinbao(c, "eod", "override", str(loan), "--tier", "2", "--reason", REASON,
                   user=FINANCE.name)
    operator = xinbao(c, "eod", "override", str(loan), "--tier", "2", "--reason", REASON,
                      user=None)

    assert neither.exit_code == 2 and "override.tier" in neither.output
    assert bad_tier.exit_code == 2 and "override.tier" in bad_tier.output
    assert short.exit_code == 2 and "override.reason" in short.output
    assert clerk.exit_code == 5 and "classification.override" in clerk.output
    assert operator.exit_code == 5 and "console user" in " ".join(operator.output.split())
    assert _rows(c) == 0


def test_the_snapshot_reads_only_the_overrides_of_loans_carrying_risk(book, tmp_path: Path):
    c, (loan, other) = book
    _set(c, loan, 2)
    _set(c, other, 5)
    services.record_prepayment(RecordPrepayment(other, b.START + timedelta(days=5), 0,
                                                "TX-PRE-2"), c.uow())
    on = b.START + timedelta(days=6)

    with c.uow() as uow:
        in_force = uow.book.day(on).overrides

    assert in_force.rows() == [(loan, 2, REASON)]
    assert in_force.schema == pl.Schema({"loan_id": pl.Int64, "tier": pl.Int8,
                                         "reason": pl.String})
