"""Wire schemas (Pydantic) of the REST API: separate from tables and domain objects.

Money is integer fen (``*_fen``); rates are decimal strings; dates ISO 8601.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from xinbao.catalogue.model.parties import FunderKind, PartyKind
from xinbao.catalogue.model.products import Product, RepaymentMethod
from xinbao.claims.model import Claim, Exclusion
from xinbao.kernel.identity import (
    MaskingRules,
    mask_bank_card,
    mask_id_number,
    mask_name,
    mask_phone,
)
from xinbao.loans.model import Installment, Position
from xinbao.policy.model import Policy
from xinbao.risk.model.collateral import BrandTier
from xinbao.risk.model.decision import DecisionRecord
from xinbao.servicing.queries import LoanView
from xinbao.underwriting.commands import SubmitApplication
from xinbao.underwriting.model import (
    Application,
    CollateralKind,
    CollateralOffer,
    Evidence,
    EvidenceKind,
    Profile,
)

Rate = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]
#: Storage holds 64-bit integers; larger numbers are refused at the edge (422), not by the
#: database (500).
BIGINT_MAX = 2**63 - 1
Fen = Annotated[int, Field(ge=-BIGINT_MAX, le=BIGINT_MAX,
                           description="amount in integer fen (1 yuan = 100 fen)")]
Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Count = Annotated[int, Field(ge=0, le=10_000)]  # installment numbers, terms in months


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """NUL characters are refused (422): PostgreSQL text cannot hold them."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text cannot contain NUL characters")
        return value


class FunderIn(_In):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(min_length=18, max_length=18)
    kind: FunderKind
    licensed: bool
    commission_rate: Rate = Field(ge=0, lt=1)
    products: list[str] = Field(min_length=1, max_length=50,
                                description="product codes under the cooperation agreement")


class FunderOut(BaseModel):
    id: int
    code: str
    name: str
    kind: FunderKind
    licensed: bool
    commission_rate: Rate
    products: list[str]


class CollateralIn(_In):
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


class EvidenceIn(_In):
    kind: EvidenceKind
    reference: str = Field(min_length=1, max_length=500,
                           description="where the document is kept (archive id or URI)")
    sha256: str = Field(pattern="^[0-9a-fA-F]{64}$", description="SHA-256 of the document")


class ApplicationIn(_In):
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

    def command(self) -> SubmitApplication:
        data = self.model_dump(exclude={"monthly_income_fen", "employment", "industry",
                                        "device_id", "address", "employer", "collateral",
                                        "evidence"})
        return SubmitApplication(
            **data, profile=Profile(
                monthly_income_fen=self.monthly_income_fen, employment=self.employment,
                industry=self.industry, device_id=self.device_id, address=self.address,
                employer=self.employer),
            collateral=self.collateral.offer() if self.collateral else None,
            evidence=tuple(Evidence(e.kind, e.reference, e.sha256) for e in self.evidence))


class ApplicationBatchIn(_In):
    applications: list[ApplicationIn] = Field(min_length=1, max_length=1000)


