"""Reporting's SQL: the questions its read models ask across policies and claims."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from xinbao.claims import tables as claims_tables
from xinbao.platform.sql import SqlRepository
from xinbao.policy import tables as policy_tables


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
