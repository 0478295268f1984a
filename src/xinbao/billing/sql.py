"""Billing's SQL repository."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from xinbao.billing import tables
from xinbao.billing.model import Figures, FunderStatement
from xinbao.catalogue import tables as catalogue_tables
from xinbao.platform.sql import SqlRepository


class SqlFunderStatementRepository(SqlRepository):
    @staticmethod
    def _from_row(r: Any) -> FunderStatement:
        return FunderStatement(
            r.funder_id, r.code, r.name, r.number, r.cycle_from, r.cycle_to,
            r.premium_collector, Figures(r.premium_held_fen, r.refunds_fen, r.commission_fen,
                                         r.clawback_fen),
            settled_on=r.settled_on, bank_reference=r.bank_reference, id=r.id)

    def _select(self, *conditions: Any) -> list[FunderStatement]:
        t, f = tables.funder_statements, catalogue_tables.funders
        q = (select(t, f.c.code, f.c.name).join(f, f.c.id == t.c.funder_id)
             .where(*conditions).order_by(t.c.cycle_to))
        return [self._from_row(r) for r in self._c.execute(q)]

    def add(self, statement: FunderStatement) -> FunderStatement:
        s, fig = statement, statement.figures
        assert s.settled_on is not None and s.bank_reference is not None
        new_id = self._insert(tables.funder_statements, {
            "funder_id": s.funder_id, "number": s.number, "cycle_from": s.cycle_from,
            "cycle_to": s.cycle_to, "premium_collector": s.premium_collector,
            "premium_held_fen": fig.premium_held_fen, "refunds_fen": fig.refunds_fen,
            "commission_fen": fig.commission_fen, "clawback_fen": fig.clawback_fen,
            "claims_paid_fen": s.claims_paid_fen, "settled_on": s.settled_on,
            "bank_reference": s.bank_reference})
        return FunderStatement(s.funder_id, s.funder_code, s.funder_name, s.number,
                               s.cycle_from, s.cycle_to, s.premium_collector, fig,
                               s.claim_batches, s.settled_on, s.bank_reference, new_id)

    def for_cycle(self, funder_id: int, cycle_to: date) -> FunderStatement | None:
        t = tables.funder_statements
        found = self._select(t.c.funder_id == funder_id, t.c.cycle_to == cycle_to)
        return found[0] if found else None

    def for_funder(self, funder_id: int) -> list[FunderStatement]:
        return self._select(tables.funder_statements.c.funder_id == funder_id)

    def by_reference(self, bank_reference: str) -> FunderStatement | None:
        found = self._select(tables.funder_statements.c.bank_reference == bank_reference)
        return found[0] if found else None
