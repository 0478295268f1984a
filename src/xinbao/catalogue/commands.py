"""The commands the catalogue accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from xinbao.catalogue.model.agreements import FileFormat
from xinbao.catalogue.model.parties import FunderKind, InsuranceMode
from xinbao.catalogue.model.products import (
    PremiumBasis,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)


@dataclass(frozen=True, slots=True)
class RegisterFunder:
    """Register a funder under version 1 of its cooperation agreement."""

    code: str
    name: str
    credit_code: str
    kind: FunderKind
    licensed: bool
    commission_rate: Decimal
    products: tuple[str, ...]  # product codes under the cooperation agreement
    effective_from: date  # the day the agreement takes effect
    volume_share: Decimal | None = None  # planned share of new business; None: none agreed
    risk_share: Decimal = Decimal(0)  # share of each loss the funder keeps
    settlement_days: int = 30
    file_format: str = FileFormat.CSV
    claim_notice_days: int = 30
    premium_grace_days: int = 30
    premium_collector: str = "insurer"  # who collects the premium: insurer or funder


@dataclass(frozen=True, slots=True)
class AmendAgreement:
    """Store the next version of a funder's agreement: the terms given change, the others
    stay as in the newest version (None: unchanged). ``on`` is the day it is stored; the
    version takes effect on ``effective_from`` (that day if None). ``feed_mapping`` names the
    file types whose column mapping it replaces (theirs -> ours; an empty one removes that
    type's), the other types' kept."""

    funder_code: str
    on: date
    effective_from: date | None = None
    products: tuple[str, ...] | None = None
    commission_rate: Decimal | None = None
    volume_share: Decimal | None = None
    risk_share: Decimal | None = None
    settlement_days: int | None = None
    file_format: str | None = None
    feed_mapping: Mapping[str, Mapping[str, str]] | None = None
    claim_notice_days: int | None = None
    premium_grace_days: int | None = None
    premium_collector: str | None = None


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
