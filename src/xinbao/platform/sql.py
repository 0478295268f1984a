"""The SQL repositories' base: rows in, domain objects out, through one connection they
never commit; bulk inserts and updates; the audit trail's writer and the idempotency store."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from xinbao.kernel.audit import AuditRecord, chain, json_safe
from xinbao.kernel.events import Event
from xinbao.platform import tables as orm
from xinbao.platform.crypto import PiiCipher
from xinbao.platform.prepared import Prepared
from xinbao.platform.repository import StoredResponse
from xinbao.platform.sql_lists import in_list


def codes(text: str) -> tuple[str, ...]:
    return tuple(c for c in text.split(",") if c)


#: UPDATE statements by (table, columns): built once, reused by every save.
_UPDATES: dict[tuple[str, tuple[str, ...]], Prepared] = {}


@functools.cache
def _hot() -> dict[str, Prepared]:
    """Statements of the busiest paths (the audit trail, bulk inserts), built once and run
    on the driver's cursor (``platform.prepared``): building a statement and its cache key,
    or SQLAlchemy's execution path, costs more than running it on an indexed row. Each
    context's ``sql.py`` keeps its own the same way."""
    h, e = orm.audit_head, orm.domain_events
    return {name: Prepared(statement) for name, statement in {
        "head": select(h.c.seq, h.c.hash).where(h.c.id == 1).with_for_update(),
        "move_head": update(h).where(h.c.id == 1).values(seq=bindparam("seq"),
                                                         hash=bindparam("hash")),
        "events": insert(orm.domain_events),
        "makers": select(e.c.aggregate_id, e.c.actor).where(
            e.c.aggregate == bindparam("aggregate"),
            in_list(e.c.aggregate_id, "ids"), in_list(e.c.name, "names")),
        "last_rowid": select(func.last_insert_rowid().label("id")),
    }.items()}


#: INSERT statements by table, for ``_insert_many`` on SQLite.
_INSERTS: dict[str, Prepared] = {}


def _insert_of(table: Any) -> Prepared:
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = Prepared(insert(table))
    return statement


def expanding(name: str) -> Any:
    """An expanding IN parameter: one compiled statement serves any number of keys."""
    return bindparam(name, expanding=True)


#: Keys per IN (...) list: below every backend's limit on bound parameters.
CHUNK = 900


def chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


