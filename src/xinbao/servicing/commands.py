"""The commands servicing accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class RecordRepayment:
    loan_id: int
    installment_number: int
    paid_on: date
    principal_fen: int
    interest_fen: int
    reference: str  # the funder's transaction number: a repeat with it is ignored
    premium_fen: int = 0  # installment premium and its VAT paid with the repayment


@dataclass(frozen=True, slots=True)
class RepaymentRecord:
    """One line of a funder's repayment file."""

    contract_no: str
    installment_number: int
    paid_on: date
    principal_fen: int
    interest_fen: int
    reference: str  # the funder's transaction number: a repeat with it is ignored
    premium_fen: int = 0


@dataclass(frozen=True, slots=True)
class PrepaymentRecord:
    """One line of a funder's file saying a loan was repaid in full before maturity."""

    contract_no: str
    paid_on: date
    interest_fen: int  # interest charged for the current period
    reference: str  # the funder's transaction number: a repeat with it is ignored


@dataclass(frozen=True, slots=True)
class PartialPrepaymentRecord:
    """One line of a funder's file saying part of a loan's principal was repaid early."""

    contract_no: str
    paid_on: date
    principal_fen: int
    interest_fen: int  # interest charged on it
    reference: str  # the funder's transaction number: a repeat with it is ignored


@dataclass(frozen=True, slots=True)
class IngestRepaymentFile:
    funder_code: str
    file_reference: str  # the funder's name for the file, e.g. its date and sequence
    received_on: date
    records: tuple[RepaymentRecord, ...]
    #: Early settlements in the same file, recorded after its repayments and partial
    #: prepayments (a rejection's index counts on from the last record before them).
    prepayments: tuple[PrepaymentRecord, ...] = ()
    #: Partial prepayments, recorded after the repayments (indices count on from them).
    partial_prepayments: tuple[PartialPrepaymentRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordPrepayment:
    """The borrower repays all outstanding principal before maturity."""

    loan_id: int
    paid_on: date
    interest_fen: int  # interest charged for the current period, as the funder reports it
    reference: str


@dataclass(frozen=True, slots=True)
class RecordMissedInstallment:
    loan_id: int
    installment_number: int
    reported_on: date


@dataclass(frozen=True, slots=True)
class RunEndOfDay:
    on: date
    close_month: bool | None = None  # earn premium; defaults to "on is the month's last day"
