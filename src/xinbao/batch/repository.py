"""The batch's ports: the book read in bulk as columnar frames (never object by object), and
the store of the daily snapshots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import polars as pl

from xinbao.iam import repository as iam
from xinbao.kernel.paging import Page, PageRequest
from xinbao.platform.repository import BatchRunRepository


@dataclass(frozen=True, slots=True)
class BookDay:
    """The frames a business day's snapshot is computed from, read together (one consistent
    view of the book)."""

    #: One row per insured loan still carrying risk (its policy in force or claimed):
    #: ``loan_id``, ``policy_id``, ``funder``, ``product``, ``region``, ``vintage`` (the month
    #: the loan started, ``YYYY-MM``), ``obligor`` (the borrower's blind index), ``retail``
    #: (an individual borrower), ``coverage_share`` (Float64, for exposure), and its kept
    #: state (``kernels.positions_from_state``): ``principal_fen``, ``principal_paid_fen``,
    #: ``first_unpaid_due_date``, ``replay`` (repayments reported paid after the day).
    loans: pl.DataFrame
    #: What the kept state cannot answer for (``kernels`` columns): of a loan replayed, all
    #: its installments; of a loan past due by its state, those from its first unpaid one to
    #: those due before the day; of the others, none.
    installments: pl.DataFrame
    #: The repayments of those loans reported paid by the day (``loan_id``, ``number``,
    #: ``principal_fen``, ``interest_fen``; several a installment: the kernels sum them).
    paid: pl.DataFrame
    #: The classification override in force on the day for each loan that has one:
    #: ``loan_id``, ``tier`` (1–5), ``reason`` (of each loan the newest row effective by the
    #: day; a newest row that lifts the override gives the loan none).
    overrides: pl.DataFrame
    #: Seconds each read took (``loans``, ``open installments``, ``overrides``).
    seconds: dict[str, float]


class BookFrames(Protocol):
    """The insured loans' data as frames, read in bulk (``batch/sql.py``)."""

    def day(self, on: date) -> BookDay:
        """The frames of the snapshot of ``on`` (see ``BookDay``)."""
        ...

    def funder_loans(self, funder_id: int, contract_nos: list[str]) -> pl.DataFrame:
        """The funder's loans with those contract numbers: ``contract_no``, ``loan_id``,
        ``start_date``, ``term_months``, ``status`` (what a file's rows are checked
        against)."""
        ...


@dataclass(frozen=True, slots=True)
class FeedFile:
    """A funder file applied: its content's hash and its reconciliation report."""

    funder_id: int
    file_type: str
    content_hash: str
    file_name: str
    business_date: date
    received_at: datetime
    rows: int
    report: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedFileEntry:
    """A file applied as the lists show it: its row's id and its funder's code."""

    id: int
    funder_code: str
    file: FeedFile


@dataclass(frozen=True, slots=True)
class FeedFileFilter:
    """Which files a list shows: of one funder, of one type (None: any)."""

    funder_id: int | None = None
    file_type: str | None = None


#: The keys the list of files may be sorted by.
FEED_FILE_SORTS = ("id", "business_date", "rows")


class FeedFileRepository(Protocol):
    def get(self, funder_id: int, file_type: str, content_hash: str) -> FeedFile | None: ...
    def add(self, feed: FeedFile) -> None:
        """Keep the file; a concurrent add of the same content collides (unique key)."""
        ...

    def list(self, where: FeedFileFilter, page: PageRequest) -> Page[FeedFileEntry]:
        """One page of the files applied ``where`` selects (``FEED_FILE_SORTS``)."""
        ...

    def find(self, file_id: int) -> FeedFileEntry | None: ...


@dataclass(frozen=True, slots=True)
class Override:
    """A row of a loan's classification overrides: its tier from ``effective_from`` (None:
    the override lifted), why, and who set it (the user's name) when."""

    id: int
    loan_id: int
    tier: int | None
    reason: str
    effective_from: date
    set_by: str
    set_at: datetime


class OverrideRepository(Protocol):
    """The classification overrides, append-only (``batch/sql.py``)."""

    def lock(self, loan_id: int) -> bool:
        """Hold the loan's overrides until the unit of work ends (a concurrent change of them
        waits, then sees what this one committed): False when there is no such loan."""
        ...

    def carries_risk(self, loan_id: int) -> bool:
        """Whether the loan's policy is in force or claimed (the batch classifies it)."""
        ...

    def newest(self, loan_id: int) -> Override | None: ...
    def add(self, loan_id: int, tier: int | None, reason: str, effective_from: date, *,
            set_by: int, set_at: datetime) -> Override:
        """Append a row (``set_by``: the user's id)."""
        ...

    def list(self, loan_id: int | None = None) -> list[Override]:
        """Every row, or the loan's, oldest first."""
        ...


class SnapshotStore(Protocol):
    """Where a business day's snapshot is kept, frames by name (``loans``, ``aggregates``,
    ``signals``), written as a whole or not at all (a rerun of the day replaces it)."""

    def write(self, on: date, frames: dict[str, pl.DataFrame]) -> None: ...
    def read(self, on: date) -> dict[str, pl.DataFrame] | None: ...
    def days(self) -> list[date]:
        """The days with a snapshot, newest first."""
        ...

    def frame(self, on: date, name: str,
              columns: Sequence[str] | None = None) -> pl.DataFrame | None:
        """One frame of the day's snapshot, or only some of its columns (None: no such)."""
        ...


class UnitOfWork(iam.UnitOfWork, Protocol):
    @property
    def book(self) -> BookFrames: ...
    @property
    def feed_files(self) -> FeedFileRepository: ...
    @property
    def batch_runs(self) -> BatchRunRepository: ...


class OverrideUnitOfWork(iam.UnitOfWork, Protocol):
    """Setting a loan's classification by hand: the overrides and who the users are."""

    @property
    def overrides(self) -> OverrideRepository: ...
    @property
    def users(self) -> iam.UserRepository: ...
