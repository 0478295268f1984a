"""Servicing's port and unit of work: the funder's repayment data and the end-of-day batch
touch loans, policies, premium and claims; the batch's set questions are servicing's own."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from xinbao.batch import repository as batch
from xinbao.claims import repository as claims
from xinbao.platform.repository import BatchRunRepository


class EndOfDayQueries(Protocol):
    """The end-of-day batch's set questions, over policies in force only. Answered in SQL
    (``servicing/sql.py``) and tested on SQLite and PostgreSQL; the in-memory fake has no
    copy of them, so tests of the batch run on SQLite."""

    def installment_premiums_due(self, on: date) -> list[tuple[int, int]]:
        """(policy, last installment number due by ``on``) where premiums are unwritten, for
        loans past due (a paid installment's premium is written when it is recorded)."""
        ...

    def single_premium_in_force(self) -> list[int]:
        """Policies with single premium not yet all earned or refunded."""
        ...

    def fully_repaid(self) -> list[int]:
        """Policies whose loan has no unpaid installment left."""
        ...

    def overdue(self, on: date) -> list[tuple[int, date, int]]:
        """(policy, first unpaid due date, product's claim trigger) for loans past due."""
        ...


class UnitOfWork(claims.UnitOfWork, Protocol):
    @property
    def end_of_day(self) -> EndOfDayQueries: ...
    @property
    def batch_runs(self) -> BatchRunRepository: ...


class FeedUnitOfWork(UnitOfWork, batch.UnitOfWork, Protocol):
    """Applying a funder's file: servicing's unit of work with the book's frames and the
    files applied."""
