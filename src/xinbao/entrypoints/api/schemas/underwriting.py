"""Wire schemas of underwriting: applications, their collateral and evidence, batches of
them, and the search by borrower."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from xinbao.catalogue.model.parties import PartyKind
from xinbao.catalogue.model.products import RepaymentMethod
from xinbao.entrypoints.api.schemas.common import Count, Fen, FieldErrorOut, Rate, StrictIn
from xinbao.kernel.identity import (
    MaskingRules,
    mask_bank_card,
    mask_id_number,
    mask_name,
    mask_phone,
)
from xinbao.risk.model.collateral import BrandTier
from xinbao.underwriting.commands import SubmitApplication
from xinbao.underwriting.model import (
    Application,
    CollateralKind,
    CollateralOffer,
    Evidence,
    EvidenceKind,
    Profile,
)


class CollateralIn(StrictIn):
    kind: CollateralKind
    new_price_fen: Fen | None = Field(default=None, gt=0, description="car: the new price")
    brand_tier: BrandTier | None = None
    first_registered: date | None = Field(default=None, description="car: first registration")
    appraised_fen: Fen | None = Field(default=None, gt=0, description="house: appraised value")
    city_tier: int | None = Field(default=None, ge=1, le=4, description="house: city tier 1-4")
    prior_liens_fen: Fen = Field(default=0, ge=0, description="loans already secured on it")

    def offer(self) -> CollateralOffer:
        return CollateralOffer(
            kind=self.kind, new_price_fen=self.new_price_fen,
            brand_tier=self.brand_tier.value if self.brand_tier else None,
            first_registered=self.first_registered, appraised_fen=self.appraised_fen,
            city_tier=self.city_tier, prior_liens_fen=self.prior_liens_fen)


class EvidenceIn(StrictIn):
    kind: EvidenceKind
    reference: str = Field(min_length=1, max_length=500,
                           description="where the document is kept (archive id or URI)")
    sha256: str = Field(pattern="^[0-9a-fA-F]{64}$", description="SHA-256 of the document")


class ApplicationIn(StrictIn):
    funder_code: str = Field(min_length=1, max_length=40)
    external_ref: str = Field(min_length=1, max_length=64)
    product_code: str = Field(min_length=1, max_length=40)
    borrower_kind: PartyKind
    borrower_name: str = Field(min_length=1, max_length=200)
    borrower_id_number: str = Field(min_length=1, max_length=32)
    borrower_phone: str = Field(min_length=1, max_length=20)
    borrower_bank_card: str | None = Field(default=None, max_length=32)
    amount_fen: Fen
    term_months: Count
    annual_rate: Rate
    repayment_method: RepaymentMethod
    applied_on: date
    policyholder_id: str | None = Field(default=None, max_length=32)
    insured_id: str | None = Field(default=None, max_length=32)
    monthly_income_fen: Fen | None = Field(
        default=None, ge=0, description="declared monthly income (enterprises: revenue / 12)")
    employment: str | None = Field(default=None, max_length=30)
    industry: str | None = Field(default=None, max_length=40)
    device_id: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    employer: str | None = Field(default=None, max_length=200)
    collateral: CollateralIn | None = None
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=10,
                                       description="consent and sales-recording (双录) "
                                                   "evidence, by reference and SHA-256")

    def command(self, *, received_on: date) -> SubmitApplication:
        """The use case's command for an application that reached us on ``received_on``."""
        data = self.model_dump(exclude={"monthly_income_fen", "employment", "industry",
                                        "device_id", "address", "employer", "collateral",
                                        "evidence"})
        return SubmitApplication(
            **data, profile=Profile(
                monthly_income_fen=self.monthly_income_fen, employment=self.employment,
                industry=self.industry, device_id=self.device_id, address=self.address,
                employer=self.employer),
            collateral=self.collateral.offer() if self.collateral else None,
            evidence=tuple(Evidence(e.kind, e.reference, e.sha256) for e in self.evidence),
            received_on=received_on)


class ApplicationBatchIn(StrictIn):
    applications: list[ApplicationIn] = Field(min_length=1, max_length=1000)


class RejectedRowOut(BaseModel):
    index: int = Field(description="position in the batch, from 0")
    external_ref: str
    errors: list[FieldErrorOut]


class ApplicationOut(BaseModel):
    id: int
    funder_id: int
    external_ref: str
    product_code: str
    product_version: int
    mode: str
    borrower_kind: str
    borrower_name: str
    borrower_id_number: str
    borrower_phone: str
    borrower_bank_card: str | None
    policyholder: str
    insured: str
    amount_fen: Fen
    term_months: int
    annual_rate: Rate
    repayment_method: str
    applied_on: date
    status: str
    decided_on: date | None
    reason_codes: list[str]

    masked: bool = Field(description="personal data shown masked (the default)")

    @classmethod
    def of(cls, a: Application, masking: MaskingRules, *,
           unmasked: bool = False) -> ApplicationOut:
        """Personal data masked, unless the caller unmasked it (permission checked and the
        unmasking audited by the route)."""
        return cls(**application_fields(a, masking, unmasked=unmasked))


def application_fields(a: Application, masking: MaskingRules, *,
                       unmasked: bool = False) -> dict[str, Any]:
    """``ApplicationOut``'s fields, in its order, as Python values."""
    b = a.borrower
    person = b.kind is PartyKind.INDIVIDUAL
    return {
        "id": a.id, "funder_id": a.funder_id, "external_ref": a.external_ref,
        "product_code": a.product_code, "product_version": a.product_version,
        "mode": a.mode.value, "borrower_kind": b.kind.value,
        "borrower_name": b.name if unmasked or not person else mask_name(b.name),
        "borrower_id_number": (b.id_number if unmasked
                               else mask_id_number(b.id_number, masking)),
        "borrower_phone": b.phone if unmasked else mask_phone(b.phone, masking),
        "borrower_bank_card": (None if not b.bank_card else b.bank_card if unmasked
                               else mask_bank_card(b.bank_card, masking)),
        "policyholder": a.roles.policyholder.value, "insured": a.roles.insured.value,
        "amount_fen": a.amount_fen, "term_months": a.term_months,
        "annual_rate": a.annual_rate, "repayment_method": a.repayment_method.value,
        "applied_on": a.applied_on, "status": a.status.value, "decided_on": a.decided_on,
        "reason_codes": list(a.reason_codes), "masked": not unmasked}


class ApplicationBatchOut(BaseModel):
    """Each good row stored (or the stored one for a repeat); each bad row refused alone,
    with its errors; nothing of a refused row is written."""

    accepted: list[ApplicationOut]
    rejected: list[RejectedRowOut]


class BorrowerSearchIn(StrictIn):
    id_number: str = Field(min_length=15, max_length=32,
                           description="the borrower's ID number or credit code, exact")
