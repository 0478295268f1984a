"""The batch's ports: the book read in bulk as columnar frames (never object by object), and
the store of the daily snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import polars as pl

from xinbao.iam import repository as iam


class BookFrames(Protocol):
    """The insured loans' data as frames, read in bulk (``batch/sql.py``)."""

    def loans(self) -> pl.DataFrame:
        """One row per insured loan still carrying risk (its policy in force or claimed):
        ``loan_id``, ``policy_id``, ``funder``, ``product``, ``region``, ``vintage`` (the
        month the loan started, ``YYYY-MM``), ``obligor`` (the borrower's blind index),
        ``retail`` (an individual borrower), ``coverage_share`` (Float64, for exposure)."""
        ...

    def installments(self) -> pl.DataFrame:
        """The schedules of those loans (``kernels`` columns)."""
        ...

    def repayments(self, through: date) -> pl.DataFrame:
        """Repayments of those loans reported as paid on or before ``through``."""
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


class FeedFileRepository(Protocol):
    def get(self, funder_id: int, file_type: str, content_hash: str) -> FeedFile | None: ...
    def add(self, feed: FeedFile) -> None:
        """Keep the file; a concurrent add of the same content collides (unique key)."""
        ...


class SnapshotStore(Protocol):
    """Where a business day's snapshot is kept, frames by name (``loans``, ``aggregates``,
    ``signals``), written as a whole or not at all (a rerun of the day replaces it)."""

    def write(self, on: date, frames: dict[str, pl.DataFrame]) -> None: ...
    def read(self, on: date) -> dict[str, pl.DataFrame] | None: ...


class UnitOfWork(iam.UnitOfWork, Protocol):
    @property
    def book(self) -> BookFrames: ...
    @property
    def feed_files(self) -> FeedFileRepository: ...
