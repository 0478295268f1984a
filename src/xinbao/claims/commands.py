"""The commands claims accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from xinbao.claims.model import Exclusion


@dataclass(frozen=True, slots=True)
class FileClaim:
    policy_id: int
    on: date
    exclusions: frozenset[Exclusion] = frozenset()


@dataclass(frozen=True, slots=True)
class PayClaim:
    claim_id: int
    on: date


@dataclass(frozen=True, slots=True)
class RecordRecovery:
    claim_id: int
    amount_fen: int
    received_on: date
    source: str
    reference: str
    final: bool = False
