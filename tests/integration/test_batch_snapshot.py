"""The end-of-day snapshot (issue 21): the book read in bulk, each insured loan's days past
due, bucket and class as the one-loan path computes them, written as a whole, the same on a
second run, and never half-written; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from tests import builders as b
from tests import support
from xinbao.batch import services as batch
from xinbao.batch.model import bucket
from xinbao.batch.store import ParquetSnapshots
from xinbao.bootstrap import Container
from xinbao.iam.model.security import Forbidden, Principal, Role
from xinbao.loans.model import Loan
from xinbao.servicing import queries, services
from xinbao.servicing.commands import RecordRepayment


@pytest.fixture
def book(decided_container: Container) -> tuple[Container, list[int]]:
    """Three insured loans: one repaying, one that missed its first installment, one
    enterprise loan that missed two."""
    c = decided_container
    paying = b.issued_policy(c.uow)
    missing = b.issued_policy(c.uow, b.consumer_application(external_ref="APP-2"))
    firm = b.issued_policy(c.uow, b.sme_application(external_ref="APP-3"))
    with c.uow() as uow:
        loan = uow.loans.get(paying.loan_id)
        assert isinstance(loan, Loan)
        first = loan.installments[0]
    services.record_repayment(RecordRepayment(
        paying.loan_id, 1, first.due_date, first.principal_fen, first.interest_fen,
        "TX-1"), c.uow())
    return c, [paying.loan_id, missing.loan_id, firm.loan_id]


def test_each_loans_days_past_due_bucket_and_class_are_those_of_the_one_loan_path(
        book, tmp_path):
    container, loan_ids = book
    with container.uow() as uow:
        due = uow.loans.get(loan_ids[0]).installments[1].due_date  # type: ignore[union-attr]
    on = due + timedelta(days=45)
    store = ParquetSnapshots(tmp_path / "snapshots")

    taken = batch.snapshot_day(container.uow(), store, on, container.classification,
                       container.early_warning)

    kept = store.read(on)
    assert kept is not None
    state, aggregates = kept["loans"], kept["aggregates"]
    assert state["loan_id"].to_list() == sorted(loan_ids)
    rules = container.classification
    for row in state.iter_rows(named=True):
        loan = queries.get_loan(container.uow(), row["loan_id"], as_of=on)
        assert row["days_past_due"] == loan.position.days_past_due
        assert row["outstanding_principal_fen"] == loan.position.outstanding_principal_fen
        assert row["bucket"] == bucket(loan.position.days_past_due)
        thresholds = rules.retail if row["retail"] else rules.non_retail
        assert row["tier"] >= int(thresholds.tier(row["days_past_due"]))
    assert taken.loans == 3 and taken.overdue == int((state["days_past_due"] > 0).sum())
    assert sum(taken.by_tier.values()) == 3
    by_product = aggregates.filter(pl.col("dimension") == "product")
    assert by_product["loans"].sum() == 3
    assert by_product["exposure_fen"].sum() == state["exposure_fen"].sum()


def test_a_second_run_of_the_day_writes_the_same_snapshot(book, tmp_path):
    container, _ = book
    store = ParquetSnapshots(tmp_path / "snapshots")
    on = b.START + timedelta(days=100)

    batch.snapshot_day(container.uow(), store, on, container.classification,
                       container.early_warning)
    first = store.read(on)
    batch.snapshot_day(container.uow(), store, on, container.classification,
                       container.early_warning)
    second = store.read(on)

    assert first is not None and second is not None
    assert first.keys() == second.keys() == {"loans", "aggregates", "signals"}
    assert all(first[name].equals(second[name]) for name in first)
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == [
        f".date={on.isoformat()}.lock", f"date={on.isoformat()}"]  # no staging folder left


def test_a_write_that_fails_halfway_leaves_the_days_earlier_snapshot_whole(
        book, tmp_path, monkeypatch):
    container, _ = book
    store = ParquetSnapshots(tmp_path / "snapshots")
    on = b.START + timedelta(days=100)
    batch.snapshot_day(container.uow(), store, on, container.classification,
                       container.early_warning)
    before = store.read(on)
    written = []

    def fail_on_the_second_file(frame: pl.DataFrame, path: Path, **_: object) -> None:
        written.append(path)
        if len(written) == 2:
            raise OSError("disk full")
        path.write_bytes(b"partial")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", fail_on_the_second_file)
    with pytest.raises(OSError):
        batch.snapshot_day(container.uow(), store, on, container.classification,
                       container.early_warning)
    monkeypatch.undo()

    after = store.read(on)
    assert before is not None and after is not None
    assert all(before[name].equals(after[name]) for name in before)


def test_only_who_may_run_the_batch_takes_the_snapshot(book, tmp_path):
    container, _ = book
    auditor = Principal("user", "li.audit", frozenset({Role.AUDITOR}))

    with pytest.raises(Forbidden):
        batch.snapshot_day(container.uow(auditor), ParquetSnapshots(tmp_path / "snapshots"),
                           b.START, container.classification,
                       container.early_warning)
    assert not (tmp_path / "snapshots").exists()


def test_the_days_signals_see_a_first_payment_default_and_the_roll_since_yesterday(
        book, tmp_path):
    container, loan_ids = book
    store = ParquetSnapshots(tmp_path / "snapshots")
    with container.uow() as uow:
        due = uow.loans.get(loan_ids[1]).installments[0].due_date  # type: ignore[union-attr]
    for on in (due + timedelta(days=30), due + timedelta(days=31)):  # M1, then M2
        taken = batch.snapshot_day(container.uow(), store, on, container.classification,
                                   container.early_warning)

    signals = store.read(due + timedelta(days=31))["signals"]  # type: ignore[index]
    fpd = signals.filter(pl.col("code") == "EW-FPD")
    assert set(fpd["loan_id"]) == {loan_ids[1], loan_ids[2]}  # never paid the first
    rolls = signals.filter(pl.col("code") == "EW-ROLL")
    assert rolls.select("loan_id", "detail").sort("loan_id").rows() == [
        (loan_ids[1], "M1 to M2"), (loan_ids[2], "M1 to M2")]
    assert taken.signals == {"EW-FPD": 2, "EW-ROLL": 2}


def test_concurrent_runs_of_one_days_snapshot_each_finish_and_leave_it_whole(book, tmp_path):
    container, _ = book
    store = ParquetSnapshots(tmp_path / "snapshots")
    on = b.START + timedelta(days=100)

    taken = support.race(6, lambda _: batch.snapshot_day(
        container.uow(), store, on, container.classification, container.early_warning))

    assert len({t.loans for t in taken}) == 1
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == [
        f".date={on.isoformat()}.lock", f"date={on.isoformat()}"]
    assert store.read(on)["loans"].height == taken[0].loans  # type: ignore[index]
