"""Wire schemas of claims: filing, paying, and recoveries after payment."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from xinbao.claims.model import Claim, Exclusion, Recovery
from xinbao.entrypoints.api.schemas.common import Fen, Id, StrictIn, stored


class ClaimIn(StrictIn):
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
        return cls(id=stored(c.id), policy_id=c.policy_id, loan_id=c.loan_id, status=c.status.value,
                   opened_on=c.opened_on, days_past_due=c.days_past_due,
                   principal_fen=c.principal_fen, interest_fen=c.interest_fen,
                   amount_fen=c.amount_fen, reason_codes=list(c.reason_codes),
                   paid_on=c.paid_on, recovered_fen=c.recovered_fen)


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
