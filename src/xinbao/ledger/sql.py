"""The ledger's SQL repository: journal entries added and read, never changed."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, select

from xinbao.kernel.paging import Page, PageRequest
from xinbao.ledger import tables
from xinbao.ledger.model import JournalEntry, Line
from xinbao.ledger.repository import EntryFilter
from xinbao.platform.sql import SqlRepository, chunks, expanding


@functools.cache
def _statements() -> dict[str, Any]:
    """An entry by its idempotency key and the lines of entries, built and compiled once."""
    e, line = tables.journal_entries, tables.journal_lines
    return {
        "entry_by_key": select(e).where(e.c.source_command == bindparam("source"),
                                        e.c.idempotency_key == bindparam("key")),
        "lines_of": select(line).where(line.c.entry_id.in_(expanding("entries")))
        .order_by(line.c.id),
    }


class SqlLedgerRepository(SqlRepository):
    """Append-only: inserts and reads only (the database refuses updates and deletes too)."""

    def add(self, entry: JournalEntry) -> JournalEntry:
        entry_id = self._insert(tables.journal_entries, {
            "posted_on": entry.posted_on, "description": entry.description,
            "source_command": entry.source_command, "idempotency_key": entry.idempotency_key,
            "reference": entry.reference, "reverses_id": entry.reverses_id})
        self._c.execute(insert(tables.journal_lines), [
            {"entry_id": entry_id, "account": line.account, "amount_fen": line.amount_fen,
             "party": line.party} for line in entry.lines])
        return entry.with_id(entry_id)

    def _load(self, rows: Sequence[Any]) -> list[JournalEntry]:
        if not rows:
            return []
        lines: dict[int, list[Line]] = {}
        for chunk in chunks(r.id for r in rows):
            for line in self._c.execute(_statements()["lines_of"], {"entries": chunk}):
                lines.setdefault(line.entry_id, []).append(
                    Line(line.account, line.amount_fen, line.party))
        return [JournalEntry(posted_on=r.posted_on, description=r.description,
                             source_command=r.source_command, idempotency_key=r.idempotency_key,
                             lines=tuple(lines[r.id]), reverses_id=r.reverses_id,
                             reference=r.reference, id=r.id) for r in rows]

    def _where(self, condition: Any) -> JournalEntry | None:
        t = tables.journal_entries
        rows = self._c.execute(select(t).where(condition)).all()
        found = self._load(rows)
        return found[0] if found else None

    def get(self, entry_id: int) -> JournalEntry | None:
        return self._where(tables.journal_entries.c.id == entry_id)

    def get_by_key(self, source_command: str, idempotency_key: str) -> JournalEntry | None:
        rows = self._c.execute(_statements()["entry_by_key"],
                               {"source": source_command, "key": idempotency_key}).all()
        found = self._load(rows)
        return found[0] if found else None

    def reversal_of(self, entry_id: int) -> JournalEntry | None:
        return self._where(tables.journal_entries.c.reverses_id == entry_id)

    def lines(self, *, through: date | None = None) -> Iterable[Line]:
        """Per-account sums: a trial balance needs no line-by-line read."""
        e, ln = tables.journal_entries, tables.journal_lines
        q = select(ln.c.account, func.sum(ln.c.amount_fen)).group_by(ln.c.account)
        if through is not None:
            q = q.join(e, e.c.id == ln.c.entry_id).where(e.c.posted_on <= through)
        return [Line(account, int(total)) for account, total in self._c.execute(q) if total]

    def monthly_totals(self) -> list[tuple[int, int, str, int]]:
        """(year, month, account, sum of lines) over the whole ledger, by posting month."""
        e, ln = tables.journal_entries, tables.journal_lines
        year = func.extract("year", e.c.posted_on)
        month = func.extract("month", e.c.posted_on)
        q = (select(year, month, ln.c.account, func.sum(ln.c.amount_fen))
             .join(e, e.c.id == ln.c.entry_id).group_by(year, month, ln.c.account)
             .order_by(year, month, ln.c.account))
        return [(int(y), int(m), account, int(total)) for y, m, account, total
                in self._c.execute(q)]

    def party_totals(self, party: str, *, posted_from: date, posted_to: date,
                     ) -> list[tuple[str, str, int]]:
        """(source command, account, sum of lines) of one party's lines posted in the
        days given."""
        e, ln = tables.journal_entries, tables.journal_lines
        q = (select(e.c.source_command, ln.c.account, func.sum(ln.c.amount_fen))
             .join(e, e.c.id == ln.c.entry_id)
             .where(ln.c.party == party, e.c.posted_on >= posted_from,
                    e.c.posted_on <= posted_to)
             .group_by(e.c.source_command, ln.c.account)
             .order_by(e.c.source_command, ln.c.account))
        return [(source, account, int(total)) for source, account, total in self._c.execute(q)]

    def entries(self, *, reference: str | None = None) -> Sequence[JournalEntry]:
        t = tables.journal_entries
        q = select(t).order_by(t.c.id)
        if reference is not None:
            q = q.where(t.c.reference == reference)
        return self._load(self._c.execute(q).all())

    def page(self, where: EntryFilter, request: PageRequest) -> Page[JournalEntry]:
        """A page by ``posted_on`` or id (both indexed), ties by id; the lines of its entries
        in one more read, and a count of all entries selected."""
        e = tables.journal_entries
        conditions = _entry_conditions(where)
        key = e.c.posted_on if request.sort == "date" else e.c.id
        order = ([key.desc(), e.c.id.desc()] if request.descending else [key, e.c.id])
        rows = self._c.execute(select(e).where(*conditions).order_by(*order)
                               .limit(request.size).offset(request.offset)).all()
        total = self._c.execute(select(func.count()).select_from(e)
                                .where(*conditions)).scalar_one()
        return Page(self._load(rows), int(total), request)


def _entry_conditions(where: EntryFilter) -> list[Any]:
    """The WHERE clauses of a filter (an account: an entry with a line on it)."""
    e, ln = tables.journal_entries, tables.journal_lines
    conditions: list[Any] = []
    if where.account is not None:
        conditions.append(exists().where(ln.c.entry_id == e.c.id,
                                         ln.c.account == where.account))
    if where.posted_from is not None:
        conditions.append(e.c.posted_on >= where.posted_from)
    if where.posted_to is not None:
        conditions.append(e.c.posted_on <= where.posted_to)
    if where.reference is not None:
        conditions.append(e.c.reference == where.reference)
    return conditions