class FieldErrorOut(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


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


class OnDate(_In):
    on: date | None = Field(default=None, description="business date; today when omitted")


class ApproveBatchIn(_In):
    application_ids: list[Id] = Field(min_length=1, max_length=500,
                                      description="submitted applications to decide")
    on: date | None = Field(default=None, description="business date; today when omitted")


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


class DecisionOut(BaseModel):
    """The answer to a decide request: the outcome and the quote of an approval."""

    application: ApplicationOut
    outcome: str = Field(description="approve, approve_changed, refer or decline")
    approved: bool
    reason_codes: list[str]
    messages: list[str] = Field(description="what each deciding finding found")
    policy: PolicyOut | None


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # as ``Rate`` writes it
    raise TypeError(f"{type(value).__name__} is not in the answer's schema")


def dump_json(fields: Mapping[str, Any]) -> bytes:
    """An answer's JSON from its model's fields (``*_fields``, nested as the model nests
    them), byte for byte what the model's ``model_dump_json`` writes: compact, UTF-8, dates
    ISO 8601 and rates as decimal strings. For the decision answers sent by the thousand,
    where building and validating the models cost a third of the answer's time; the models
    stay the schema, and the tests hold the two to the same bytes."""
    return orjson.dumps(fields, default=_json_default)


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
    versions of the rule set, model and parameters behind it."""

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
            params_version=d.params_version,
            findings=[FindingOut(**f) for f in detail.get("findings", [])],
            limit=detail.get("limit"), price=detail.get("price"),
            bureau=detail.get("bureau") or {}, collateral=detail.get("collateral"),
            inputs=detail.get("inputs") or {},
            reviews=[ReviewOut(actor=r.actor, verdict=r.verdict, on=r.on, note=r.note)
                     for r in d.reviews],
            awaiting_second_approver=d.pending_second_approval is not None)


class ReviewIn(_In):
    approve: bool
    note: str = Field(min_length=5, max_length=500, description="why (kept in the audit trail)")
    on: date | None = Field(default=None, description="business date; today when omitted")


class IssueIn(_In):
    contract_no: str = Field(min_length=1, max_length=64)
    disbursed_on: date
    on: date | None = None
    premium_paid: bool = True


class RepaymentIn(_In):
    installment_number: Count
    paid_on: date
    principal_fen: Fen
    interest_fen: Fen
    premium_fen: Fen = 0
    reference: str = Field(min_length=1, max_length=64)


class RepaymentOut(BaseModel):
    id: int
    loan_id: int
    installment_number: int
    paid_on: date
    principal_fen: Fen
    interest_fen: Fen


class PrepaymentIn(_In):
    paid_on: date
    interest_fen: Fen = 0
    reference: str = Field(min_length=1, max_length=64)


class SettlementOut(BaseModel):
    expired: bool
    earned_fen: Fen
    refunded_fen: Fen


class MissedIn(_In):
    installment_number: Count
    reported_on: date


class EventOut(BaseModel):
    name: str
    aggregate: str
    aggregate_id: int | None
    on: date
    data: dict


class InstallmentOut(BaseModel):
    number: int
    due_date: date
    principal_fen: Fen
    interest_fen: Fen
    total_fen: Fen

    @classmethod
    def of(cls, i: Installment) -> InstallmentOut:
        return cls(number=i.number, due_date=i.due_date, principal_fen=i.principal_fen,
                   interest_fen=i.interest_fen, total_fen=i.total_fen)


class PositionOut(BaseModel):
    as_of: date
    days_past_due: int
    outstanding_principal_fen: Fen
    overdue_principal_fen: Fen
    overdue_interest_fen: Fen
    paid_off: bool

    @classmethod
    def of(cls, p: Position) -> PositionOut:
        return cls(as_of=p.as_of, days_past_due=p.days_past_due,
                   outstanding_principal_fen=p.outstanding_principal_fen,
                   overdue_principal_fen=p.overdue_principal_fen,
                   overdue_interest_fen=p.overdue_interest_fen, paid_off=p.paid_off)


class LoanOut(BaseModel):
    id: int
    contract_no: str
    funder_id: int
    principal_fen: Fen
    annual_rate: Rate
    term_months: int
    method: str
    start_date: date
    status: str
    schedule: list[InstallmentOut]
    position: PositionOut

    @classmethod
    def of(cls, view: LoanView) -> LoanOut:
        loan = view.loan
        return cls(id=loan.id, contract_no=loan.contract_no, funder_id=loan.funder_id,
                   principal_fen=loan.principal_fen, annual_rate=loan.annual_rate,
                   term_months=loan.term_months, method=loan.method.value,
                   start_date=loan.start_date, status=loan.status.value,
                   schedule=[InstallmentOut.of(i) for i in loan.installments],
                   position=PositionOut.of(view.position))


class EndOfDayIn(_In):
    on: date
    close_month: bool | None = None


class EndOfDayOut(BaseModel):
    on: date
    policies_overdue: int
    premium_written_fen: Fen
    premium_earned_fen: Fen
    premium_refunded_fen: Fen
    policies_expired: int
    policies_cancelled: int
    claims_opened: list[int]
    claims_declined: list[int]


class ClaimIn(_In):
    policy_id: Id
    on: date | None = None
    exclusions: list[Exclusion] = []


class ClaimOut(BaseModel):
    id: int
    policy_id: int
    loan_id: int
    status: str
    opened_on: date
    days_past_due: int
    principal_fen: Fen
    interest_fen: Fen
    amount_fen: Fen
    reason_codes: list[str]
    paid_on: date | None
    recovered_fen: Fen

    @classmethod
    def of(cls, c: Claim) -> ClaimOut:
        return cls(id=c.id, policy_id=c.policy_id, loan_id=c.loan_id, status=c.status.value,
                   opened_on=c.opened_on, days_past_due=c.days_past_due,
                   principal_fen=c.principal_fen, interest_fen=c.interest_fen,
                   amount_fen=c.amount_fen, reason_codes=list(c.reason_codes),
                   paid_on=c.paid_on, recovered_fen=c.recovered_fen)


class RecoveryIn(_In):
    amount_fen: Fen
    received_on: date
    source: str = Field(min_length=1, max_length=40)
    reference: str = Field(min_length=1, max_length=64)
    final: bool = False


class RecoveryOut(BaseModel):
    id: int
    claim_id: int
    received_on: date
    amount_fen: Fen
    source: str


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


class TrialBalanceRow(BaseModel):
    account: str
    name_en: str
    name_zh: str
    type: str
    debit_fen: Fen
    credit_fen: Fen


class TrialBalanceOut(BaseModel):
    rows: list[TrialBalanceRow]
    total_debit_fen: Fen
    total_credit_fen: Fen
    balanced: bool


class KpisOut(BaseModel):
    applications: int
    policies: int
    policies_by_status: dict[str, int]
    written_premium_fen: Fen
    earned_premium_fen: Fen
    claims_paid_fen: Fen
    recoveries_fen: Fen
    claims_incurred_fen: Fen
    commission_fen: Fen
    loss_ratio: Rate | None
    combined_ratio: Rate | None
    trial_balance_total_fen: Fen


class HealthOut(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    schema_current: bool


class BorrowerSearchIn(_In):
    id_number: str = Field(min_length=15, max_length=32,
                           description="the borrower's ID number or credit code, exact")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds")


class OAuthErrorOut(BaseModel):
    error: str
    error_description: str


class MeOut(BaseModel):
    actor: str
    kind: str
    roles: list[str]
    funder_id: int | None
    permissions: list[str]


class PolicyPageOut(BaseModel):
    items: list[PolicyOut]
    next_after_id: int | None = Field(description="pass as after_id for the next page")


class AuditProblemOut(BaseModel):
    seq: int | None
    kind: str
    message: str


class AuditVerifyOut(BaseModel):
    intact: bool
    records: int
    head_seq: int
    head_hash: str
    problems: list[AuditProblemOut]


class AuditRecordOut(BaseModel):
    seq: int
    name: str
    aggregate: str
    aggregate_id: int | None
    occurred_on: date
    recorded_at: str
    actor: str
    data: dict
    hash: str


class ErrorOut(BaseModel):
    detail: str


class ApplicationBatchOut(BaseModel):
    """Each good row stored (or the stored one for a repeat); each bad row refused alone,
    with its errors; nothing of a refused row is written."""

    accepted: list[ApplicationOut]
    rejected: list[RejectedRowOut]
