"""``column IN (a list)`` bound as one parameter, so that the compiled statement is reused.

SQLAlchemy's expanding IN parameters (``bindparam(..., expanding=True)``) serve any number of
keys from one statement, but every execution renders the statement's text again with one
placeholder per key: on the decision path, with a dozen such lists a batch, that rendering
cost more than SQLite's work. ``in_list`` binds the whole list as one value instead:

- SQLite: ``column IN (SELECT value FROM json_each(?))``, the list sent as a JSON array;
- PostgreSQL: ``column = ANY(%(name)s)``, the list sent as an array.

Both use the column's index (SQLite probes it for each value of the list; PostgreSQL scans it
with the array's values). Keys are ints or strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, Boolean, String, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine

_json = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps would build one a call


class _KeyList(TypeDecorator[list[Any]]):
    """A list of keys as one bound value: a JSON array on SQLite, an array on PostgreSQL."""

    impl = String
    cache_ok = True

    def __init__(self, item: type[TypeEngine[Any]]) -> None:
        super().__init__()
        self.item = item

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(self.item()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Iterable[Any] | None, dialect: Dialect) -> Any:
        if value is None:
            raise ValueError("a key list is a list, possibly empty, never None")
        if dialect.name == "postgresql":
            return list(value)
        return _json(list(value))


class InList(ColumnElement[bool]):
    """``column`` is one of the keys bound to ``values`` (see ``in_list``)."""

    __visit_name__ = "xinbao_in_list"
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: no `= 1` where booleans are integers
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("values", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any], values: Any) -> None:
        self.column = column
        self.values = values


def in_list(column: ColumnElement[Any], name: str) -> InList:
    """``column IN (the list passed as parameter name)``; one statement for any length."""
    try:
        numeric = column.type.python_type is int
    except NotImplementedError:  # a type that does not say: its values are sent as text
        numeric = False
    item = BigInteger if numeric else String
    return InList(column, bindparam(name, type_=_KeyList(item)))


@compiles(InList)
def _sqlite(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.values, **kw)}))")


@compiles(InList, "postgresql")
def _postgresql(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    return (f"{compiler.process(element.column, **kw)} = "
            f"ANY({compiler.process(element.values, **kw)})")
