"""Loans' SQL repositories: loans with their schedules, and repayments."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import bindparam, func, insert, select, tuple_, update

from xinbao.catalogue.model.products import (
    RepaymentMethod,
)
from xinbao.loans import tables
from xinbao.loans.model import Installment, Loan, LoanStatus, Repayment
from xinbao.loans.repository import LoanHeader
from xinbao.platform.sql import SqlRepository, chunks, expanding


@functools.cache
def _statements() -> dict[str, Any]:
    """The statements of the per-file hot paths, built and compiled once.

    Building a statement per call costs more than running it on SQLite; these are executed
    with parameters only.
    """
    ln, i, r = tables.loans, tables.installments, tables.repayments
    paid_principal = (select(func.coalesce(func.sum(r.c.principal_fen), 0))
                      .where(r.c.loan_id == i.c.loan_id,
                             r.c.installment_number == i.c.number).scalar_subquery())
    paid_interest = (select(func.coalesce(func.sum(r.c.interest_fen), 0))
                     .where(r.c.loan_id == i.c.loan_id,
                            r.c.installment_number == i.c.number).scalar_subquery())
    # Installments before the current first unpaid one are paid (repayments are never taken
    # back), so the search starts there and stops at the first unpaid one.
    first_unpaid = (select(i.c.due_date)
                    .where(i.c.loan_id == ln.c.id, i.c.due_date >= ln.c.first_unpaid_due_date,
                           (i.c.principal_fen > paid_principal)
                           | (i.c.interest_fen > paid_interest))
                    .order_by(i.c.number).limit(1).scalar_subquery())
    totals = (select(r.c.loan_id, r.c.installment_number, func.sum(r.c.principal_fen),
                     func.sum(r.c.interest_fen))
              .where(r.c.loan_id.in_(expanding("loans")))
              .group_by(r.c.loan_id, r.c.installment_number))
    return {
        "headers": select(ln.c.id, ln.c.contract_no, ln.c.status, ln.c.start_date,
                          ln.c.term_months)
        .where(ln.c.funder_id == bindparam("funder"),
               ln.c.contract_no.in_(expanding("contracts"))),
        # A row-value IN alone defeats SQLite's index: loan_id IN picks the rows by index,
        # the row values keep only the named installments.
        "installments": select(i.c.loan_id, i.c.number, i.c.due_date, i.c.principal_fen,
                               i.c.interest_fen)
        .where(i.c.loan_id.in_(expanding("loans")),
               tuple_(i.c.loan_id, i.c.number).in_(expanding("keys"))),
        "refresh": update(ln).where(ln.c.id.in_(expanding("loans")),
                                    ln.c.first_unpaid_due_date.is_not(None))
        .values(first_unpaid_due_date=first_unpaid),
        "totals": totals,
        "totals_of": totals.where(r.c.installment_number.in_(expanding("numbers"))),
        "references": select(r.c.loan_id, r.c.reference)
        .where(r.c.loan_id.in_(expanding("loans")), r.c.reference.in_(expanding("refs"))),
    }


class SqlLoanRepository(SqlRepository):
    def add(self, loan: Loan) -> Loan:
        return self.add_many([loan])[0]

    def add_many(self, loans: Sequence[Loan]) -> list[Loan]:
        ids = self._insert_many(tables.loans, [{
            "funder_id": loan.funder_id, "contract_no": loan.contract_no,
            "principal_fen": loan.principal_fen, "annual_rate": loan.annual_rate,
            "term_months": loan.term_months, "method": loan.method.value,
            "start_date": loan.start_date, "status": loan.status.value,
            "first_unpaid_due_date": loan.first_unpaid_due_date} for loan in loans])
        for loan, new_id in zip(loans, ids, strict=True):
            loan.id = new_id
        rows = [{"loan_id": loan.id, "number": i.number, "due_date": i.due_date,
                 "principal_fen": i.principal_fen, "interest_fen": i.interest_fen}
                for loan in loans for i in loan.installments]
        if rows:
            self._c.execute(insert(tables.installments), rows)
        self._drain_many(loans)
        return list(loans)

    def save(self, loan: Loan) -> None:
        self.save_many([loan])

    def save_many(self, loans: Iterable[Loan]) -> None:
        loans = list(loans)
        self._update_rows(tables.loans, [
            {"id": loan.id, "status": loan.status.value,
             "first_unpaid_due_date": loan.first_unpaid_due_date} for loan in loans])
        self._drain_many(loans)

    def _load(self, condition: Any) -> list[Loan]:
        t = tables.loans
        rows = self._c.execute(select(t).where(condition).order_by(t.c.id)).all()
        if not rows:
            return []
        t = tables.installments
        schedules: dict[int, list[Installment]] = {}
        for chunk in chunks(r.id for r in rows):
            for i in self._c.execute(select(t).where(t.c.loan_id.in_(chunk))
                                     .order_by(t.c.loan_id, t.c.number)):
                schedules.setdefault(i.loan_id, []).append(Installment(
                    number=i.number, due_date=i.due_date, principal_fen=i.principal_fen,
                    interest_fen=i.interest_fen))
        return [Loan(funder_id=r.funder_id, contract_no=r.contract_no,
                     principal_fen=r.principal_fen, annual_rate=r.annual_rate,
                     term_months=r.term_months, method=RepaymentMethod(r.method),
                     start_date=r.start_date, installments=tuple(schedules[r.id]),
                     status=LoanStatus(r.status), first_unpaid_due_date=r.first_unpaid_due_date,
                     id=r.id) for r in rows]

    def headers(self, funder_id: int, contract_nos: Iterable[str]) -> dict[str, LoanHeader]:
        found: dict[str, LoanHeader] = {}
        for chunk in chunks(contract_nos):
            rows = self._c.execute(_statements()["headers"],
                                   {"funder": funder_id, "contracts": chunk})
            for loan_id, contract, status, start, term in rows:
                found[contract] = LoanHeader(loan_id, contract, LoanStatus(status), start, term)
        return found

    def installments(
        self, keys: Iterable[tuple[int, int]],
    ) -> dict[tuple[int, int], Installment]:
        found: dict[tuple[int, int], Installment] = {}
        for chunk in chunks(sorted(set(keys))):
            rows = self._c.execute(_statements()["installments"], {
                "loans": sorted({k[0] for k in chunk}), "keys": chunk})
            for loan_id, number, due, p, i in rows:
                found[(loan_id, number)] = Installment(number, due, p, i)
        return found

    def refresh_first_unpaid(self, loan_ids: Iterable[int]) -> None:
        for chunk in chunks(loan_ids):
            self._c.execute(_statements()["refresh"], {"loans": chunk})

    def get(self, loan_id: int) -> Loan | None:
        found = self._load(tables.loans.c.id == loan_id)
        return found[0] if found else None

    def get_by_contract(self, funder_id: int, contract_no: str) -> Loan | None:
        t = tables.loans
        found = self._load((t.c.funder_id == funder_id) & (t.c.contract_no == contract_no))
        return found[0] if found else None

    def get_many(self, loan_ids: Iterable[int]) -> dict[int, Loan]:
        found: dict[int, Loan] = {}
        for chunk in chunks(loan_ids):
            for loan in self._load(tables.loans.c.id.in_(chunk)):
                assert loan.id is not None
                found[loan.id] = loan
        return found



class SqlRepaymentRepository(SqlRepository):
    @staticmethod
    def _from_row(r: Any) -> Repayment:
        return Repayment(loan_id=r.loan_id, installment_number=r.installment_number,
                         paid_on=r.paid_on, principal_fen=r.principal_fen,
                         interest_fen=r.interest_fen, id=r.id)

    def add(self, repayment: Repayment, reference: str) -> Repayment:
        new_id = self._insert(tables.repayments, {
            "loan_id": repayment.loan_id, "installment_number": repayment.installment_number,
            "paid_on": repayment.paid_on, "principal_fen": repayment.principal_fen,
            "interest_fen": repayment.interest_fen, "reference": reference})
        return Repayment(**{**{f.name: getattr(repayment, f.name) for f in fields(repayment)},
                            "id": new_id})

    def add_many(self, items: Sequence[tuple[Repayment, str]]) -> None:
        if items:
            self._c.execute(insert(tables.repayments), [
                {"loan_id": r.loan_id, "installment_number": r.installment_number,
                 "paid_on": r.paid_on, "principal_fen": r.principal_fen,
                 "interest_fen": r.interest_fen, "reference": ref} for r, ref in items])

    def paid_totals(
        self, loan_ids: Iterable[int], numbers: Iterable[int] | None = None,
    ) -> dict[int, dict[int, tuple[int, int]]]:
        wanted = sorted(set(numbers)) if numbers is not None else None
        totals: dict[int, dict[int, tuple[int, int]]] = {}
        for chunk in chunks(loan_ids):
            if wanted is None:
                rows = self._c.execute(_statements()["totals"], {"loans": chunk})
            else:
                rows = self._c.execute(_statements()["totals_of"],
                                       {"loans": chunk, "numbers": wanted})
            for loan_id, number, p, i in rows:
                totals.setdefault(loan_id, {})[number] = (int(p), int(i))
        return totals

    def known_references(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        known: set[tuple[int, str]] = set()
        for chunk in chunks(set(keys)):
            wanted = set(chunk)
            rows = self._c.execute(_statements()["references"], {
                "loans": sorted({k[0] for k in wanted}), "refs": sorted({k[1] for k in wanted})})
            known.update((lid, ref) for lid, ref in rows if (lid, ref) in wanted)
        return known

    def for_loan(self, loan_id: int) -> list[Repayment]:
        t = tables.repayments
        rows = self._c.execute(select(t).where(t.c.loan_id == loan_id).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def get_by_reference(self, loan_id: int, reference: str) -> Repayment | None:
        t = tables.repayments
        r = self._c.execute(select(t).where(t.c.loan_id == loan_id,
                                            t.c.reference == reference)).first()
        return self._from_row(r) if r else None
