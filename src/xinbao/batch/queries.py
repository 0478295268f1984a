"""What the batch keeps, read (issue 21): the days with an end-of-day snapshot and a day's
snapshot (the insurer's own risk view: whoever may read its reports), and the funder files
applied with their reconciliation reports (whoever may read the loans; a funder's user sees
its own funder's files only, another's is not found).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from xinbao.batch.kernels import SIGNAL_COLUMNS
from xinbao.batch.repository import (
    FeedFileEntry,
    FeedFileFilter,
    SnapshotStore,
    UnitOfWork,
)
from xinbao.iam import repository as iam
from xinbao.iam.access import authorize, own, tenant
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import NotFound
from xinbao.kernel.paging import Page, PageRequest


def snapshot_days(uow: iam.UnitOfWork, store: SnapshotStore) -> list[date]:
    """The business days with a snapshot kept, newest first."""
    authorize(uow, Action.REPORT_READ)
    return store.days()


@dataclass(frozen=True, slots=True)
class DayView:
    """What a day's snapshot says as a whole: its aggregates (by dimension, class and
    bucket: ``services.aggregate``) and its early-warning signals, each signal of a loan
    with the loan's policy (``policy_id``; null for a signal of a funder or vintage)."""

    on: date
    aggregates: pl.DataFrame
    signals: pl.DataFrame


def day_snapshot(uow: iam.UnitOfWork, store: SnapshotStore, on: date) -> DayView:
    """The snapshot of ``on`` as a whole (the per-loan frame is not read but for the
    policies of the loans signalled); NotFound when the day has none."""
    authorize(uow, Action.REPORT_READ)
    aggregates = store.frame(on, "aggregates")
    if aggregates is None:
        raise NotFound("snapshot", on.isoformat())
    signals = store.frame(on, "signals")
    if signals is None:
        signals = pl.DataFrame(schema={c: pl.String for c in SIGNAL_COLUMNS}).with_columns(
            pl.col("loan_id").cast(pl.Int64))
    policies = store.frame(on, "loans", columns=("loan_id", "policy_id"))
    if policies is None:
        policies = pl.DataFrame(schema={"loan_id": pl.Int64, "policy_id": pl.Int64})
    signals = signals.join(policies.join(signals.select("loan_id").drop_nulls().unique(),
                                         on="loan_id", how="semi"),
                           on="loan_id", how="left", nulls_equal=False)
    return DayView(on, aggregates, signals)


def feed_files(uow: UnitOfWork, where: FeedFileFilter,
               page: PageRequest) -> Page[FeedFileEntry]:
    """One page of the funder files applied ``where`` selects, newest first by default; a
    funder's user sees its own funder's only (asking for another's finds nothing)."""
    authorize(uow, Action.LOAN_READ)
    scope = tenant(uow)
    if scope is not None:
        if where.funder_id not in (None, scope):
            return Page([], 0, page)
        where = FeedFileFilter(scope, where.file_type)
    with uow:
        return uow.feed_files.list(where, page)


def feed_file(uow: UnitOfWork, file_id: int) -> FeedFileEntry:
    """One file applied, with its report; NotFound for none, or another funder's."""
    authorize(uow, Action.LOAN_READ)
    with uow:
        entry = uow.feed_files.find(file_id)
    if entry is None:
        raise NotFound("feed file", file_id)
    own(uow, entry.file.funder_id, "feed file", file_id)
    return entry
