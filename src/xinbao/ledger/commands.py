"""The commands the ledger accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class InjectCapital:
    amount_fen: int
    on: date
    reference: str


@dataclass(frozen=True, slots=True)
class ReverseEntry:
    entry_id: int
    on: date
    reason: str
    idempotency_key: str
