"""Ledger port: journal entries, appended and read, never changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol

from xinbao.iam import repository as iam
from xinbao.ledger.model import JournalEntry, Line


class LedgerRepository(Protocol):
    """Append-only: entries are added and read, never changed or removed."""

    def add(self, entry: JournalEntry) -> JournalEntry: ...
    def get(self, entry_id: int) -> JournalEntry | None: ...
    def get_by_key(self, source_command: str, idempotency_key: str) -> JournalEntry | None: ...
    def reversal_of(self, entry_id: int) -> JournalEntry | None: ...
    def lines(self, *, through: date | None = None) -> Iterable[Line]:
        """Lines posted on or before ``through`` (an adapter may return per-account sums)."""
        ...
    def entries(self, *, reference: str | None = None) -> Sequence[JournalEntry]: ...
    def monthly_totals(self) -> list[tuple[int, int, str, int]]:
        """(year, month, account, sum of lines) by posting month."""
        ...


class UnitOfWork(iam.UnitOfWork, Protocol):
    @property
    def ledger(self) -> LedgerRepository: ...
