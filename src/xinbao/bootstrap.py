"""The composition root: wires settings, database, parameters and logging. Nothing connects
to anything at import time; ``bootstrap()`` does it when an entrypoint asks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import structlog
from sqlalchemy import Engine

from xinbao.adapters import migrate
from xinbao.adapters.database import create_db_engine
from xinbao.adapters.parameters import Parameters, load_parameters
from xinbao.adapters.unit_of_work import SqlUnitOfWork
from xinbao.config import Settings


@dataclass
class Container:
    settings: Settings
    engine: Engine
    parameters: Parameters
    log: structlog.stdlib.BoundLogger = field(repr=False)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def upgrade_database(self) -> None:
        migrate.upgrade(self.engine)

    def schema_state(self) -> tuple[str | None, bool]:
        """(revision the database is at, whether that is the newest); raises if unreachable."""
        revision = migrate.current_revision(self.engine)
        return revision, revision == migrate.head_revision()

    def close(self) -> None:
        self.engine.dispose()


def configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.log_level, logging.INFO)
    logging.basicConfig(level=level, format="%(message)s")
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    renderer = (structlog.processors.JSONRenderer() if settings.log_json
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso"), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )


def bootstrap(settings: Settings | None = None, *, upgrade: bool = False) -> Container:
    settings = settings or Settings.from_env()
    configure_logging(settings)
    container = Container(settings=settings, engine=create_db_engine(settings.database_url),
                          parameters=load_parameters(), log=structlog.get_logger("xinbao"))
    if upgrade:
        container.upgrade_database()
    return container
