"""Engines: SQLite (the embedded default) or PostgreSQL, from one URL.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed transaction survives power
loss), foreign keys on and a 64 MiB page cache; PostgreSQL runs as configured by its server.

JSON columns are written and read with orjson (a tenth of the standard library's time on a
decision's detail). It is held to what ``json`` would store: dates, datetimes and
dataclasses are refused, as ``json`` refuses them, rather than silently turned into text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

#: Connections opened beyond the pool for a burst, closed when it has passed.
POOL_OVERFLOW = 10
#: PostgreSQL's SQLSTATEs of a concurrent write: unique violation, serialization failure,
#: deadlock detected, lock not available (lock_timeout, NOWAIT).
_PG_CONFLICTS = frozenset({"23505", "40001", "40P01", "55P03"})
#: SQLite's messages for the same: a unique index, the one writer held past the busy timeout.
_SQLITE_CONFLICTS = ("UNIQUE constraint failed", "database is locked",
                     "database table is locked")


def create_db_engine(url: str, *, pool_size: int = 20) -> Engine:
    """The engine of a database URL. Its pool keeps ``pool_size`` connections open for reuse
    (and opens up to ``POOL_OVERFLOW`` more for a burst): SQLAlchemy's default of 5 made a
    server under 16 concurrent API requests open and close a connection for most of them
    (on SQLite the schema is read again by each new connection; on PostgreSQL each is a
    new login)."""
    parsed = make_url(url)
    pool: dict[str, Any] = {"pool_size": pool_size, "max_overflow": POOL_OVERFLOW}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        memory = database == ":memory:"
        if not memory:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **_SAFE,
                               **({} if memory else pool))
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "handle_error", _without_row_values)
        event.listen(engine, "savepoint", _sqlite_savepoint_inside_a_transaction)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True, **_SAFE, **pool)
        event.listen(engine, "handle_error", _without_row_values)
        return engine
    raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or "
                     "postgresql")


_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)


def _unknown(value: Any) -> Any:
    if isinstance(value, float):  # a float subclass (numpy's float64): json writes it
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    """A JSON column's text: what ``json.dumps`` accepts, compact and in UTF-8."""
    return orjson.dumps(value, default=_unknown, option=_OPTIONS).decode()


_JSON: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}
#: A statement's parameters (ciphertexts, blind indexes, personal data) are never written
#: into an error's message or the engine's log: a traceback of a failed insert shows the SQL
#: and the driver's error only (docs/SECURITY.md).
_SAFE: dict[str, Any] = {**_JSON, "hide_parameters": True}


def is_write_conflict(error: BaseException) -> bool:
    """Whether a database error is a collision with a concurrent transaction (answered by
    running the use case again, a replay or a conflict), rather than a fault."""
    if not isinstance(error, DBAPIError):
        return False
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if state is not None:
        return state in _PG_CONFLICTS
    if isinstance(error, IntegrityError):
        return str(error.orig).startswith(_SQLITE_CONFLICTS[0])
    return str(error.orig).startswith(_SQLITE_CONFLICTS[1:])


def hide_row_values(error: BaseException) -> None:
    """Keep only the primary message of a PostgreSQL error: its detail quotes the row's
    values ("Key (name_bidx)=(…) already exists"). The detail stays readable in
    ``error.diag`` for code that needs it; SQLite's messages name columns only."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if isinstance(primary, str) and primary and error.args != (primary,):
        error.args = (primary,)


def _without_row_values(context: ExceptionContext) -> None:
    original, wrapped = context.original_exception, context.sqlalchemy_exception
    before = str(original)
    hide_row_values(original)
    if isinstance(wrapped, DBAPIError) and str(original) != before:
        wrapped.args = (f"({type(original).__module__}.{type(original).__name__}) "
                        f"{original}",)


def _sqlite_savepoint_inside_a_transaction(conn: Connection, _name: str) -> None:
    before_savepoint(conn)


def before_savepoint(conn: Connection) -> None:
    """Open the transaction before a savepoint that would otherwise open it (SQLite).

    Python's sqlite3 driver begins a transaction only before an INSERT, UPDATE or DELETE. A
    savepoint taken before any of those would itself begin SQLite's transaction, and
    releasing it would then COMMIT: its writes would be kept even when the unit of work
    later rolls back (a limit reservation made by the batch's first write, an idempotency
    record). A deferred BEGIN first makes the savepoint nested, as on PostgreSQL. SQLAlchemy's
    savepoints call this by themselves; a SAVEPOINT sent another way must call it first.
    """
    if conn.dialect.name != "sqlite":
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:
        dbapi.execute("BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages per connection
    cursor.close()
