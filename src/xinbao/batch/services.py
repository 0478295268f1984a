"""The end-of-day batch's set-based step: a business day's snapshot of every insured loan
still carrying risk (issue 21).

The book is read in bulk as frames, all from one consistent view (``uow.book.day``: on
PostgreSQL a repeatable-read transaction of its own, beside the one holding the day); the
kernels compute each loan's position (days past due, overdue amounts, bucket), exposure
(outstanding principal × the insurer's share) and five-tier class; the per-loan state and
the aggregates by product, funder, region, vintage, class and bucket, and the day's
early-warning signals
(``kernels.day_signals``: early warnings and concentrations) are written to the snapshot
store as a whole. A second run of the day writes the same snapshot again. The day is held in
the database while it is computed and written (``batch_runs``), so that runs of one day on
several hosts sharing the snapshot folder take turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from xinbao.batch import kernels
from xinbao.batch.engines import Engine, LocalEngine, by_hash
from xinbao.batch.model import ClassificationRules, EarlyWarningRules
from xinbao.batch.repository import SnapshotStore, UnitOfWork
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.retries import retried

#: The name of the snapshot's runs in ``batch_runs`` (the day's row is its lock).
SNAPSHOT = "snapshot"
#: Each loan's kept state, the positions' starting point (``kernels.positions_from_state``).
STATE = ("loan_id", "principal_fen", "principal_paid_fen", "first_unpaid_due_date", "replay")
#: The dimensions the day's aggregates are cut by (each with class and bucket).
DIMENSIONS = ("product", "funder", "region", "vintage")


@dataclass(frozen=True, slots=True)
class DaySnapshot:
    on: date
    loans: int
    overdue: int  # loans with days past due
    exposure_fen: int
    by_tier: dict[str, int]  # loans per class, 正常 … 损失
    by_bucket: dict[str, int]  # loans per bucket, M0 … M6+
    signals: dict[str, int]  # early-warning signals per code
    rules_version: str


@retried
def snapshot_day(uow: UnitOfWork, store: SnapshotStore, on: date,
                 rules: ClassificationRules, warnings: EarlyWarningRules, *,
                 engine: Engine | None = None) -> DaySnapshot:
    """Compute and keep the snapshot of ``on`` (repayments reported paid by that day), with
    the day's early-warning signals (rolls against the previous day's snapshot, if kept);
    the kernels run on ``engine`` (in this process, one partition, by default). The loans are
    classified with the overrides in force on ``on``; the signals are
    ``kernels.day_signals``."""
    authorize(uow, Action.BATCH_RUN)
    with uow:
        # The day is claimed first and held until the snapshot is written: a concurrent run
        # of the same day, on this host or another sharing the snapshot folder, waits for
        # this one (PostgreSQL: the day's row in batch_runs; SQLite: its one writer's lock),
        # then reads the book and writes the day again. Nothing else is written: the
        # transaction commits only to let the day go.
        uow.batch_runs.claim(SNAPSHOT, on)
        book = uow.book.day(on)
        state = day_state(book.loans, book.installments, book.paid, on, rules,
                          engine or LocalEngine(), overrides=book.overrides)
        # Of the previous day, only what the rolls compare (each loan's bucket).
        before = (store.frame(on - timedelta(days=1), "loans", columns=("loan_id", "bucket"))
                  if on > date.min else None)
        signals = kernels.day_signals(state, before, warnings)
        store.write(on, {"loans": state, "aggregates": aggregate(state), "signals": signals})
        uow.commit()
    return DaySnapshot(
        on=on, loans=state.height, overdue=int((state["days_past_due"] > 0).sum()),
        exposure_fen=int(state["exposure_fen"].sum() or 0),
        by_tier=_counts(state, "tier_label"), by_bucket=_counts(state, "bucket"),
        signals=_counts(signals, "code"), rules_version=rules.version)


def day_state(loans: pl.DataFrame, installments: pl.DataFrame, paid: pl.DataFrame, on: date,
              rules: ClassificationRules, engine: Engine, *,
              overrides: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each loan's state on ``on``: its attributes, position, exposure and class.

    Positions run over partitions by loan (a loan's kept state, and the installments it
    cannot answer for with their repayments: ``kernels.positions_from_state``), the
    classification over partitions by debtor (the contagion rule sees all of a debtor's
    loans), each partition a kernel call on the engine, with the overrides in force
    (``loan_id``, ``tier``, ``reason``: each partition is given those of its own loans)."""
    n = engine.partitions
    loans = loans.sort("loan_id")
    state = loans.select(*STATE)
    positions = _aligned(pl.concat(engine.map(kernels.positions_from_state, list(zip(
        by_hash(state, "loan_id", n), by_hash(installments, "loan_id", n),
        by_hash(paid, "loan_id", n), [on] * n, strict=True)))), loans)
    # Row for row (``_aligned``): the positions' columns beside the loans', not joined.
    book = pl.concat([loans.drop(*STATE[1:]), positions.drop("loan_id")],
                     how="horizontal").with_columns(
        (pl.col("outstanding_principal_fen").clip(lower_bound=0) * pl.col("coverage_share"))
        .round(0).cast(pl.Int64).alias("exposure_fen"))
    exposures = book.select("loan_id", "obligor", "retail", "days_past_due", "exposure_fen")
    parts = by_hash(exposures, "obligor", n)
    chosen = [None if overrides is None else overrides.join(
        part.select("loan_id"), on="loan_id", how="semi") for part in parts]
    classified = _aligned(pl.concat(engine.map(kernels.classify, [
        (part, rules, mine) for part, mine in zip(parts, chosen, strict=True)])), book)
    return (pl.concat([book, classified.select("tier", "tier_label", "tier_basis",
                                               "override_reason")], how="horizontal")
            .with_columns(pl.lit(on).alias("business_date"),
                          pl.lit(rules.version).alias("rules_version"))
            .drop("coverage_share"))


def _aligned(frame: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (a kernel's rows, one per row of ``like``, from partitions in any order)
    sorted as ``like`` is, by loan; an error if its loans are not ``like``'s, row for row."""
    frame = frame.sort("loan_id")
    if frame.height != like.height or not (frame["loan_id"] == like["loan_id"]).all():
        raise ValueError("a kernel's rows are not one per loan of its input")
    return frame


def aggregate(state: pl.DataFrame) -> pl.DataFrame:
    """Loans, outstanding principal, overdue amounts and exposure per dimension value, class
    and bucket (one frame: ``dimension``, ``key``, ``tier_label``, ``bucket``, figures)."""
    parts = [
        state.group_by(pl.col(d).alias("key"), "tier_label", "bucket")
        .agg(pl.len().alias("loans"), pl.col("outstanding_principal_fen").sum(),
             pl.col("overdue_principal_fen").sum(), pl.col("overdue_interest_fen").sum(),
             pl.col("exposure_fen").sum())
        .with_columns(pl.lit(d).alias("dimension"))
        for d in DIMENSIONS]
    columns = ["dimension", "key", "tier_label", "bucket", "loans",
               "outstanding_principal_fen", "overdue_principal_fen", "overdue_interest_fen",
               "exposure_fen"]
    return (pl.concat([p.select(columns) for p in parts])
            .with_columns(pl.col("loans").cast(pl.Int64))
            .sort("dimension", "key", "tier_label", "bucket"))


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.is_empty():
        return {}
    counts = frame.group_by(column).len().sort(column)
    return {str(r[column]): int(r["len"]) for r in counts.iter_rows(named=True)}
