"""The commands the catalogue accepts: frozen dataclasses, amounts in integer fen, rates as
Decimal, business dates passed in (``on``) so that use cases never read a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from xinbao.catalogue.model.parties import FunderKind, InsuranceMode
from xinbao.catalogue.model.products import (
    PremiumBasis,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)


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
