"""Servicing's port and unit of work: the funder's repayment data and the end-of-day batch
touch loans, policies, premium and claims; the batch's set questions are servicing's own."""

from __future__ import annotations

from datetime import date
from typing import Protocol

import polars as pl

from xinbao.batch import repository as batch
from xinbao.claims import repository as claims
from xinbao.platform.repository import BatchRunRepository
from xinbao.risk import repository as risk


class EndOfDayQueries(Protocol):
    """The end-of-day batch's set questions, over policies in force only. Answered in SQL
    (``servicing/sql.py``) and tested on SQLite and PostgreSQL; the in-memory fake has no
    copy of them, so tests of the batch run on SQLite."""

    def installment_premiums_due(self, on: date) -> list[tuple[int, int]]:
        """(policy, last installment number due by ``on``) where premiums are unwritten, for
        loans past due (a paid installment's premium is written when it is recorded)."""
        ...

    def fully_repaid(self) -> list[int]:
        """Policies whose loan has no unpaid installment left."""
        ...

    def overdue(self, on: date) -> list[tuple[int, date, int]]:
        """(policy, first unpaid due date, product's claim trigger) for loans past due."""
        ...


class UnitOfWork(claims.UnitOfWork, risk.UnitOfWork, Protocol):
    @property
    def end_of_day(self) -> EndOfDayQueries: ...
    @property
    def batch_runs(self) -> BatchRunRepository: ...


class StagedRepayments(Protocol):
    """A repayment file's rows staged in the transaction (``servicing/staging.py``), checked
    against the loans' schedules and written by set-based statements, never row by row.
    Rows are ``batch.feeds.check``'s typed frame: ``_row``, ``loan_id``,
    ``installment_number_int``, ``paid_on_date``, ``principal_fen``, ``interest_fen``,
    ``premium_fen``, ``reference``."""

    def stage(self, rows: pl.DataFrame) -> None: ...

    def mark_repeats(self) -> pl.DataFrame:
        """The rows (``_row``) whose transaction number is recorded on their loan already:
        repeats, left out of every step after (``overpaid`` leaves them out by itself)."""
        ...

    def overpaid(self, *, installments_once: bool = False) -> pl.DataFrame:
        """The rows that take an installment past its principal or interest, with what was
        paid before and the file's earlier rows for it (``_row``, ``installment_number``,
        ``principal_left_fen``, ``interest_left_fen``: left before the file);
        ``installments_once`` when no installment is in the file twice (no running sums)."""
        ...

    def premium_without_terms(self) -> pl.DataFrame:
        """The rows that carry premium for a loan whose policy has no installment premium."""
        ...

    def installment_premium_due(self) -> list[tuple[int, int]]:
        """(policy, highest installment the file repays) for the loans whose policy has an
        installment premium."""
        ...

    def apply(self) -> int:
        """Write the rows that are not repeats and move their loans' first unpaid
        installment; the rows written."""
        ...


#: The event a difference from a funder's loan status is kept as (one per row key).
STATUS_DIFFERS = "LoanStatusDiffers"


class FeedBook(Protocol):
    """What a funder's disbursement, loan-status and early-settlement files are checked and
    compared against, read as frames in a few statements (``servicing/feed_book.py``)."""

    def applications(self, funder_id: int, refs: list[str]) -> pl.DataFrame:
        """The funder's applications with those numbers, with their policy and the contract
        it is issued on: ``application_ref``, ``application_id``, ``app_term_months``,
        ``policy_id``, ``policy_status``, ``principal_insured_fen``, ``quoted_on``,
        ``issued_contract_no`` (null while the policy is a quote)."""
        ...

    def schedules(self, loan_ids: list[int]) -> pl.DataFrame:
        """Those loans' installments: ``loan_id``, ``number``, ``due_date``,
        ``principal_fen``, ``interest_fen``."""
        ...

    def repayments(self, loan_ids: list[int]) -> pl.DataFrame:
        """Every repayment recorded on those loans: ``loan_id``, ``number``, ``paid_on``,
        ``principal_fen``, ``interest_fen``, ``reference``."""
        ...

    def status_differences(self, loan_ids: list[int]) -> pl.DataFrame:
        """The differences from a funder's loan status kept on those loans (their
        ``STATUS_DIFFERS`` events: ``loan_id``, ``as_of``): the row keys applied before."""
        ...


class FeedUnitOfWork(UnitOfWork, batch.UnitOfWork, Protocol):
    """Applying a funder's file: servicing's unit of work with the book's frames, the files
    applied and the file's staged rows."""

    @property
    def staged_repayments(self) -> StagedRepayments: ...
    @property
    def feed_book(self) -> FeedBook: ...
