"""Wire schemas of risk: approval decisions (one, or a batch), the stored decision record,
and a person's review of a referral."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from xinbao.entrypoints.api.schemas.common import Fen, Id, Rate, StrictIn
from xinbao.entrypoints.api.schemas.policy import PolicyOut, policy_fields
from xinbao.entrypoints.api.schemas.underwriting import ApplicationOut, application_fields
from xinbao.kernel.identity import MaskingRules
from xinbao.risk.approval import ApprovalResult
from xinbao.risk.model.decision import DecisionRecord
from xinbao.underwriting.model import ApplicationStatus


class ApproveBatchIn(StrictIn):
    application_ids: list[Id] = Field(min_length=1, max_length=500,
                                      description="submitted applications to decide")
    on: date | None = Field(default=None, description="business date; today when omitted")


class DecisionOut(BaseModel):
    """The answer to a decide request: the outcome and the quote of an approval."""

    application: ApplicationOut
    outcome: str = Field(description="approve, approve_changed, refer or decline")
    approved: bool
    reason_codes: list[str]
    messages: list[str] = Field(description="what each deciding finding found")
    policy: PolicyOut | None


def decision_fields(r: ApprovalResult, masking: MaskingRules) -> dict[str, Any]:
    """``DecisionOut``'s fields, nested, in its order (``common.dump_json`` writes them)."""
    findings = r.decision.detail.get("findings", []) if r.decision else []
    return {
        "application": application_fields(r.application, masking),
        "outcome": r.decision.outcome.value if r.decision else r.application.status.value,
        "approved": r.application.status is ApplicationStatus.APPROVED,
        "reason_codes": list(r.application.reason_codes),
        "messages": [f["detail"] for f in findings if f["action"] != "pass"],
        "policy": policy_fields(r.policy) if r.policy else None}


class DecisionBatchOut(BaseModel):
    """One answer per application asked for, in the order asked."""

    decisions: list[DecisionOut]


class FindingOut(BaseModel):
    stage: str
    code: str
    action: str
    detail: str


class ReviewOut(BaseModel):
    actor: str
    verdict: str
    on: date
    note: str


class DecisionRecordOut(BaseModel):
    """A stored decision: outcome, every reason, the limit's constraints, the price breakdown,
    the score, the bureau's answer, the collateral's valuation and the inputs, with the
    versions of the rule set, model and parameters behind it and the bureau that answered."""

    application_id: int
    outcome: str
    final: bool = Field(description="false while a referral waits for review")
    decided_on: date
    decided_by: str
    reason_codes: list[str]
    requested_fen: Fen
    approved_fen: Fen
    annual_premium_rate: Rate | None
    monthly_premium_rate: Rate | None
    pd: Rate | None
    score: int | None
    model: str
    rule_set_version: str
    params_version: str
    bureau_source: str = Field(description="the credit bureau adapter that answered, as it "
                               "names itself (name/version); simulated/1 is the simulated "
                               "bureau, never a real credit report")
    findings: list[FindingOut]
    limit: dict[str, Any] | None
    price: dict[str, Any] | None
    bureau: dict[str, Any]
    collateral: dict[str, Any] | None
    inputs: dict[str, Any]
    reviews: list[ReviewOut]
    awaiting_second_approver: bool

    @classmethod
    def of(cls, d: DecisionRecord) -> DecisionRecordOut:
        detail = d.detail
        return cls(
            application_id=d.application_id, outcome=d.outcome.value, final=d.final,
            decided_on=d.decided_on, decided_by=d.decided_by, reason_codes=list(d.reason_codes),
            requested_fen=d.requested_fen, approved_fen=d.approved_fen,
            annual_premium_rate=d.annual_premium_rate,
            monthly_premium_rate=d.monthly_premium_rate, pd=d.pd, score=d.score,
            model=d.model, rule_set_version=d.rule_set_version,
            params_version=d.params_version, bureau_source=d.bureau_source,
            findings=[FindingOut(**f) for f in detail.get("findings", [])],
            limit=detail.get("limit"), price=detail.get("price"),
            bureau=detail.get("bureau") or {}, collateral=detail.get("collateral"),
            inputs=detail.get("inputs") or {},
            reviews=[ReviewOut(actor=r.actor, verdict=r.verdict, on=r.on, note=r.note)
                     for r in d.reviews],
            awaiting_second_approver=d.pending_second_approval is not None)


class ReviewIn(StrictIn):
    approve: bool
    note: str = Field(min_length=5, max_length=500, description="why (kept in the audit trail)")
    on: date | None = Field(default=None, description="business date; today when omitted")
