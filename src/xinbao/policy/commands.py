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


@dataclass(frozen=True, slots=True)
class CancelPolicy:
    """The policyholder asks to end cover on ``on``; in guarantee insurance the insured
    funder's consent (its own request is its consent)."""

    policy_id: int
    on: date
    reason: str
    insured_consent: bool = False


@dataclass(frozen=True, slots=True)
class TransferPolicy:
    """The loan sold to another funder (``to_funder``, by its code) on ``on``, under that
    funder's contract number: the insured changes, the obligor never does."""

    policy_id: int
    to_funder: str
    contract_no: str
    on: date
    reason: str
