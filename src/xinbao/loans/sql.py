"""Loans' SQL repositories: loans with their schedules, and repayments."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from xinbao.catalogue.model.products import (
    RepaymentMethod,
)
from xinbao.loans import tables
from xinbao.loans.model import Installment, Loan, LoanStatus, Repayment
from xinbao.loans.repository import LoanHeader
from xinbao.platform.prepared import Prepared
from xinbao.platform.sql import SqlRepository
from xinbao.platform.sql_lists import in_list

#: Installments are looked up by one key per (loan, number): loan id × _PAIR + number, one
#: key a pair while numbers stay below it (the shipped products run to 120 months). A larger
#: number still finds its row; rows of other pairs sharing its key are dropped by the caller.
_PAIR = 1000
#: Installment numbers are SQL integers: a number past them names no installment.
_LARGEST = 2**31 - 1


@functools.cache
def _statements() -> dict[str, Prepared]:
    """The statements of the per-file hot paths, built and compiled once and run on the
    driver's cursor (``platform.prepared``), their key lists bound as one parameter each
    (``platform.sql_lists.in_list``): a file's statements are the same text whatever its
    size, and SQLAlchemy's execution path is skipped.
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
    totals = (select(r.c.loan_id, r.c.installment_number,
                     func.sum(r.c.principal_fen).label("principal"),
                     func.sum(r.c.interest_fen).label("interest"))
              .where(in_list(r.c.loan_id, "loans"))
              .group_by(r.c.loan_id, r.c.installment_number))
    statements: dict[str, Any] = {
        "headers": select(ln.c.id, ln.c.contract_no, ln.c.status, ln.c.start_date,
                          ln.c.term_months)
        .where(ln.c.funder_id == bindparam("funder"), in_list(ln.c.contract_no, "contracts")),
        # The loan ids pick the rows by the primary key's index; the pair keys keep only the
        # named installments (a row-value IN would scan the table on SQLite).
        "installments": select(i.c.loan_id, i.c.number, i.c.due_date, i.c.principal_fen,
                               i.c.interest_fen)
        .where(in_list(i.c.loan_id, "loans"),
               in_list(i.c.loan_id * _PAIR + i.c.number, "keys")),
        "refresh": update(ln).where(in_list(ln.c.id, "loans"),
                                    ln.c.first_unpaid_due_date.is_not(None))
        .values(first_unpaid_due_date=first_unpaid),
        "refresh_paid": update(ln).where(in_list(ln.c.id, "loans"))
        .values(principal_paid_fen=select(func.coalesce(func.sum(r.c.principal_fen), 0))
                .where(r.c.loan_id == ln.c.id).scalar_subquery()),
        "save_if_status": update(ln).where(ln.c.id == bindparam("b_id"),
                                           ln.c.status == bindparam("b_was"))
        .values(status=bindparam("b_status"),
                first_unpaid_due_date=bindparam("b_first_unpaid")),
        "totals": totals,
        "totals_of": totals.where(in_list(r.c.installment_number, "numbers")),
        "references": select(r.c.loan_id, r.c.reference)
        .where(in_list(r.c.loan_id, "loans"), in_list(r.c.reference, "refs")),
        "loans": select(ln).where(in_list(ln.c.id, "ids")).order_by(ln.c.id),
        "schedules": select(i).where(in_list(i.c.loan_id, "loans"))
        .order_by(i.c.loan_id, i.c.number),
        "add_installments": insert(i),
        "add_repayments": insert(r),
    }
    return {name: Prepared(statement) for name, statement in statements.items()}


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
        _statements()["add_installments"].execute_many(self._c, [
            {"loan_id": loan.id, "number": i.number, "due_date": i.due_date,
             "principal_fen": i.principal_fen, "interest_fen": i.interest_fen}
            for loan in loans for i in loan.installments])
        self._drain_many(loans)
        return list(loans)

    def save(self, loan: Loan) -> None:
        self.save_many([loan])

    def reassign(self, loan: Loan) -> None:
        t = tables.loans
        self._c.execute(update(t).where(t.c.id == loan.id).values(
            funder_id=loan.funder_id, contract_no=loan.contract_no))
        self._drain(loan)

    def reschedule(self, loan: Loan) -> None:
        t, i = tables.loans, tables.installments
        self._c.execute(update(t).where(t.c.id == loan.id).values(
            term_months=loan.term_months, annual_rate=loan.annual_rate,
            first_unpaid_due_date=loan.first_unpaid_due_date))
        self._c.execute(delete(i).where(i.c.loan_id == loan.id))
        _statements()["add_installments"].execute_many(self._c, [
            {"loan_id": loan.id, "number": n.number, "due_date": n.due_date,
             "principal_fen": n.principal_fen, "interest_fen": n.interest_fen}
            for n in loan.installments])
        self._drain(loan)

    def save_if_status(self, loan: Loan, was: LoanStatus) -> bool:
        t = tables.loans
        changed = self._c.execute(
            update(t).where(t.c.id == loan.id, t.c.status == was.value)
            .values(status=loan.status.value,
                    first_unpaid_due_date=loan.first_unpaid_due_date)).rowcount
        if changed != 1:
            loan.events.clear()
            return False
        self._drain(loan)
        return True

    def save_all_if_status(self, loans: Sequence[Loan], was: LoanStatus) -> bool:
        if not loans:
            return True
        changed = _statements()["save_if_status"].execute_many(self._c, [
            {"b_id": loan.id, "b_was": was.value, "b_status": loan.status.value,
             "b_first_unpaid": loan.first_unpaid_due_date} for loan in loans])
        if changed != len(loans):
            for loan in loans:
                loan.events.clear()
            return False
        self._drain_many(loans)
        return True

    def save_many(self, loans: Iterable[Loan]) -> None:
        loans = list(loans)
        self._update_rows(tables.loans, [
            {"id": loan.id, "status": loan.status.value,
             "first_unpaid_due_date": loan.first_unpaid_due_date} for loan in loans])
        self._drain_many(loans)

    def _load(self, condition: Any) -> list[Loan]:
        t = tables.loans
        return self._with_schedules(self._c.execute(select(t).where(condition)
                                                    .order_by(t.c.id)).all())

    def _load_ids(self, loan_ids: Iterable[int]) -> list[Loan]:
        ids = list(loan_ids)
        return self._with_schedules(_statements()["loans"].all(self._c, {"ids": ids})
                                    if ids else [])

    def _with_schedules(self, rows: Sequence[Any]) -> list[Loan]:
        if not rows:
            return []
        schedules: dict[int, list[Installment]] = {}
        for i in _statements()["schedules"].all(self._c, {"loans": [r.id for r in rows]}):
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
        contracts = list(contract_nos)
        if not contracts:
            return {}
        rows = _statements()["headers"].all(self._c, {"funder": funder_id,
                                                      "contracts": contracts})
        return {contract: LoanHeader(loan_id, contract, LoanStatus(status), start, term)
                for loan_id, contract, status, start, term in rows}

    def installments(
        self, keys: Iterable[tuple[int, int]],
    ) -> dict[tuple[int, int], Installment]:
        wanted = set(keys)
        if not wanted:
            return {}
        rows = _statements()["installments"].all(self._c, {
            "loans": sorted({loan_id for loan_id, _ in wanted}),
            "keys": sorted(loan_id * _PAIR + n for loan_id, n in wanted if 0 < n <= _LARGEST)})
        return {(loan_id, number): Installment(number, due, p, i)
                for loan_id, number, due, p, i in rows if (loan_id, number) in wanted}

    def refresh_first_unpaid(self, loan_ids: Iterable[int]) -> None:
        ids = list(loan_ids)
        if ids:
            _statements()["refresh"].execute(self._c, {"loans": ids})
            _statements()["refresh_paid"].execute(self._c, {"loans": ids})

    def get(self, loan_id: int) -> Loan | None:
        found = self._load_ids([loan_id])
        return found[0] if found else None

    def get_by_contract(self, funder_id: int, contract_no: str) -> Loan | None:
        t = tables.loans
        found = self._load((t.c.funder_id == funder_id) & (t.c.contract_no == contract_no))
        return found[0] if found else None

    def get_many(self, loan_ids: Iterable[int]) -> dict[int, Loan]:
        found: dict[int, Loan] = {}
        for loan in self._load_ids(set(loan_ids)):
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
        _statements()["add_repayments"].execute_many(self._c, [
            {"loan_id": r.loan_id, "installment_number": r.installment_number,
             "paid_on": r.paid_on, "principal_fen": r.principal_fen,
             "interest_fen": r.interest_fen, "reference": ref} for r, ref in items])

    def paid_totals(
        self, loan_ids: Iterable[int], numbers: Iterable[int] | None = None,
    ) -> dict[int, dict[int, tuple[int, int]]]:
        ids = list(loan_ids)
        if not ids:
            return {}
        if numbers is None:
            rows = _statements()["totals"].all(self._c, {"loans": ids})
        else:
            rows = _statements()["totals_of"].all(self._c, {"loans": ids,
                                                            "numbers": sorted(set(numbers))})
        totals: dict[int, dict[int, tuple[int, int]]] = {}
        for loan_id, number, p, i in rows:
            totals.setdefault(loan_id, {})[number] = (int(p), int(i))
        return totals

    def known_references(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        wanted = set(keys)
        if not wanted:
            return set()
        rows = _statements()["references"].all(self._c, {
            "loans": sorted({k[0] for k in wanted}), "refs": sorted({k[1] for k in wanted})})
        return {(lid, ref) for lid, ref in rows if (lid, ref) in wanted}

    def for_loan(self, loan_id: int) -> list[Repayment]:
        t = tables.repayments
        rows = self._c.execute(select(t).where(t.c.loan_id == loan_id).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def get_by_reference(self, loan_id: int, reference: str) -> Repayment | None:
        t = tables.repayments
        r = self._c.execute(select(t).where(t.c.loan_id == loan_id,
                                            t.c.reference == reference)).first()
        return self._from_row(r) if r else None
