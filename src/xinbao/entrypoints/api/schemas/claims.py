"""Wire schemas of claims: notices, the claim with its amount's parts, its assessments with
every check's evidence, the decisions on it, and recoveries after payment."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from xinbao.claims.model import Claim, Document, Exclusion, Recovery, ServiceLevel
from xinbao.claims.repository import AssessmentRecord, RightRow, SettlementBatch
from xinbao.entrypoints.api.schemas.common import Fen, Id, StrictIn, stored


class DocumentIn(StrictIn):
    reference: str = Field(min_length=1, max_length=200)
    sha256: str = Field(pattern=r"^[0-9A-Fa-f]{64}$")


class ClaimIn(StrictIn):
    """A claim notice. A funder's client gives its own ``reference`` (the same reference
    again answers with the same claim); ``claimed_fen`` makes it a partial claim;
    ``exclusions`` are declared by claims staff, ``shown_by`` says what shows each."""

    policy_id: Id
    on: date | None = None
    reference: str | None = Field(default=None, min_length=1, max_length=64)
    claimed_fen: Fen | None = None
    documents: list[DocumentIn] = Field(default=[], max_length=50)
    exclusions: list[Exclusion] = []
    shown_by: dict[Exclusion, str] = {}

    def documents_(self) -> tuple[Document, ...]:
        return tuple(Document(d.reference, d.sha256) for d in self.documents)

    def declared(self) -> dict[Exclusion, str]:
        return {e: self.shown_by.get(e, "") for e in (*self.exclusions, *self.shown_by)}


class WhyIn(StrictIn):
    on: date | None = None
    why: str = Field(min_length=1, max_length=400)


class ApproveIn(StrictIn):
    on: date | None = None
    why: str = Field(default="", max_length=400)


class DeclineIn(WhyIn):
    exclusions: list[Exclusion] = []
    shown_by: dict[Exclusion, str] = {}

    def declared(self) -> dict[Exclusion, str]:
        return {e: self.shown_by.get(e, "") for e in (*self.exclusions, *self.shown_by)}


class ClaimOut(BaseModel):
    id: int
    policy_id: int
    loan_id: int
    funder_id: int
    status: str
    source: str
    reference: str | None
    opened_on: date
    trigger_on: date | None
    decided_on: date | None
    days_past_due: int
    principal_fen: Fen
    interest_fen: Fen
    penalty_fen: Fen
    deductible_fen: Fen
    claimed_fen: Fen | None
    amount_fen: Fen
    reserve_fen: Fen
    reason_codes: list[str]
    referrals: list[str]  # claim anti-fraud: for a person, never automatic
    approvals: list[str]
    paid_on: date | None
    recovered_fen: Fen

    @classmethod
    def of(cls, c: Claim) -> ClaimOut:
        return cls(id=stored(c.id), policy_id=c.policy_id, loan_id=c.loan_id,
                   funder_id=c.funder_id, status=c.status.value, source=c.source.value,
                   reference=c.reference, opened_on=c.opened_on, trigger_on=c.trigger_on,
                   decided_on=c.decided_on, days_past_due=c.days_past_due,
                   principal_fen=c.principal_fen, interest_fen=c.interest_fen,
                   penalty_fen=c.penalty_fen, deductible_fen=c.deductible_fen,
                   claimed_fen=c.claimed_fen, amount_fen=c.amount_fen,
                   reserve_fen=c.reserve_fen, reason_codes=list(c.reason_codes),
                   referrals=list(c.referrals), approvals=list(c.approvals), paid_on=c.paid_on,
                   recovered_fen=c.recovered_fen)


class AssessmentOut(BaseModel):
    """One run of liability determination: why it ran, every check with its evidence, the
    amount's breakdown and its difference from the amount before."""

    reason: str
    assessed_on: date
    covered: bool
    trigger_on: date | None
    days_past_due: int
    checks: list[dict[str, Any]]
    referrals: list[dict[str, Any]]
    amount: dict[str, Any]
    difference_fen: int

    @classmethod
    def of(cls, r: AssessmentRecord) -> AssessmentOut:
        a = r.assessment
        return cls(reason=r.reason, assessed_on=a.assessed_on, covered=a.covered,
                   trigger_on=a.trigger_on, days_past_due=a.days_past_due,
                   checks=[c.as_data() for c in a.checks],
                   referrals=[r.as_data() for r in a.referrals], amount=a.amount.as_data(),
                   difference_fen=r.difference_fen)


