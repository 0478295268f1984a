"""Routes of claims: filing one on a policy, reading it, paying it, and recoveries."""

from __future__ import annotations

from fastapi import APIRouter

from xinbao.claims import queries as claim_queries
from xinbao.claims import services as claims
from xinbao.claims.commands import FileClaim, PayClaim, RecordRecovery
from xinbao.entrypoints.api.deps import ERRORS, Me, PathId, today
from xinbao.entrypoints.api.schemas.claims import ClaimIn, ClaimOut, RecoveryIn, RecoveryOut
from xinbao.entrypoints.api.schemas.common import OnDate

router = APIRouter(prefix="/v1", tags=["claims"], responses=ERRORS)


@router.post("/claims", response_model=ClaimOut, status_code=201)
def file_claim(body: ClaimIn, me: Me) -> ClaimOut:
    claim = claims.file_claim(FileClaim(body.policy_id, body.on or today(),
                                        frozenset(body.exclusions)), me.uow())
    return ClaimOut.of(claim)


@router.get("/claims/{claim_id}", response_model=ClaimOut)
def get_claim(claim_id: PathId, me: Me) -> ClaimOut:
    return ClaimOut.of(claim_queries.get_claim(me.uow(), claim_id))


@router.post("/claims/{claim_id}/pay", response_model=ClaimOut)
def pay_claim(claim_id: PathId, body: OnDate, me: Me) -> ClaimOut:
    return ClaimOut.of(claims.pay_claim(PayClaim(claim_id, body.on or today()), me.uow()))


@router.post("/claims/{claim_id}/recoveries", response_model=RecoveryOut, status_code=201)
def record_recovery(claim_id: PathId, body: RecoveryIn, me: Me) -> RecoveryOut:
    r = claims.record_recovery(RecordRecovery(claim_id=claim_id, **body.model_dump()),
                               me.uow())
    return RecoveryOut.of(r)
