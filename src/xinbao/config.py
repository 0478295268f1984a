"""Settings: the one place that reads the environment (called by the composition root).

Secrets are never settings: they live in the secrets file (``XINBAO_SECRETS_FILE``), which
a development machine creates on first use and production must be given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///out/xinbao.db"
DEFAULT_SECRETS_FILE = "out/xinbao-secrets.toml"
DEFAULT_MODELS_DIR = "out/models"


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
    rate_limit_per_second: int = 20  # per API client or user, sustained
    rate_limit_burst: int = 60
    login_rate_per_minute: int = 10  # per IP on /oauth/token and /console/login
    #: The model registry: trained versions and registry.json (champion, challenger).
    models_dir: str = DEFAULT_MODELS_DIR
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
            rate_limit_per_second=_int(env, "XINBAO_RATE_LIMIT_PER_SECOND", 20),
            rate_limit_burst=_int(env, "XINBAO_RATE_LIMIT_BURST", 60),
            login_rate_per_minute=_int(env, "XINBAO_LOGIN_RATE_PER_MINUTE", 10),
            models_dir=env.get("XINBAO_MODELS_DIR") or DEFAULT_MODELS_DIR,
            bureau_latency_ms=_nonnegative(env, "XINBAO_BUREAU_LATENCY_MS", 0),
            db_pool_size=_int(env, "XINBAO_DB_POOL_SIZE", 20),
        )
