"""Servicing's SQL: the end-of-day batch's set questions over policies in force, their loans
and products (the batch asks only for the policies each step concerns).

The questions about loans past due start from the loans: the index on their first unpaid due
date finds the few past due, and their policies are then looked up by loan. Asked the other
way round, SQLite (which has no statistics to go on) took ``status = 'in_force'`` for a
selective index look-up and walked every policy in force each day, 3–4 ms a question at the
demo's 10,000 policies in force; the loans first, 0.1–1 ms. The policies' status is
therefore compared through an expression that no index serves (``status || ''``): the loan
list is the selective part.
"""

from __future__ import annotations

import functools
from datetime import date

from sqlalchemy import bindparam, func, select

from xinbao.catalogue import tables as catalogue_tables
from xinbao.loans import tables as loans_tables
from xinbao.platform.prepared import Prepared
from xinbao.platform.sql import SqlRepository
from xinbao.platform.sql_lists import in_list
from xinbao.policy import tables as policy_tables
from xinbao.policy.model import PolicyStatus


@functools.cache
def _statements() -> dict[str, Prepared]:
    """The batch's statements, built and compiled once, run on the driver's cursor."""
    p, i, ln = policy_tables.policies, loans_tables.installments, loans_tables.loans
    pr = catalogue_tables.products
    in_force = p.c.status.concat("") == PolicyStatus.IN_FORCE.value  # no index: see above
    return {name: Prepared(statement) for name, statement in {
        "loans_due": select(ln.c.id).where(ln.c.first_unpaid_due_date <= bindparam("on")),
        "loans_overdue": select(ln.c.id, ln.c.first_unpaid_due_date)
        .where(ln.c.first_unpaid_due_date < bindparam("on")),
        "premiums_due": select(p.c.id, func.max(i.c.number).label("through"))
        .join(i, i.c.loan_id == p.c.loan_id)
        .where(in_list(p.c.loan_id, "loans"), in_force, p.c.installment_premium_fen > 0,
               i.c.due_date <= bindparam("on"), i.c.number > p.c.installments_written)
        .group_by(p.c.id).order_by(p.c.id),
        "overdue": select(p.c.id, p.c.loan_id, pr.c.claim_trigger_dpd)
        .join(pr, (pr.c.code == p.c.product_code) & (pr.c.version == p.c.product_version))
        .where(in_list(p.c.loan_id, "loans"), in_force).order_by(p.c.id),
    }.items()}


class SqlEndOfDayQueries(SqlRepository):
    def installment_premiums_due(self, on: date) -> list[tuple[int, int]]:
        loans = [row.id for row in _statements()["loans_due"].all(self._c, {"on": on})]
        if not loans:
            return []
        return [(pid, through) for pid, through in
                _statements()["premiums_due"].all(self._c, {"loans": loans, "on": on})]

    def fully_repaid(self) -> list[int]:
        p, ln = policy_tables.policies, loans_tables.loans
        q = (select(p.c.id).join(ln, ln.c.id == p.c.loan_id)
             .where(p.c.status == PolicyStatus.IN_FORCE.value,
                    ln.c.first_unpaid_due_date.is_(None))
             .order_by(p.c.id))
        return list(self._c.execute(q).scalars())

    def overdue(self, on: date) -> list[tuple[int, date, int]]:
        """(policy id, first unpaid due date, claim trigger) of policies in force past due."""
        due = dict(_statements()["loans_overdue"].all(self._c, {"on": on}))
        if not due:
            return []
        return [(pid, due[loan_id], trigger) for pid, loan_id, trigger in
                _statements()["overdue"].all(self._c, {"loans": list(due)})]
