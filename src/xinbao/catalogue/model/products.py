"""Insurance products, versioned.

A product fixes the mode (who buys cover), the family of loans it covers, the amount and term
ranges, the claim trigger in days past due, the waiting period, the insurer's coverage share,
how premium is charged and at what rate, and how premium is refunded on prepayment. A new
version of a product never changes policies already written under an older one: applications
bind the version in force on their application date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from xinbao.catalogue.model.parties import InsuranceMode, PartyKind
from xinbao.kernel.errors import FieldError, InvalidInput


class ProductFamily(StrEnum):
    CONSUMER = "consumer"  # 个人消费贷款
    CAR = "car"  # 个人汽车贷款
    MORTGAGE_BACKED = "mortgage_backed"  # 个人住房抵押贷款
    SMALL_BUSINESS = "small_business"  # 小微企业经营贷款


class PremiumBasis(StrEnum):
    SINGLE = "single"  # one premium at disbursement
    PER_INSTALLMENT = "per_installment"  # a premium with each installment


class RefundMethod(StrEnum):
    PRO_RATA = "pro_rata"  # t/n: level cover or monthly premiums
    RULE_OF_78 = "rule_of_78"  # single-premium decreasing cover (US credit-insurance rule)


class RepaymentMethod(StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_FIRST = "interest_first"  # 先息后本


#: The kind of borrower each family lends to (DOMAIN §1, product families).
BORROWER_KIND = {
    ProductFamily.CONSUMER: PartyKind.INDIVIDUAL,
    ProductFamily.CAR: PartyKind.INDIVIDUAL,
    ProductFamily.MORTGAGE_BACKED: PartyKind.INDIVIDUAL,
    ProductFamily.SMALL_BUSINESS: PartyKind.ENTERPRISE,
}


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    version: int
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
    monthly_premium_rate: Decimal  # on the sum insured (the loan principal)
    refund_method: RefundMethod
    effective_from: date

    @property
    def borrower_kind(self) -> PartyKind:
        return BORROWER_KIND[self.family]

    def validate(self) -> list[FieldError]:
        """Every rule a product definition breaks (empty when it is sound)."""
        errors: list[FieldError] = []

        def bad(field: str, rule: str, message: str) -> None:
            errors.append(FieldError(field, f"product.{rule}", message))

        if not self.code or not self.code.replace("-", "").replace("_", "").isalnum():
            bad("code", "code", "code must be letters, digits, - or _")
        if self.version < 1:
            bad("version", "version", "version starts at 1")
        if self.min_amount_fen <= 0:
            bad("min_amount_fen", "amount_positive", "minimum amount must be positive")
        if self.max_amount_fen < self.min_amount_fen:
            bad("max_amount_fen", "amount_range", "maximum amount is below the minimum")
        if self.min_term_months < 1:
            bad("min_term_months", "term_positive", "minimum term is at least one month")
        if self.max_term_months < self.min_term_months:
            bad("max_term_months", "term_range", "maximum term is below the minimum")
        if not self.repayment_methods:
            bad("repayment_methods", "repayment_methods", "at least one repayment method")
        if self.claim_trigger_dpd < 1:
            bad("claim_trigger_dpd", "trigger_positive", "claim trigger is at least 1 day")
        if self.waiting_period_days < 0:
            bad("waiting_period_days", "waiting_nonnegative", "waiting period cannot be negative")
        if not Decimal(0) < self.coverage_share <= Decimal(1):
            bad("coverage_share", "coverage_share", "coverage share must be in (0, 1]")
        if not Decimal(0) <= self.monthly_premium_rate < Decimal("0.1"):
            bad("monthly_premium_rate", "premium_rate", "monthly premium rate must be in [0, 0.1)")
        return errors

    def ensure_valid(self) -> None:
        errors = self.validate()
        if errors:
            raise InvalidInput(errors)

    def check_loan_terms(
        self, *, amount_fen: int, term_months: int, repayment_method: RepaymentMethod,
    ) -> list[FieldError]:
        """Findings for a requested loan outside this product's limits."""
        errors: list[FieldError] = []
        if amount_fen <= 0:
            errors.append(FieldError("amount_fen", "loan.amount_positive",
                                     "amount must be positive"))
        elif not self.min_amount_fen <= amount_fen <= self.max_amount_fen:
            errors.append(FieldError(
                "amount_fen", "product.amount_range",
                f"amount must be between {self.min_amount_fen} and {self.max_amount_fen} fen "
                f"for product {self.code} v{self.version}",
            ))
        if term_months <= 0:
            errors.append(FieldError("term_months", "loan.term_positive",
                                     "term must be at least one month"))
        elif not self.min_term_months <= term_months <= self.max_term_months:
            errors.append(FieldError(
                "term_months", "product.term_range",
                f"term must be between {self.min_term_months} and {self.max_term_months} months "
                f"for product {self.code} v{self.version}",
            ))
        if repayment_method not in self.repayment_methods:
            allowed = ", ".join(m.value for m in self.repayment_methods)
            errors.append(FieldError("repayment_method", "product.repayment_method",
                                     f"product {self.code} allows: {allowed}"))
        return errors


def version_in_force(versions: list[Product], on: date) -> Product | None:
    """The latest version whose effective date is on or before ``on``."""
    candidates = [p for p in versions if p.effective_from <= on]
    return max(candidates, key=lambda p: p.version) if candidates else None
