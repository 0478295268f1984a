"""Statements of the decision path, run on the driver's cursor.

SQLAlchemy's execution path (an execution context, the compiled cache's key, the result
object) costs about 55 µs a statement on the reference machine, where SQLite answers an
indexed look-up in about 12 µs; a decision batch runs about twenty statements, so at small
batches that path cost a third of a batch's CPU. ``Prepared`` keeps what SQLAlchemy does
well and skips the rest:

- the SQL text is SQLAlchemy's: the Core statement is compiled once per dialect (an INSERT
  once per set of columns given);
- parameters pass through the same bind processors (dates on SQLite, JSON, key lists) and
  rows through the same result processors;
- the statement runs on the connection's own DBAPI connection, inside its transaction (one
  is begun, as SQLAlchemy's autobegin would, when none is);
- ``before_cursor_execute`` and ``after_cursor_execute`` listeners see every statement, with
  ``context`` None;
- driver errors are raised as SQLAlchemy's (``OperationalError``, ``IntegrityError``, ...),
  their parameters hidden when the engine hides them; a lost connection is invalidated.

Rows are named tuples: fields by attribute or by position, as the callers use them. Statements
whose values SQLAlchemy would make at execution time (Python-side column defaults, expanding
IN lists) are refused when first compiled, so nothing is silently left out.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import Insert

from xinbao.platform.database import hide_row_values

Processor = Callable[[Any], Any]
_REQUIRED = object()  # a bind the statement gives no value of its own


@dataclass(slots=True)
class _Plan:
    """One statement compiled for one dialect (and, for an INSERT, one set of columns)."""

    sql: str
    positional: bool
    # per placeholder in order (named: each name once): its name, bind processor and the
    # processed value the statement fixes itself (``_REQUIRED`` when the caller gives it)
    slots: tuple[tuple[str, Processor | None, Any], ...]
    types: tuple[Any, ...]  # of the result columns (none: no rows come back)
    row: Any = None  # the named tuple of a result row
    results: list[Processor | None] | None = field(default=None)  # from the first cursor

    def parameters(self, given: Mapping[str, Any]) -> Any:
        values = []
        for name, processor, default in self.slots:
            if name in given:
                value = given[name]
                values.append(processor(value) if processor is not None else value)
            elif default is not _REQUIRED:
                values.append(default)
            else:
                raise exc.ArgumentError(f"a value is required for parameter {name!r}")
        if self.positional:
            return tuple(values)
        return {name: value for (name, _, _), value in zip(self.slots, values, strict=True)}


def _row_type(keys: tuple[str, ...]) -> Any:
    """The named tuple class of result rows with these columns."""
    return namedtuple("Row", keys, rename=True)


class Prepared:
    """A Core statement compiled once per dialect and run on the driver's cursor."""

    __slots__ = ("statement", "_plans", "__weakref__")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: weakref.WeakKeyDictionary[Dialect, dict[Any, _Plan]] = (
            weakref.WeakKeyDictionary())

    # --- running ------------------------------------------------------------------------

    def all(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The rows of a query (or of a statement's RETURNING)."""
        return self._run(conn, params or {}, many=False, rows=True)

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        found = self.all(conn, params)
        return found[0] if found else None

    def one(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        found = self.all(conn, params)
        if not found:
            raise exc.NoResultFound("no row was found when one was required")
        if len(found) > 1:
            raise exc.MultipleResultsFound("multiple rows were found when one was required")
        return found[0]

    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement once; the rows it changed."""
        return self._run(conn, params or {}, many=False, rows=False)

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run a statement once per parameter set, in one driver call; the rows changed."""
        if not rows:
            return 0
        return self._run(conn, rows, many=True, rows=False)

    def _run(self, conn: Connection, params: Any, *, many: bool, rows: bool) -> Any:
        plan = self._plan(conn.dialect, params[0] if many else params)
        if many:
            sent: Any = [plan.parameters(p) for p in params]
        else:
            sent = plan.parameters(params)
        if not conn.in_transaction():
            conn.begin()  # what SQLAlchemy's autobegin does before a statement
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        statement = plan.sql
        try:
            for listener in conn.dispatch.before_cursor_execute:
                statement, sent = listener(conn, cursor, statement, sent, None, many)
            if many:
                cursor.executemany(statement, sent)
            else:
                cursor.execute(statement, sent)
            for listener in conn.dispatch.after_cursor_execute:
                listener(conn, cursor, statement, sent, None, many)
            if not rows:
                return cursor.rowcount
            return self._rows(plan, conn.dialect, cursor)
        except conn.dialect.loaded_dbapi.Error as error:
            invalidated = conn.dialect.is_disconnect(error, dbapi, cursor)
            if invalidated:
                conn.invalidate(error)
            if conn.engine.hide_parameters:
                hide_row_values(error)
            raise exc.DBAPIError.instance(
                statement, sent, error, conn.dialect.loaded_dbapi.Error,
                hide_parameters=conn.engine.hide_parameters,
                connection_invalidated=invalidated, dialect=conn.dialect,
                ismulti=many) from error
        finally:
            cursor.close()

    @staticmethod
    def _rows(plan: _Plan, dialect: Dialect, cursor: Any) -> list[Any]:
        fetched = cursor.fetchall()
        if plan.results is None:
            described = cursor.description or ()
            if len(described) != len(plan.types):
                raise exc.InvalidRequestError(
                    f"expected {len(plan.types)} result columns, the driver gave "
                    f"{len(described)}")
            plan.results = [t.dialect_impl(dialect).result_processor(dialect, d[1])
                            for t, d in zip(plan.types, described, strict=True)]
        make = plan.row._make
        if not any(plan.results):
            return [make(r) for r in fetched]
        processors = [(i, p) for i, p in enumerate(plan.results) if p is not None]
        out = []
        for r in fetched:
            values = list(r)
            for i, p in processors:
                values[i] = p(values[i])
            out.append(make(values))
        return out

    # --- compiling ----------------------------------------------------------------------

    def _plan(self, dialect: Dialect, sample: Mapping[str, Any]) -> _Plan:
        plans = self._plans.get(dialect)
        if plans is None:
            plans = self._plans[dialect] = {}
        columns = tuple(sample) if isinstance(self.statement, Insert) else None
        plan = plans.get(columns)
        if plan is None:
            plan = plans[columns] = self._compile(dialect, columns)
        return plan

    def _compile(self, dialect: Dialect, columns: tuple[str, ...] | None) -> _Plan:
        kw: dict[str, Any] = {"dialect": dialect}
        if columns is not None:
            kw["column_keys"] = list(columns)
        compiled: Any = self.statement.compile(**kw)
        if (getattr(compiled, "insert_prefetch", None)
                or getattr(compiled, "update_prefetch", None)):
            raise exc.InvalidRequestError(
                "Prepared cannot run a statement with Python-side column defaults: give "
                "every column a value")
        processors: dict[str, Processor] = {}
        defaults: dict[str, Any] = {}
        for bind, name in compiled.bind_names.items():
            if bind.expanding:
                raise exc.InvalidRequestError(
                    f"Prepared cannot run expanding IN parameter {name!r}: use in_list")
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if not bind.required:
                value = bind.effective_value
                defaults[name] = processor(value) if processor is not None else value
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise exc.InvalidRequestError(
                "Prepared cannot run a statement rendered at execution time")
        if dialect.positional:
            names = tuple(compiled.positiontup)
        else:
            names = tuple(dict.fromkeys(compiled.bind_names.values()))
        slots = tuple((name, processors.get(name), defaults.get(name, _REQUIRED))
                      for name in names)
        types: tuple[Any, ...] = ()
        returned = getattr(self.statement, "selected_columns", None)
        if returned is None and getattr(self.statement, "_returning", None):
            returned = self.statement.exported_columns  # type: ignore[attr-defined]
        row = None
        if returned is not None:
            keys = tuple(c.key for c in returned)
            types = tuple(c.type for c in returned)
            row = _row_type(keys)
            if row._fields != keys:
                raise exc.InvalidRequestError(f"result columns {keys} are not all names")
        return _Plan(sql=sql, positional=dialect.positional, slots=slots, types=types,
                     row=row)
