"""Billing's port: the funders' settled premium statements."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from xinbao.billing.model import FunderStatement
from xinbao.claims import repository as claims


class FunderStatementRepository(Protocol):
    def add(self, statement: FunderStatement) -> FunderStatement: ...
    def for_cycle(self, funder_id: int, cycle_to: date) -> FunderStatement | None: ...
    def for_funder(self, funder_id: int) -> list[FunderStatement]:
        """The funder's settled statements, the oldest first (without claim batches)."""
        ...
    def by_reference(self, bank_reference: str) -> FunderStatement | None: ...


class UnitOfWork(claims.UnitOfWork, Protocol):
    @property
    def funder_statements(self) -> FunderStatementRepository: ...
