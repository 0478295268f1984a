"""Settings: the one place that reads the environment (called by the composition root)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite:///out/xinbao.db"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    log_level: str = "INFO"
    log_json: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("XINBAO_DATABASE_URL") or DEFAULT_DATABASE_URL,
            log_level=env.get("XINBAO_LOG_LEVEL", "INFO").upper(),
            log_json=env.get("XINBAO_LOG_JSON", "").lower() in ("1", "true", "yes"),
        )
