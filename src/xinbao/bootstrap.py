"""The composition root: wires settings, secrets, database, parameters and logging. Nothing
connects to anything at import time; ``bootstrap()`` does it when an entrypoint asks.

The credit bureau adapter is loaded by its import path (``XINBAO_BUREAU``, ``load_bureau``):
the simulated one like any other, so the composition root imports no adapter of the edges.
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sqlalchemy import Engine

from xinbao import migrate
from xinbao.batch.model import ClassificationRules, EarlyWarningRules
from xinbao.batch.store import ParquetSnapshots
from xinbao.config import SIMULATED_BUREAU, ConfigError, Settings, check_simulated_bureau_allowed
from xinbao.iam.credentials import Argon2JwtCredentials
from xinbao.iam.model.security import Principal, system
from xinbao.parameters import (
    Parameters,
    load_antifraud_rules,
    load_classification_rules,
    load_collateral_rules,
    load_early_warning_rules,
    load_parameters,
    load_risk_parameters,
)
from xinbao.platform.crypto import PasswordHasher, PiiCipher, TokenSigner
from xinbao.platform.database import create_db_engine
from xinbao.platform.redaction import RedactingFilter, redaction_processor
from xinbao.platform.secrets import Secrets, load_secrets
from xinbao.risk.bureau import BureauClient, BureauService, identity
from xinbao.risk.model_store import ModelRegistry, ReloadingScorer
from xinbao.risk.scoring.fallback import FallbackScorer
from xinbao.risk.services import RiskEngine
from xinbao.sql_unit_of_work import SqlUnitOfWork

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
    _risk: RiskEngine | None = field(default=None, repr=False)

    @property
    def risk(self) -> RiskEngine:
        """The risk approval engine (built on first use: parameters, rules, model, bureau)."""
        if self._risk is None:
            self._risk = risk_engine(self.settings, self.parameters)
        return self._risk

    @risk.setter
    def risk(self, engine: RiskEngine) -> None:
        """Decide with another engine (another bureau connection, or a test's fakes)."""
        self._risk = engine

    @property
    def snapshots(self) -> ParquetSnapshots:
        """The end-of-day batch's daily snapshots (``XINBAO_SNAPSHOT_DIR``)."""
        return ParquetSnapshots(Path(self.settings.snapshot_dir))

    @functools.cached_property
    def classification(self) -> ClassificationRules:
        """The five-tier classification's rules (``params/classification.toml``)."""
        return load_classification_rules()

    @functools.cached_property
    def early_warning(self) -> EarlyWarningRules:
        """The early-warning signals' settings (``params/classification.toml``)."""
        return load_early_warning_rules()

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
        if self._risk is not None and isinstance(self._risk.bureau, BureauClient):
            self._risk.bureau.close()
        self.engine.dispose()


def load_bureau(settings: Settings) -> BureauService:
    """The credit bureau adapter ``XINBAO_BUREAU`` names, made by its factory (called with
    the settings). One that cannot be loaded or declares no name and version stops the start,
    and so does the simulated one in production unless it is allowed (``docs/BUREAU.md``)."""
    path = settings.bureau_factory
    module_name, _, attribute = path.partition(":")
    try:
        factory: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            factory = getattr(factory, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"XINBAO_BUREAU={settings.bureau}: cannot load {path} "
                          f"({type(exc).__name__}: {exc})") from exc
    if not callable(factory):
        raise ConfigError(f"XINBAO_BUREAU={settings.bureau}: {path} is not a factory")
    service = factory(settings)
    try:
        identity(service)
    except TypeError as exc:
        raise ConfigError(f"XINBAO_BUREAU={settings.bureau}: {exc}") from None
    return service


def risk_engine(settings: Settings, parameters: Parameters, *,
                bureau_service: BureauService | None = None) -> RiskEngine:
    """The engine from the shipped parameters, the model registry (the fallback score until a
    model is promoted) and the bureau (the adapter the settings name unless one is given)."""
    params = load_risk_parameters()
    fb = params.fallback
    fallback = FallbackScorer(base_score=fb.base_score, base_odds=fb.base_odds, pdo=fb.pdo,
                              thin_file_pd=fb.thin_file_pd)
    service = bureau_service if bureau_service is not None else load_bureau(settings)
    if service.name == SIMULATED_BUREAU:  # however it came: by the setting or by hand
        check_simulated_bureau_allowed(settings)
        logging.getLogger("xinbao.bureau").warning(
            "Decisions use a simulated credit bureau (%s): its reports are made up, not a "
            "bureau's", identity(service))
    # The simulated bureau without latency answers in-process at once: no threads for it.
    inline = (bureau_service is None and settings.simulated_bureau
              and settings.bureau_latency_ms == 0)
    return RiskEngine(
        params=params, rule_set=load_antifraud_rules(), collateral=load_collateral_rules(),
        cost_cap=parameters.all_in_cost_cap, annualization=parameters.annualization,
        vat_rate=parameters.vat_rate,
        scorer=ReloadingScorer(ModelRegistry(Path(settings.models_dir)), fallback),
        bureau=BureauClient(service, timeout_s=params.bureau.timeout_s,
                            cost_fen=params.bureau.cost_fen,
                            cache_days=params.bureau.cache_days, workers=0 if inline else 8))


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
        settings=settings, engine=create_db_engine(settings.database_url,
                                                  pool_size=settings.db_pool_size),
        parameters=load_parameters(), secrets=secrets,
        cipher=PiiCipher(secrets.pii_keys, secrets.pii_active, secrets.index_key),
        credentials=Argon2JwtCredentials(
            hasher, TokenSigner(secrets.token_keys, secrets.token_active)),
        log=structlog.get_logger("xinbao"))
    if upgrade:
        container.upgrade_database()
    return container
