"""Commands: what a user or partner asks the system to do, in imperative names.

Plain frozen dataclasses; amounts in integer fen, rates as Decimal, business dates passed in
(``on``) so that use cases never read a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from xinbao.domain.claims import Exclusion
from xinbao.domain.parties import FunderKind, InsuranceMode, PartyKind
from xinbao.domain.products import PremiumBasis, ProductFamily, RefundMethod, RepaymentMethod
from xinbao.domain.underwriting import CollateralOffer, Evidence, Profile


@dataclass(frozen=True, slots=True)
class RegisterFunder:
    code: str
    name: str
    credit_code: str
    kind: FunderKind
    licensed: bool
    commission_rate: Decimal
    products: tuple[str, ...]  # product codes under the cooperation agreement


@dataclass(frozen=True, slots=True)
class RegisterProduct:
    """Register a product, or a new version of it when the code exists."""

    code: str
    name: str
    mode: InsuranceMode
    family: ProductFamily
    min_amount_fen: int
    max_amount_fen: int
    min_term_months: int
    max_term_months: int
    repayment_methods: tuple[RepaymentMethod, ...]
    claim_trigger_dpd: int
    waiting_period_days: int
    coverage_share: Decimal
    premium_basis: PremiumBasis
    monthly_premium_rate: Decimal
    refund_method: RefundMethod
    effective_from: date


@dataclass(frozen=True, slots=True)
class SubmitApplication:
    funder_code: str
    external_ref: str  # the funder's own application number
    product_code: str
    borrower_kind: PartyKind
    borrower_name: str
    borrower_id_number: str  # resident ID, or unified social credit code for enterprises
    borrower_phone: str
    amount_fen: int
    term_months: int
    annual_rate: Decimal
    repayment_method: RepaymentMethod
    applied_on: date
    borrower_bank_card: str | None = None
    policyholder_id: str | None = None  # ID number / credit code; derived from the mode if None
    insured_id: str | None = None
    profile: Profile = Profile()
    collateral: CollateralOffer | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class SubmitApplicationFile:
    """A funder's file of applications (rows may name the funder only once per file)."""

    rows: tuple[SubmitApplication, ...]


@dataclass(frozen=True, slots=True)
class ApproveApplication:
    application_id: int
    on: date


@dataclass(frozen=True, slots=True)
class ApproveApplications:
    application_ids: tuple[int, ...]
    on: date


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
class RecordRepayment:
    loan_id: int
    installment_number: int
    paid_on: date
    principal_fen: int
    interest_fen: int
    reference: str  # the funder's transaction number: a repeat with it is ignored
    premium_fen: int = 0  # installment premium collected with the repayment


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
class IngestRepaymentFile:
    funder_code: str
    file_reference: str  # the funder's name for the file, e.g. its date and sequence
    received_on: date
    records: tuple[RepaymentRecord, ...]


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
