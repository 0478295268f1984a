"""The commands underwriting accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from xinbao.catalogue.model.parties import PartyKind
from xinbao.catalogue.model.products import (
    RepaymentMethod,
)
from xinbao.underwriting.model import CollateralOffer, Evidence, Profile


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
    #: The business day the application reached the insurer (the API's, the CLI's today);
    #: an application dated after it is refused. None where the caller keeps its own clock
    #: (the market simulator replaying history).
    received_on: date | None = None


@dataclass(frozen=True, slots=True)
class SubmitApplicationFile:
    """A funder's file of applications (rows may name the funder only once per file)."""

    rows: tuple[SubmitApplication, ...]
