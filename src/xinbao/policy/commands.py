"""The commands policy accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class IssuePolicy:
    policy_id: int
    contract_no: str  # the funder's loan contract number
    disbursed_on: date
    on: date
    premium_paid: bool = True  # a single premium is collected at disbursement


@dataclass(frozen=True, slots=True)
class IssuePolicies:
    """A funder's disbursement file: one issue per loan."""

    items: tuple[IssuePolicy, ...]
