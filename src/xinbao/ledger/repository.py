"""Ledger port: journal entries, appended and read, never changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from xinbao.iam import repository as iam
from xinbao.kernel.paging import Page, PageRequest
from xinbao.ledger.model import JournalEntry, Line

#: The orders a page of entries may be read in (ties by id, the same way).
ENTRY_SORTS = ("id", "date")


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Which entries a page holds: with a line on ``account``, posted from ``posted_from``
    to ``posted_to`` (both included), about the business object ``reference``; None: any."""

    account: str | None = None
    posted_from: date | None = None
    posted_to: date | None = None
    reference: str | None = None


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
    def party_totals(self, party: str, *, posted_from: date, posted_to: date,
                     ) -> list[tuple[str, str, int]]:
        """(source command, account, sum of lines) of one party's lines posted from
        ``posted_from`` to ``posted_to``, by source and account."""
        ...
    def page(self, where: EntryFilter, request: PageRequest) -> Page[JournalEntry]:
        """One page of the entries ``where`` selects, with their lines, in the order of
        ``request.sort`` (one of ``ENTRY_SORTS``), and how many there are in all."""
        ...
    def monthly_totals(self) -> list[tuple[int, int, str, int]]:
        """(year, month, account, sum of lines) by posting month."""
        ...


class UnitOfWork(iam.UnitOfWork, Protocol):
    @property
    def ledger(self) -> LedgerRepository: ...
