"""Wire schemas of policies: issuing one, and reading them one or a page at a time."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from xinbao.entrypoints.api.schemas.common import Fen, Rate, StrictIn
from xinbao.policy.model import Endorsement, Policy


class IssueIn(StrictIn):
    contract_no: str = Field(min_length=1, max_length=64)
    disbursed_on: date
    on: date | None = None
    premium_paid: bool = True


class PolicyOut(BaseModel):
    id: int
    policy_no: str
    application_id: int
    product_code: str
    product_version: int
    mode: str
    status: str
    policyholder: str
    insured: str
    sum_insured_fen: Fen = Field(description="the limit of liability (保险金额): the principal "
                                 "insured and the scheduled interest covered")
    principal_insured_fen: Fen = Field(description="the principal insured; the premium rate "
                                       "applies to it")
    interest_insured_fen: Fen = Field(description="the scheduled interest the cover includes")
    coverage_share: Rate
    premium_basis: str
    single_premium_fen: Fen
    installment_premium_fen: Fen
    total_premium_fen: Fen
    vat_rate: Rate = Field(description="VAT on premium, the quote's: every premium above "
                                       "excludes it, the borrower pays both")
    single_vat_fen: Fen = Field(description="VAT on the single premium kept (less refunds)")
    installment_vat_fen: Fen = Field(description="VAT on each installment premium from the "
                                                 "next; a repayment's premium_fen is the "
                                                 "premium and its VAT")
    total_vat_fen: Fen = Field(description="VAT on total_premium_fen")
    term_months: int
    start_date: date | None
    end_date: date | None
    loan_id: int | None
    earned_fen: Fen
    refunded_fen: Fen
    version: int = Field(description="one more with each endorsement")
    premium_due_fen: Fen = Field(description="installment premium written and not collected, "
                                             "with its VAT")

    @classmethod
    def of(cls, p: Policy) -> PolicyOut:
        return cls(**policy_fields(p))


def policy_fields(p: Policy) -> dict[str, Any]:
    """``PolicyOut``'s fields, in its order, as Python values."""
    return {
        "id": p.id, "policy_no": p.policy_no, "application_id": p.application_id,
        "product_code": p.product_code, "product_version": p.product_version,
        "mode": p.mode.value, "status": p.status.value, "policyholder": p.policyholder.value,
        "insured": p.insured.value, "sum_insured_fen": p.sum_insured_fen,
        "principal_insured_fen": p.principal_insured_fen,
        "interest_insured_fen": p.interest_insured_fen,
        "coverage_share": p.coverage_share, "premium_basis": p.premium_basis.value,
        "single_premium_fen": p.single_premium_fen,
        "installment_premium_fen": p.installment_premium_fen,
        "total_premium_fen": p.total_premium_fen, "vat_rate": p.vat_rate,
        "single_vat_fen": p.single_vat_fen, "installment_vat_fen": p.installment_vat_fen,
        "total_vat_fen": p.total_vat_fen, "term_months": p.term_months,
        "start_date": p.start_date, "end_date": p.end_date, "loan_id": p.loan_id,
        "earned_fen": p.earned_fen, "refunded_fen": p.refunded_fen, "version": p.version,
        "premium_due_fen": p.premium_due_fen}


class PolicyPageOut(BaseModel):
    items: list[PolicyOut]
    next_after_id: int | None = Field(description="pass as after_id for the next page")


class CancelIn(StrictIn):
    """End cover at the policyholder's request. In guarantee insurance the insured funder
    consents (``insured_consent``; a funder's own request is its consent)."""

    on: date | None = Field(default=None, description="the day it takes effect; today when "
                                                      "omitted")
    reason: str = Field(min_length=1, max_length=200)
    insured_consent: bool = False


class PartialPrepaymentIn(StrictIn):
    """Part of the principal repaid early, with the interest the funder charged on it."""

    paid_on: date
    principal_fen: Fen = Field(description="principal repaid early, fen (more than 0, less "
                                           "than the principal left)")
    interest_fen: Fen = 0
    reference: str = Field(min_length=1, max_length=64,
                           description="the funder's transaction number")


class RestructureIn(StrictIn):
    """The funder's restructuring of the loan: the principal not yet paid over so many new
    monthly installments, at a new rate or the loan's. ``consent``: the insurer's, given by
    its staff; without it the cover stays the schedule insured."""

    installments: int = Field(ge=1, le=360, description="new installments")
    annual_rate: Decimal | None = Field(default=None, ge=0, lt=1,
                                        description="the new annual rate; the loan's when "
                                                    "omitted")
    reference: str = Field(min_length=1, max_length=64,
                           description="the funder's restructuring agreement number")
    reason: str = Field(min_length=1, max_length=200)
    consent: bool = False
    on: date | None = None


class TransferIn(StrictIn):
    """The loan sold to another funder: it becomes the insured."""

    to_funder: str = Field(min_length=1, max_length=40, description="the buyer's code")
    contract_no: str = Field(min_length=1, max_length=64,
                             description="the buyer's contract number for the loan")
    on: date | None = None
    reason: str = Field(min_length=1, max_length=200)


class EndorsementOut(BaseModel):
    """An endorsement: the policy's version it made, its kind, when it takes effect, why,
    its money and what else it changed."""

    policy_id: int
    version: int
    kind: str = Field(description="cancellation, transfer, partial_prepayment or "
                                  "restructure")
    effective_on: date
    reason: str
    refund_fen: Fen
    commission_clawback_fen: Fen
    details: dict[str, Any]

    @classmethod
    def of(cls, e: Endorsement) -> EndorsementOut:
        return cls(policy_id=e.policy_id, version=e.version, kind=e.kind.value,
                   effective_on=e.effective_on, reason=e.reason, refund_fen=e.refund_fen,
                   commission_clawback_fen=e.commission_clawback_fen, details=dict(e.details))
