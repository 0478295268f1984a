"""The composition root: wires settings, secrets, database, parameters and logging. Nothing
connects to anything at import time; ``bootstrap()`` does it when an entrypoint asks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sqlalchemy import Engine

from xinbao.adapters import migrate
from xinbao.adapters.credentials import Argon2JwtCredentials
from xinbao.adapters.crypto import PasswordHasher, PiiCipher, TokenSigner
from xinbao.adapters.database import create_db_engine
from xinbao.adapters.parameters import Parameters, load_parameters
from xinbao.adapters.redaction import RedactingFilter, redaction_processor
from xinbao.adapters.secrets import Secrets, load_secrets
from xinbao.adapters.unit_of_work import SqlUnitOfWork
from xinbao.config import Settings
from xinbao.domain.security import Principal, system

#: argon2id at test speed (XINBAO_PASSWORD_HASHING=fast; refused in production).
_FAST_HASHING = {"time_cost": 1, "memory_cost": 8192, "parallelism": 1}


@dataclass
class Container:
    settings: Settings
    engine: Engine
    parameters: Parameters
    secrets: Secrets = field(repr=False)
    cipher: PiiCipher = field(repr=False)
    credentials: Argon2JwtCredentials = field(repr=False)
    log: structlog.stdlib.BoundLogger = field(repr=False)
    #: Who acts when a unit of work is asked for without a principal: the entrypoint sets it
    #: (``system:cli:<os user>`` for commands); requests always pass their own principal.
    actor: Principal = field(default_factory=system)

    def uow(self, actor: Principal | None = None) -> SqlUnitOfWork:
        """A unit of work acting for ``actor`` (by default the container's own actor)."""
        return SqlUnitOfWork(self.engine, cipher=self.cipher, actor=actor or self.actor)

    def upgrade_database(self) -> None:
        migrate.upgrade(self.engine, pii_cipher=self.cipher)

    def schema_state(self) -> tuple[str | None, bool]:
        """(revision the database is at, whether that is the newest); raises if unreachable."""
        revision = migrate.current_revision(self.engine)
        return revision, revision == migrate.head_revision()

    def close(self) -> None:
        self.engine.dispose()


def configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.log_level, logging.INFO)
    logging.basicConfig(level=level, format="%(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    renderer = (structlog.processors.JSONRenderer() if settings.log_json
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso"),
                    structlog.processors.format_exc_info,  # tracebacks are redacted too
                    redaction_processor,  # no full ID number, phone or card in any log line
                    renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )


def bootstrap(settings: Settings | None = None, *, upgrade: bool = False) -> Container:
    settings = settings or Settings.from_env()
    configure_logging(settings)
    secrets = load_secrets(Path(settings.secrets_file), create_if_missing=not settings.production)
    hasher = (PasswordHasher(**_FAST_HASHING) if settings.password_hashing == "fast"
              else PasswordHasher())
    container = Container(
        settings=settings, engine=create_db_engine(settings.database_url),
        parameters=load_parameters(), secrets=secrets,
        cipher=PiiCipher(secrets.pii_keys, secrets.pii_active, secrets.index_key),
        credentials=Argon2JwtCredentials(
            hasher, TokenSigner(secrets.token_keys, secrets.token_active)),
        log=structlog.get_logger("xinbao"))
    if upgrade:
        container.upgrade_database()
    return container
