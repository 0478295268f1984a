"""Domain events: past-tense facts that aggregates record as they change state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    name: str  # past tense, e.g. "PolicyIssued"
    aggregate: str  # "policy", "claim", ...
    aggregate_id: int | None
    on: date  # business date of the fact
    data: dict[str, Any] = field(default_factory=dict)
