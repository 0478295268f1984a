"""The end-of-day snapshot (issue 21): the book read in bulk, each insured loan's days past
due, bucket and class as the one-loan path computes them, written as a whole, the same on a
second run, and never half-written; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tests import builders as b
from tests import support
from xinbao.batch import files
from xinbao.batch import services as batch
from xinbao.batch.feeds import FileType, Manifest
from xinbao.batch.model import bucket
from xinbao.batch.store import ParquetSnapshots
from xinbao.bootstrap import Container
from xinbao.iam.model.security import Forbidden, Principal, Role
from xinbao.loans.model import Loan, paid_by_installment, position
from xinbao.servicing import queries, services
from xinbao.servicing.commands import RecordRepayment
from xinbao.servicing.feeds import LoadFeed, load_feed


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


def test_the_days_signals_see_one_funder_holding_the_book_above_its_limit(book, tmp_path):
    container, _ = book
    store = ParquetSnapshots(tmp_path / "snapshots")
    on = b.START + timedelta(days=100)
    rules = replace(container.early_warning, concentration_min_loans=3)

    taken = batch.snapshot_day(container.uow(), store, on, container.classification, rules)

    signals = store.read(on)["signals"]  # type: ignore[index]
    funder = signals.filter(pl.col("code") == "EW-CONC-FUNDER")
    assert funder.select("level", "funder", "loan_id").rows() == [("high", "BANK-A", None)]
    state = store.read(on)["loans"]  # type: ignore[index]
    exposure = state["exposure_fen"].sum()
    assert funder["detail"].item() == (
        f"funder BANK-A: 100.00% of the day's exposure, limit 50.00% "
        f"({exposure} of {exposure} fen)")
    assert taken.signals["EW-CONC-FUNDER"] == 1
    assert taken.signals["EW-CONC-OBLIGOR"] == state["obligor"].n_unique()  # each > 0.25 %
    small = batch.snapshot_day(container.uow(), store, on, container.classification,
                               replace(rules, concentration_min_loans=4))
    assert not any(code.startswith("EW-CONC") for code in small.signals)


class HostMount(ParquetSnapshots):
    """The shared snapshot folder as one host mounts it over a network file system whose
    locks each host sees only its own of (NFS with ``local_lock=all``, a lock daemon not
    running, an object-store mount): the day's lock file keeps this host's writers apart,
    never another host's."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._host = threading.Lock()

    @contextmanager
    def _lock(self, on: date) -> Iterator[None]:
        with self._host:
            yield


def test_runs_of_one_day_on_hosts_sharing_the_folder_take_turns_by_the_databases_lock(
        book, tmp_path):
    """Each run on its own host (its own mount of the folder, its own connection): the
    file lock keeps none of them apart, the day's row in the database does."""
    container, _ = book
    root = tmp_path / "shared"
    on = b.START + timedelta(days=100)
    hosts = [HostMount(root) for _ in range(8)]

    taken = support.race(8, lambda i: batch.snapshot_day(
        container.uow(), hosts[i], on, container.classification, container.early_warning))

    assert len({t.loans for t in taken}) == 1
    assert sorted(p.name for p in root.iterdir()) == [f"date={on.isoformat()}"]
    kept = hosts[0].read(on)
    assert kept is not None and kept.keys() == {"loans", "aggregates", "signals"}
    assert kept["loans"].height == taken[0].loans
    with container.uow() as uow:
        assert uow.batch_runs.claim("snapshot", on) == 9  # each run held the day in turn


def test_the_kept_state_after_a_funders_file_and_on_days_run_again_is_the_one_loan_paths(
        book, tmp_path):
    """Each loan's kept state (principal repaid, first unpaid installment) moved by a
    funder's file, then days before and after the file's repayments: on a day before them
    (run again late) the loan's schedule is read whole; after them the state answers. Each
    figure as the one-loan path computes it from the repayments paid by that day."""
    container, loan_ids = book
    missing = loan_ids[1]
    with container.uow() as uow:
        loan = uow.loans.get(missing)
        assert isinstance(loan, Loan)
    one, two = loan.installments[0], loan.installments[1]
    lines = ["contract_no,installment_number,paid_on,principal,interest,premium,reference",
             f"{loan.contract_no},1,{one.due_date},{one.principal_fen // 200}.00,"
             f"{one.interest_fen // 100}.{one.interest_fen % 100:02d},,F-1",
             f"{loan.contract_no},2,{two.due_date + timedelta(days=3)},"
             f"{two.principal_fen // 100}.{two.principal_fen % 100:02d},0,,F-2"]
    path = tmp_path / "repayments.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = files.read(path)
    funder = "BANK-A"
    report = load_feed(LoadFeed(funder, path.name, files.content_hash(path), Manifest(
        FileType.REPAYMENTS, funder, two.due_date + timedelta(days=3), raw.height), raw,
        datetime(2026, 1, 1)), container.uow())
    assert report.status == "applied", report.summary()

    for on in (one.due_date - timedelta(days=1), one.due_date + timedelta(days=20),
               two.due_date + timedelta(days=1), two.due_date + timedelta(days=90)):
        store = ParquetSnapshots(tmp_path / on.isoformat())
        batch.snapshot_day(container.uow(), store, on, container.classification,
                           container.early_warning)
        kept = store.read(on)
        assert kept is not None
        for row in kept["loans"].iter_rows(named=True):
            view = queries.get_loan(container.uow(), row["loan_id"], as_of=on)
            by_then = paid_by_installment([r for r in view.repayments if r.paid_on <= on])
            want = position(view.loan.installments, by_then, on)
            assert (row["days_past_due"], row["outstanding_principal_fen"],
                    row["overdue_principal_fen"], row["overdue_interest_fen"]) == (
                want.days_past_due, want.outstanding_principal_fen,
                want.overdue_principal_fen, want.overdue_interest_fen), (on, row["loan_id"])
