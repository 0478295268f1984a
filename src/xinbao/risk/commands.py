"""The commands risk approval accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class ApproveApplication:
    application_id: int
    on: date


@dataclass(frozen=True, slots=True)
class ApproveApplications:
    application_ids: tuple[int, ...]
    on: date
