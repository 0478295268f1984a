"""Loan ports: loans with their schedules, and the repayments recorded against them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from xinbao.iam import repository as iam
from xinbao.loans.model import Installment, Loan, LoanStatus, Repayment


@dataclass(frozen=True, slots=True)
class LoanHeader:
    """A loan without its schedule: what a repayment file needs to check each record."""

    id: int
    contract_no: str
    status: LoanStatus
    start_date: date
    term_months: int


class LoanRepository(Protocol):
    def add(self, loan: Loan) -> Loan: ...
    def save(self, loan: Loan) -> None: ...
    def save_if_status(self, loan: Loan, was: LoanStatus) -> bool:
        """Save the loan only if its stored status is still ``was`` (a concurrent change of
        state makes it match nothing: False, nothing written, its events dropped)."""
        ...
    def save_all_if_status(self, loans: Sequence[Loan], was: LoanStatus) -> bool:
        """``save_if_status`` for many loans in one statement batch: True when every one was
        still ``was`` and is saved; False when any was not (then the caller's transaction
        must not commit: the others may be written; every loan's events are dropped)."""
        ...
    def reassign(self, loan: Loan) -> None:
        """Write the loan's funder and contract number (``Loan.transfer``) and its events."""
        ...
    def reschedule(self, loan: Loan) -> None:
        """Write the loan's schedule (``Loan.reschedule``: its installments, term, rate and
        first unpaid due date) and its events."""
        ...
    def get(self, loan_id: int) -> Loan | None: ...
    def get_by_contract(self, funder_id: int, contract_no: str) -> Loan | None: ...
    def get_many(self, loan_ids: Iterable[int]) -> dict[int, Loan]: ...
    def save_many(self, loans: Iterable[Loan]) -> None: ...
    def add_many(self, loans: Sequence[Loan]) -> list[Loan]: ...
    def headers(self, funder_id: int, contract_nos: Iterable[str]) -> dict[str, LoanHeader]: ...
    def installments(
        self, keys: Iterable[tuple[int, int]],
    ) -> dict[tuple[int, int], Installment]:
        """The installments named by (loan id, number)."""
        ...

    def refresh_first_unpaid(self, loan_ids: Iterable[int]) -> None:
        """Recompute each loan's first unpaid due date from its schedule and repayments
        (the rule of ``loans.model.first_unpaid_due_date``, checked by a contract test),
        and the principal it has repaid (the batch's loan state, ``batch/sql.py``).

        Repayments are never taken back, so an adapter may search onwards from the stored
        date (a loan is disbursed with its first due date; None means all is paid)."""
        ...


class RepaymentRepository(Protocol):
    def add(self, repayment: Repayment, reference: str) -> Repayment: ...
    def for_loan(self, loan_id: int) -> list[Repayment]: ...
    def get_by_reference(self, loan_id: int, reference: str) -> Repayment | None: ...
    def add_many(self, items: Sequence[tuple[Repayment, str]]) -> None: ...
    def paid_totals(
        self, loan_ids: Iterable[int], numbers: Iterable[int] | None = None,
    ) -> dict[int, dict[int, tuple[int, int]]]:
        """(principal, interest) paid per loan and installment (only ``numbers`` if given)."""
        ...

    def known_references(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """Which of these (loan id, reference) pairs are recorded already."""
        ...


class UnitOfWork(iam.UnitOfWork, Protocol):
    @property
    def loans(self) -> LoanRepository: ...
    @property
    def repayments(self) -> RepaymentRepository: ...
