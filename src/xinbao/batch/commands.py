"""The batch's commands: a person's override of a loan's five-tier class, set or lifted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class SetOverride:
    """Put the loan in ``tier`` (1 正常 … 5 损失) from ``effective_from``, whatever the rules
    say, for ``reason``."""

    loan_id: int
    tier: int
    reason: str
    effective_from: date


@dataclass(frozen=True, slots=True)
class LiftOverride:
    """From ``effective_from`` the rules classify the loan again."""

    loan_id: int
    reason: str
    effective_from: date
