"""Schema migrations with Alembic, run from code (``xinbao db upgrade``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection: object, attributes: dict[str, Any] | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes.update(attributes or {})
    return cfg


def _migrate(engine: Engine, step: Callable[[Connection], None]) -> None:
    """Run a migration step in one transaction.

    On SQLite, tables are changed by copying them (Alembic's batch mode), which foreign keys
    would refuse while rows refer to them; as SQLite documents for schema changes, they are
    switched off around the transaction and every reference is checked before it commits.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                step(connection)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left {len(broken)} broken references, "
                                           f"first in table {broken[0][0]}; rolled back")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(engine: Engine, revision: str = "head", *, pii_cipher: object = None) -> None:
    """Upgrade the schema; ``pii_cipher`` encrypts personal data stored before 0003."""
    _migrate(engine, lambda c: command.upgrade(
        _config(c, {"pii_cipher": pii_cipher}), revision))


def downgrade(engine: Engine, revision: str) -> None:
    _migrate(engine, lambda c: command.downgrade(_config(c), revision))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The newest revision of the shipped migrations (read once: they do not change while
    the process runs)."""
    return ScriptDirectory.from_config(_config(None)).get_current_head()


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the difference between tables and database."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