class SqlRepository:
    def __init__(self, connection: Connection, events: SqlEventLog | None = None,
                 cipher: PiiCipher | None = None) -> None:
        self._c = connection
        self._events = events
        self._cipher = cipher

    def _drain(self, obj: Any) -> None:
        self._drain_many([obj])

    def _insert(self, table: Any, values: dict[str, Any]) -> int:
        # A plain insert() with parameters compiles once and is cached; .values() would not be.
        key = self._c.execute(insert(table), values).inserted_primary_key
        assert key is not None  # set for every single-row insert
        return key[0]

    def _insert_many(self, table: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert rows in one statement batch; their new ids, in the rows' order."""
        if not rows:
            return []
        if self._c.dialect.name == "sqlite":
            # SQLite gives each inserted row the next rowid (one more than the table's
            # largest), in the order the rows are sent, while this transaction holds the
            # database's only write lock: the new ids are the last one's and those before it.
            added = _insert_of(table).execute_many(self._c, rows)
            last = _hot()["last_rowid"].one(self._c).id
            if added != len(rows):
                raise RuntimeError(f"{table.name}: {added} of {len(rows)} rows were inserted")
            return list(range(last - len(rows) + 1, last + 1))
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(self._c.execute(statement, list(rows)).scalars())

    def _drain_many(self, objects: Iterable[Any]) -> None:
        pending: list[Event] = []
        for obj in objects:
            events = getattr(obj, "events", None)
            if events:
                pending += [Event(e.name, e.aggregate,
                                  e.aggregate_id if e.aggregate_id is not None else obj.id,
                                  e.on, e.data) for e in events]
                events.clear()
        if pending and self._events is not None:
            self._events.add(pending)

    @property
    def _pii(self) -> PiiCipher:
        if self._cipher is None:
            raise RuntimeError(f"{type(self).__name__} stores personal data: give it a cipher")
        return self._cipher

    def _update_rows(self, table: Any, rows: Sequence[dict[str, Any]]) -> None:
        """UPDATE by id, many rows in one executemany (each dict holds "id" and the values)."""
        if not rows:
            return
        columns = tuple(k for k in rows[0] if k != "id")
        statement = _UPDATES.get((table.name, columns))
        if statement is None:
            statement = Prepared(update(table).where(table.c.id == bindparam("b_id"))
                                 .values({c: bindparam(f"b_{c}") for c in columns}))
            _UPDATES[(table.name, columns)] = statement
        statement.execute_many(self._c, [{f"b_{k}": v for k, v in row.items()}
                                         for row in rows])


class SqlEventLog(SqlRepository):
    """The audit trail. Events wait in the unit of work and are chained onto the log in one
    batch when it commits, under a lock on the chain's head row (PostgreSQL ``FOR UPDATE``;
    SQLite has one writer), so concurrent writers cannot fork the chain."""

    def __init__(self, connection: Connection, actor: str) -> None:
        super().__init__(connection)
        self._actor = actor
        self._pending: list[Event] = []

    def add(self, events: Iterable[Event]) -> None:
        self._pending.extend(events)

    def discard(self) -> None:
        self._pending.clear()

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        head = _hot()["head"].one(self._c)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        records = chain((AuditRecord(0, e.name, e.aggregate, e.aggregate_id, e.on, now,
                                     self._actor, json_safe(e.data)) for e in pending),
                        after_seq=head.seq, after_hash=head.hash)
        _hot()["events"].execute_many(self._c, [
            {"name": r.name, "aggregate": r.aggregate, "aggregate_id": r.aggregate_id,
             "occurred_on": r.occurred_on, "data": r.data, "seq": r.seq,
             "recorded_at": r.recorded_at, "actor": r.actor, "prev_hash": r.prev_hash,
             "hash": r.hash} for r in records])
        _hot()["move_head"].execute(self._c, {"seq": records[-1].seq,
                                               "hash": records[-1].hash})

    def list(self, *, aggregate: str | None = None, aggregate_id: int | None = None) -> list[Event]:
        self.flush()
        t = orm.domain_events
        q = select(t).order_by(t.c.id)
        if aggregate is not None:
            q = q.where(t.c.aggregate == aggregate)
        if aggregate_id is not None:
            q = q.where(t.c.aggregate_id == aggregate_id)
        return [Event(r.name, r.aggregate, r.aggregate_id, r.occurred_on, r.data)
                for r in self._c.execute(q)]

    def makers(self, aggregate: str, aggregate_ids: Iterable[int],
               names: Iterable[str]) -> dict[int, set[str]]:
        self.flush()
        found: dict[int, set[str]] = {i: set() for i in aggregate_ids}
        wanted = list(names)  # read once: every chunk asks for the same names
        for chunk in chunks(found):
            rows = _hot()["makers"].all(self._c, {"aggregate": aggregate, "ids": chunk,
                                                      "names": wanted})
            for aggregate_id, actor in rows:
                found[aggregate_id].add(actor)
        return found

    def records(self, *, actor: str | None = None, limit: int | None = None,
                newest_first: bool = False) -> Iterator[AuditRecord]:
        self.flush()
        t = orm.domain_events
        q = select(t).order_by(t.c.id.desc() if newest_first else t.c.id)
        if actor is not None:
            q = q.where(t.c.actor == actor)
        if limit is not None:
            q = q.limit(limit)
        for r in self._c.execute(q.execution_options(yield_per=5000)):
            yield AuditRecord(r.seq, r.name, r.aggregate, r.aggregate_id, r.occurred_on,
                              r.recorded_at, r.actor, r.data, r.prev_hash, r.hash)

    def head(self) -> tuple[int, str]:
        h = orm.audit_head
        row = self._c.execute(select(h.c.seq, h.c.hash).where(h.c.id == 1)).one()
        return row.seq, row.hash


class SqlIdempotencyRepository(SqlRepository):
    def get(self, scope: str, key: str) -> StoredResponse | None:
        t = orm.idempotency_keys
        r = self._c.execute(select(t).where(t.c.scope == scope, t.c.key == key)).first()
        return (StoredResponse(r.scope, r.key, r.request_hash, r.status_code, r.response)
                if r else None)

    def add_once(self, response: StoredResponse, now: datetime) -> StoredResponse:
        try:
            with self._c.begin_nested():  # a savepoint: a lost race leaves the rest intact
                self._c.execute(insert(orm.idempotency_keys), {
                    "scope": response.scope, "key": response.key,
                    "request_hash": response.request_hash,
                    "status_code": response.status_code, "response": response.body,
                    "created_at": now})
        except IntegrityError:
            stored = self.get(response.scope, response.key)
            assert stored is not None
            return stored
        return response


class SqlBatchRunRepository(SqlRepository):
    def claim(self, name: str, on: date) -> int:
        t = orm.batch_runs
        now = datetime.now(UTC).replace(tzinfo=None)
        upsert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        q = upsert(t).values(name=name, business_date=on, runs=1, last_run_at=now)
        # The upsert writes first thing: PostgreSQL holds the row until the commit, SQLite
        # its one writer's lock.
        q = q.on_conflict_do_update(index_elements=[t.c.name, t.c.business_date],
                                    set_={"runs": t.c.runs + 1, "last_run_at": now})
        return int(self._c.execute(q.returning(t.c.runs)).scalar_one())
