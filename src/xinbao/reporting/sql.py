"""Reporting's SQL: the questions its read models ask across policies and claims."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from xinbao.claims import tables as claims_tables
from xinbao.claims.model import ClaimStatus
from xinbao.platform.sql import SqlRepository
from xinbao.policy import tables as policy_tables
from xinbao.policy.model import PolicyStatus
from xinbao.reporting.repository import PolicyFigures

#: Claims whose amount went out: paid, and closed after payment.
_PAID = (ClaimStatus.PAID.value, ClaimStatus.RECOVERING.value, ClaimStatus.CLOSED.value)


class SqlReportingRepository(SqlRepository):
    def vintage_rows(self) -> list[tuple[int, date, date | None]]:
        """(policy, start date, first claim date or None) of every issued policy."""
        p, c = policy_tables.policies, claims_tables.claims
        first_claim = (select(c.c.policy_id, func.min(c.c.opened_on).label("opened_on"))
                       .group_by(c.c.policy_id).subquery())
        q = (select(p.c.id, p.c.start_date, first_claim.c.opened_on)
             .outerjoin(first_claim, first_claim.c.policy_id == p.c.id)
             .where(p.c.start_date.is_not(None)).order_by(p.c.id))
        return [(pid, start, opened) for pid, start, opened in self._c.execute(q)]

    def policy_figures(self) -> list[PolicyFigures]:
        """One statement: the register joined to its paid claims summed per policy."""
        p, c = policy_tables.policies, claims_tables.claims
        paid = (select(c.c.policy_id, func.sum(c.c.amount_fen).label("amount"),
                       func.sum(c.c.recovered_fen).label("recovered"))
                .where(c.c.status.in_(_PAID)).group_by(c.c.policy_id).subquery())
        issued = [s.value for s in PolicyStatus if s is not PolicyStatus.QUOTED]
        q = (select(p.c.id, p.c.product_code, p.c.mode, p.c.status,
                    p.c.principal_insured_fen + p.c.interest_insured_fen,
                    p.c.single_premium_fen - p.c.refunded_fen
                    + p.c.earlier_installments_fen + p.c.installment_premium_fen
                    * (p.c.installments_written - p.c.earlier_installments),
                    func.coalesce(paid.c.amount, 0), func.coalesce(paid.c.recovered, 0))
             .outerjoin(paid, paid.c.policy_id == p.c.id)
             .where(p.c.status.in_(issued)).order_by(p.c.id))
        # PostgreSQL sums integers as numeric: back to int fen.
        return [PolicyFigures(pid, code, mode, status, int(insured), int(premium),
                              int(claims), int(recovered))
                for pid, code, mode, status, insured, premium, claims, recovered
                in self._c.execute(q)]
