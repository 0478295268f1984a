"""Wire schemas of the catalogue: products and funders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from xinbao.catalogue.model.agreements import (
    MAX_CLAIM_DAYS,
    MAX_SETTLEMENT_DAYS,
    FileFormat,
    PremiumCollector,
)
from xinbao.catalogue.model.parties import FunderKind
from xinbao.catalogue.model.products import Product
from xinbao.entrypoints.api.schemas.common import Fen, Rate, StrictIn


class FunderIn(StrictIn):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(min_length=18, max_length=18)
    kind: FunderKind
    licensed: bool
    commission_rate: Rate = Field(ge=0, lt=1)
    products: list[str] = Field(min_length=1, max_length=50,
                                description="product codes under the cooperation agreement")
    effective_from: date | None = Field(
        default=None, description="the day the agreement takes effect; today when omitted")
    volume_share: Rate | None = Field(
        default=None, gt=0, le=1,
        description="planned share of the insurer's new business; none agreed when omitted")
    risk_share: Rate = Field(default=Decimal(0), ge=0, lt=1,
                             description="share of each loss the funder keeps")
    settlement_days: int = Field(default=30, ge=1, le=MAX_SETTLEMENT_DAYS,
                                 description="settlement cycle of premium and claims, days")
    file_format: FileFormat = Field(default=FileFormat.CSV,
                                    description="how the funder sends its files")
    claim_notice_days: int = Field(default=30, ge=0, le=MAX_CLAIM_DAYS,
                                   description="a claim notice within this many days of the "
                                               "trigger date")
    premium_grace_days: int = Field(default=30, ge=0, le=MAX_CLAIM_DAYS,
                                    description="premium due may be this many days late "
                                                "before a default")
    premium_collector: PremiumCollector = Field(
        default=PremiumCollector.INSURER,
        description="who collects the premium: the insurer, or the funder (it holds it for "
                    "us until its settlement statement)")


class FunderOut(BaseModel):
    id: int
    code: str
    name: str
    kind: FunderKind
    licensed: bool
    commission_rate: Rate
    products: list[str]
    agreement_version: int
    effective_from: date
    volume_share: Rate | None
    risk_share: Rate
    settlement_days: int
    file_format: FileFormat
    claim_notice_days: int
    premium_grace_days: int
    premium_collector: PremiumCollector


class ProductOut(BaseModel):
    code: str
    version: int
    name: str
    mode: str
    family: str
    min_amount_fen: Fen
    max_amount_fen: Fen
    min_term_months: int
    max_term_months: int
    repayment_methods: list[str]
    claim_trigger_dpd: int
    waiting_period_days: int
    coverage_share: Rate
    premium_basis: str
    monthly_premium_rate: Rate
    refund_method: str
    effective_from: date

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(code=p.code, version=p.version, name=p.name, mode=p.mode.value,
                   family=p.family.value, min_amount_fen=p.min_amount_fen,
                   max_amount_fen=p.max_amount_fen, min_term_months=p.min_term_months,
                   max_term_months=p.max_term_months,
                   repayment_methods=[m.value for m in p.repayment_methods],
                   claim_trigger_dpd=p.claim_trigger_dpd,
                   waiting_period_days=p.waiting_period_days, coverage_share=p.coverage_share,
                   premium_basis=p.premium_basis.value,
                   monthly_premium_rate=p.monthly_premium_rate,
                   refund_method=p.refund_method.value, effective_from=p.effective_from)
