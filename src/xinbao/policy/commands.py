"""The commands policy accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


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
class PrepayInPart:
    """The borrower repays part of the principal early (部分提前还款) with the interest the
    funder charged on it, as the funder reports: the term stays, the installments left fall
    and the cover with them."""

    loan_id: int
    paid_on: date
    principal_fen: int
    interest_fen: int
    reference: str  # the funder's transaction number: a repeat answers with what it made


@dataclass(frozen=True, slots=True)
class RestructureLoan:
    """The funder restructured the insured loan on ``on`` (its agreement ``reference``):
    the principal not yet paid over ``installments`` new monthly installments at
    ``annual_rate`` (None: the loan's). With the insurer's ``consent`` (its staff's) the
    cover follows the new schedule; without it the policy notes the change and the
    wording's exclusion applies to claims."""

    policy_id: int
    on: date
    installments: int
    reference: str
    reason: str
    consent: bool = False
    annual_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TransferPolicy:
    """The loan sold to another funder (``to_funder``, by its code) on ``on``, under that
    funder's contract number: the insured changes, the obligor never does."""

    policy_id: int
    to_funder: str
    contract_no: str
    on: date
    reason: str
