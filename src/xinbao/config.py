"""Settings: the one place that reads the environment (called by the composition root).

Secrets are never settings: they live in the secrets file (``XINBAO_SECRETS_FILE``), which
a development machine creates on first use and production must be given.

The credit bureau is a setting too (``XINBAO_BUREAU``): the simulated one is the development
default, and production refuses it unless ``XINBAO_ALLOW_SIMULATED_BUREAU=1`` says that
decisions on simulated reports are meant (``docs/BUREAU.md``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///out/xinbao.db"
DEFAULT_SECRETS_FILE = "out/xinbao-secrets.toml"
DEFAULT_MODELS_DIR = "out/models"
DEFAULT_SNAPSHOT_DIR = "out/snapshots"

SIMULATED_BUREAU = "simulated"
#: Bureau adapters known by a name, each the ``module:factory`` it stands for; any other
#: adapter is named by its own ``module:factory`` (``bootstrap.load_bureau`` imports it).
BUREAUS: Mapping[str, str] = {SIMULATED_BUREAU: "xinbao.simulation.bureau:from_settings"}
_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")


class ConfigError(ValueError):
    """A setting is invalid; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _nonnegative(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number of at least 0, got {raw!r}")
    return int(raw)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in _TRUE + _FALSE:
        raise ConfigError(f"{name} is 1 or 0 (true/false, yes/no), got {raw!r}")
    return raw in _TRUE


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"
    log_json: bool = False
    secrets_file: str = DEFAULT_SECRETS_FILE
    #: "production" refuses to make a secrets file or use test-speed password hashing.
    environment: str = "development"
    #: "standard" (argon2id, RFC 9106 low-memory profile) or "fast" (tests only).
    password_hashing: str = "standard"
    max_body_bytes: int = 1_048_576
    #: A funder's file uploaded to ``POST /v1/funders/{code}/feeds`` (larger: the inbox).
    max_upload_bytes: int = 67_108_864
    rate_limit_per_second: int = 20  # per API client or user, sustained
    rate_limit_burst: int = 60
    login_rate_per_minute: int = 10  # per IP on /oauth/token and /console/login
    #: The model registry: trained versions and registry.json (champion, challenger).
    models_dir: str = DEFAULT_MODELS_DIR
    #: The end-of-day batch's daily snapshots (Parquet, a folder a business day).
    snapshot_dir: str = DEFAULT_SNAPSHOT_DIR
    #: The credit bureau adapter: a name of ``BUREAUS`` ("simulated") or ``module:factory``.
    bureau: str = SIMULATED_BUREAU
    #: Production decides on the simulated bureau's reports only when this says so.
    allow_simulated_bureau: bool = False
    #: Milliseconds each simulated bureau query takes (the demo's stand-in for the bureau).
    bureau_latency_ms: int = 0
    #: Database connections a process keeps open for reuse (10 more open for bursts and
    #: close after them): the server's concurrent requests each hold one.
    db_pool_size: int = 20

    def __post_init__(self) -> None:
        if self.password_hashing not in ("standard", "fast"):
            raise ConfigError("XINBAO_PASSWORD_HASHING is 'standard' or 'fast'")
        if self.environment == "production" and self.password_hashing != "standard":
            raise ConfigError("XINBAO_PASSWORD_HASHING=fast is for tests, not production")
        if self.bureau not in BUREAUS and not _IMPORT_PATH.fullmatch(self.bureau):
            raise ConfigError(
                f"XINBAO_BUREAU is {' or '.join(map(repr, BUREAUS))}, or the "
                f"'package.module:factory' of a bureau adapter, got {self.bureau!r}")
        if self.simulated_bureau:
            check_simulated_bureau_allowed(self)

    @property
    def simulated_bureau(self) -> bool:
        """Whether the setting names the simulated bureau (by name or by its factory)."""
        return BUREAUS.get(self.bureau, self.bureau) == BUREAUS[SIMULATED_BUREAU]

    @property
    def bureau_factory(self) -> str:
        """The ``module:factory`` that makes the bureau adapter."""
        return BUREAUS.get(self.bureau, self.bureau)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("XINBAO_DATABASE_URL") or DEFAULT_DATABASE_URL,
            log_level=env.get("XINBAO_LOG_LEVEL", "INFO").upper(),
            log_json=env.get("XINBAO_LOG_JSON", "").lower() in ("1", "true", "yes"),
            secrets_file=env.get("XINBAO_SECRETS_FILE") or DEFAULT_SECRETS_FILE,
            environment=(env.get("XINBAO_ENV") or "development").lower(),
            password_hashing=(env.get("XINBAO_PASSWORD_HASHING") or "standard").lower(),
            max_body_bytes=_int(env, "XINBAO_MAX_BODY_BYTES", 1_048_576),
            max_upload_bytes=_int(env, "XINBAO_MAX_UPLOAD_BYTES", 67_108_864),
            rate_limit_per_second=_int(env, "XINBAO_RATE_LIMIT_PER_SECOND", 20),
            rate_limit_burst=_int(env, "XINBAO_RATE_LIMIT_BURST", 60),
            login_rate_per_minute=_int(env, "XINBAO_LOGIN_RATE_PER_MINUTE", 10),
            models_dir=env.get("XINBAO_MODELS_DIR") or DEFAULT_MODELS_DIR,
            snapshot_dir=env.get("XINBAO_SNAPSHOT_DIR") or DEFAULT_SNAPSHOT_DIR,
            bureau=(env.get("XINBAO_BUREAU") or SIMULATED_BUREAU).strip(),
            allow_simulated_bureau=_flag(env, "XINBAO_ALLOW_SIMULATED_BUREAU"),
            bureau_latency_ms=_nonnegative(env, "XINBAO_BUREAU_LATENCY_MS", 0),
            db_pool_size=_int(env, "XINBAO_DB_POOL_SIZE", 20),
        )


def check_simulated_bureau_allowed(settings: Settings) -> None:
    """Refuse the simulated bureau in production unless it is allowed in so many words: its
    reports are made up, and every decision on them would be too."""
    if settings.production and not settings.allow_simulated_bureau:
        raise ConfigError(
            "XINBAO_ENV=production refuses the simulated credit bureau (XINBAO_BUREAU="
            f"{settings.bureau}): set XINBAO_BUREAU to a real bureau adapter's "
            "'package.module:factory' (docs/BUREAU.md), or XINBAO_ALLOW_SIMULATED_BUREAU=1 "
            "to decide on simulated reports knowingly")
