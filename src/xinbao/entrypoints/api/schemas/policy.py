"""Wire schemas of policies: issuing one, and reading them one or a page at a time."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from xinbao.entrypoints.api.schemas.common import Fen, Rate, StrictIn
from xinbao.policy.model import Policy


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
    sum_insured_fen: Fen
    coverage_share: Rate
    premium_basis: str
    single_premium_fen: Fen
    installment_premium_fen: Fen
    total_premium_fen: Fen
    term_months: int
    start_date: date | None
    end_date: date | None
    loan_id: int | None
    earned_fen: Fen
    refunded_fen: Fen

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
        "coverage_share": p.coverage_share, "premium_basis": p.premium_basis.value,
        "single_premium_fen": p.single_premium_fen,
        "installment_premium_fen": p.installment_premium_fen,
        "total_premium_fen": p.total_premium_fen, "term_months": p.term_months,
        "start_date": p.start_date, "end_date": p.end_date, "loan_id": p.loan_id,
        "earned_fen": p.earned_fen, "refunded_fen": p.refunded_fen}


class PolicyPageOut(BaseModel):
    items: list[PolicyOut]
    next_after_id: int | None = Field(description="pass as after_id for the next page")