class SettlementOut(BaseModel):
    """A payment batch: the funder's approved claims of one settlement cycle paid together
    (its statement: ``…/statement.csv`` and ``…/statement.pdf``)."""

    id: int
    number: str
    funder: str
    cycle_from: date
    cycle_to: date
    paid_on: date
    claims: int
    total_fen: Fen
    claim_ids: list[int]
    repeat: bool

    @classmethod
    def of(cls, b: SettlementBatch) -> SettlementOut:
        s = b.settlement
        return cls(id=stored(s.id), number=s.number, funder=b.funder_code,
                   cycle_from=s.cycle_from, cycle_to=s.cycle_to, paid_on=s.paid_on,
                   claims=s.claims, total_fen=s.total_fen,
                   claim_ids=[stored(line.claim.id) for line in b.lines], repeat=b.repeat)


class ServiceLevelOut(BaseModel):
    """A funder's and product's claims against the service levels (days from the trigger)."""

    funder: str
    product: str
    claims: int
    automatic: int
    decided: int
    decision_days_mean: str | None
    decision_days_max: int | None
    decided_in_time: int
    paid: int
    payment_days_mean: str | None
    payment_days_max: int | None
    paid_in_time: int

    @classmethod
    def of(cls, x: ServiceLevel) -> ServiceLevelOut:
        return cls(funder=x.funder, product=x.product, claims=x.claims, automatic=x.automatic,
                   decided=x.decided, decision_days_mean=_text(x.decision_days_mean),
                   decision_days_max=x.decision_days_max, decided_in_time=x.decided_in_time,
                   paid=x.paid, payment_days_mean=_text(x.payment_days_mean),
                   payment_days_max=x.payment_days_max, paid_in_time=x.paid_in_time)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class RecoveryIn(StrictIn):
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

    @classmethod
    def of(cls, r: Recovery) -> RecoveryOut:
        return cls(id=stored(r.id), claim_id=r.claim_id, received_on=r.received_on,
                   amount_fen=r.amount_fen, source=r.source)


class RecoveryRightOut(BaseModel):
    """The insurer's right against the obligor once it paid a claim (代位追偿权), handed to
    collection: what the indemnity stood for, and what has come back."""

    id: int
    claim_id: int
    policy_no: str
    contract_no: str
    opened_on: date = Field(description="the day the indemnity was paid")
    amount_fen: Fen = Field(description="the indemnity paid: what the insurer stands in for")
    principal_fen: Fen
    interest_fen: Fen
    penalty_fen: Fen
    recovered_fen: Fen = Field(description="recovered so far (the claim's recoveries)")
    outstanding_fen: Fen = Field(description="the indemnity less what was recovered")
    status: str = Field(description="open (with collection) or closed")
    closed_on: date | None

    @classmethod
    def of(cls, row: RightRow) -> RecoveryRightOut:
        r = row.right
        return cls(id=stored(r.id), claim_id=r.claim_id, policy_no=row.policy_no,
                   contract_no=row.contract_no, opened_on=r.opened_on, amount_fen=r.amount_fen,
                   principal_fen=r.principal_fen, interest_fen=r.interest_fen,
                   penalty_fen=r.penalty_fen, recovered_fen=row.recovered_fen,
                   outstanding_fen=max(r.amount_fen - row.recovered_fen, 0),
                   status=r.status.value, closed_on=r.closed_on)
