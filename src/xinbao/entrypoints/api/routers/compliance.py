"""Routes of compliance: checking the audit trail's hash chain, and reading its records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from xinbao.compliance import services as audit
from xinbao.entrypoints.api.deps import ERRORS, NO_NUL, Me
from xinbao.entrypoints.api.schemas.compliance import (
    AuditProblemOut,
    AuditRecordOut,
    AuditVerifyOut,
)

router = APIRouter(prefix="/v1", tags=["audit"], responses=ERRORS)


@router.get("/audit/verify", response_model=AuditVerifyOut)
def verify_audit_trail(me: Me) -> AuditVerifyOut:
    report = audit.verify_trail(me.uow())
    return AuditVerifyOut(intact=report.intact, records=report.records,
                          head_seq=report.head_seq, head_hash=report.head_hash,
                          problems=[AuditProblemOut(seq=p.seq, kind=p.kind, message=p.message)
                                    for p in report.problems[:100]])


@router.get("/audit/records", response_model=list[AuditRecordOut])
def audit_records(me: Me, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                  actor: Annotated[str | None, Query(max_length=120, pattern=NO_NUL)] = None,
                  ) -> list[AuditRecordOut]:
    return [AuditRecordOut(seq=r.seq, name=r.name, aggregate=r.aggregate,
                           aggregate_id=r.aggregate_id, occurred_on=r.occurred_on,
                           recorded_at=r.recorded_at, actor=r.actor, data=r.data,
                           hash=r.hash)
            for r in audit.recent_records(me.uow(), limit=limit, actor=actor)]
