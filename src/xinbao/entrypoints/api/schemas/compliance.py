"""Wire schemas of compliance: the audit trail's check and its records."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel


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
