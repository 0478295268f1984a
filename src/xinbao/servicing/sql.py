"""Servicing's SQL: the end-of-day batch's set questions over policies in force, their loans
and products, each one statement (the batch asks only for the policies each step concerns)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from xinbao.catalogue import tables as catalogue_tables
from xinbao.loans import tables as loans_tables
from xinbao.platform.sql import SqlRepository
from xinbao.policy import tables as policy_tables
from xinbao.policy.model import PolicyStatus


class SqlEndOfDayQueries(SqlRepository):
    def installment_premiums_due(self, on: date) -> list[tuple[int, int]]:
        p, i, ln = policy_tables.policies, loans_tables.installments, loans_tables.loans
        q = (select(p.c.id, func.max(i.c.number))
             .join(ln, ln.c.id == p.c.loan_id)
             .join(i, i.c.loan_id == p.c.loan_id)
             .where(ln.c.first_unpaid_due_date <= on,
                    p.c.status == PolicyStatus.IN_FORCE.value, p.c.installment_premium_fen > 0,
                    i.c.due_date <= on, i.c.number > p.c.installments_written)
             .group_by(p.c.id).order_by(p.c.id))
        return [(pid, through) for pid, through in self._c.execute(q)]

    def single_premium_in_force(self) -> list[int]:
        p = policy_tables.policies
        q = (select(p.c.id).where(p.c.status == PolicyStatus.IN_FORCE.value,
                                  p.c.single_premium_fen > p.c.earned_fen + p.c.refunded_fen)
             .order_by(p.c.id))
        return list(self._c.execute(q).scalars())

    def fully_repaid(self) -> list[int]:
        p, ln = policy_tables.policies, loans_tables.loans
        q = (select(p.c.id).join(ln, ln.c.id == p.c.loan_id)
             .where(p.c.status == PolicyStatus.IN_FORCE.value,
                    ln.c.first_unpaid_due_date.is_(None))
             .order_by(p.c.id))
        return list(self._c.execute(q).scalars())

    def overdue(self, on: date) -> list[tuple[int, date, int]]:
        """(policy id, first unpaid due date, claim trigger) of policies in force past due."""
        p, ln, pr = policy_tables.policies, loans_tables.loans, catalogue_tables.products
        q = (select(p.c.id, ln.c.first_unpaid_due_date, pr.c.claim_trigger_dpd)
             .join(ln, ln.c.id == p.c.loan_id)
             .join(pr, (pr.c.code == p.c.product_code) & (pr.c.version == p.c.product_version))
             .where(p.c.status == PolicyStatus.IN_FORCE.value,
                    ln.c.first_unpaid_due_date < on)
             .order_by(p.c.id))
        return [(pid, due, trigger) for pid, due, trigger in self._c.execute(q)]
