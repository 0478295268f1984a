"""The commands billing accepts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class SettleFunder:
    """Settle a funder's last whole settlement cycle ending by ``on``, as the bank moved it:
    ``bank_amount_fen`` received from the funder (negative: paid to it) under the bank's
    ``bank_reference``."""

    funder_code: str
    on: date
    bank_reference: str
    bank_amount_fen: int
