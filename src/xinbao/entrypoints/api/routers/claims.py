"""Routes of claims: a notice on a policy, reading a claim and its assessments, the claims
queue, the decisions on a claim (review, approve, decline, recalculate), paying it, a
funder's payment batch with its statement, recoveries and the recovery rights handed to
collection."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from xinbao.claims import queries as claim_queries
from xinbao.claims import services as claims
from xinbao.claims.commands import (
    ApproveClaim,
    DeclineClaim,
    FileClaim,
    PayClaim,
    RecalculateClaim,
    RecordRecovery,
    ReviewClaim,
    SettleClaims,
)
from xinbao.claims.model import RightStatus
from xinbao.entrypoints.api.deps import ERRORS, Me, PathId, today
from xinbao.entrypoints.api.schemas.claims import (
    ApproveIn,
    AssessmentOut,
    ClaimIn,
    ClaimOut,
    DeclineIn,
    RecoveryIn,
    RecoveryOut,
    RecoveryRightOut,
    ServiceLevelOut,
    SettlementOut,
    WhyIn,
)
from xinbao.entrypoints.api.schemas.common import OnDate
from xinbao.reporting.statements import statement_csv, statement_of, statement_pdf
from xinbao.servicing.claim_screen import ring_lookup

router = APIRouter(prefix="/v1", tags=["claims"], responses=ERRORS)


@router.post("/claims", response_model=ClaimOut, status_code=201)
def file_claim(body: ClaimIn, me: Me) -> ClaimOut:
    uow = me.uow()
    claim = claims.file_claim(FileClaim(
        body.policy_id, body.on or today(), body.declared(), reference=body.reference,
        claimed_fen=body.claimed_fen, documents=body.documents_()), uow,
        rings=ring_lookup(uow))
    return ClaimOut.of(claim)


@router.get("/claims/queue", response_model=list[ClaimOut])
def claims_queue(me: Me, limit: int = Query(100, ge=1, le=1000)) -> list[ClaimOut]:
    """Claims waiting for a person, the longest since their trigger first."""
    return [ClaimOut.of(c) for c in claim_queries.claims_queue(me.uow(), limit=limit)]


@router.get("/claims/service-levels", response_model=list[ServiceLevelOut])
def claim_service_levels(me: Me) -> list[ServiceLevelOut]:
    """Per funder and product: days from the trigger to the decision and to the payment."""
    return [ServiceLevelOut.of(x) for x in claim_queries.claim_service_levels(me.uow())]


@router.get("/claims/{claim_id}", response_model=ClaimOut)
def get_claim(claim_id: PathId, me: Me) -> ClaimOut:
    return ClaimOut.of(claim_queries.get_claim(me.uow(), claim_id))


@router.get("/claims/{claim_id}/assessments", response_model=list[AssessmentOut])
def claim_assessments(claim_id: PathId, me: Me) -> list[AssessmentOut]:
    """Each run of the claim's liability determination, oldest first."""
    return [AssessmentOut.of(r) for r in claim_queries.claim_file(me.uow(), claim_id)
            .assessments]


@router.post("/claims/{claim_id}/review", response_model=ClaimOut)
def review_claim(claim_id: PathId, body: WhyIn, me: Me) -> ClaimOut:
    """Into the claims queue (a declined claim: reopened on appeal)."""
    uow = me.uow()
    return ClaimOut.of(claims.review_claim(ReviewClaim(claim_id, body.on or today(), body.why),
                                           uow, rings=ring_lookup(uow)))


@router.post("/claims/{claim_id}/approve", response_model=ClaimOut)
def approve_claim(claim_id: PathId, body: ApproveIn, me: Me) -> ClaimOut:
    return ClaimOut.of(claims.approve_claim(ApproveClaim(claim_id, body.on or today(),
                                                         body.why), me.uow()))


@router.post("/claims/{claim_id}/decline", response_model=ClaimOut)
def decline_claim(claim_id: PathId, body: DeclineIn, me: Me) -> ClaimOut:
    return ClaimOut.of(claims.decline_claim(DeclineClaim(
        claim_id, body.on or today(), body.why, body.declared()), me.uow()))


@router.post("/claims/{claim_id}/recalculate", response_model=ClaimOut)
def recalculate_claim(claim_id: PathId, body: OnDate, me: Me) -> ClaimOut:
    uow = me.uow()
    return ClaimOut.of(claims.recalculate_claim(RecalculateClaim(claim_id, body.on or today()),
                                                uow, rings=ring_lookup(uow)))


@router.post("/claims/{claim_id}/pay", response_model=ClaimOut)
def pay_claim(claim_id: PathId, body: OnDate, me: Me) -> ClaimOut:
    return ClaimOut.of(claims.pay_claim(PayClaim(claim_id, body.on or today()), me.uow()))


@router.post("/claims/{claim_id}/recoveries", response_model=RecoveryOut, status_code=201)
def record_recovery(claim_id: PathId, body: RecoveryIn, me: Me) -> RecoveryOut:
    r = claims.record_recovery(RecordRecovery(claim_id=claim_id, **body.model_dump()),
                               me.uow())
    return RecoveryOut.of(r)


@router.get("/recovery-rights", response_model=list[RecoveryRightOut])
def recovery_rights(me: Me, status: Literal["open", "closed", "all"] = Query(
        "open", description="open (with collection, the default), closed, or all"),
        limit: int = Query(100, ge=1, le=1000)) -> list[RecoveryRightOut]:
    """The recovery rights paid claims handed to collection, the oldest first, each with
    what has been recovered; a funder's client sees those on its own loans."""
    return [RecoveryRightOut.of(r) for r in claim_queries.recovery_rights(
        me.uow(), status=None if status == "all" else RightStatus(status), limit=limit)]


@router.post("/funders/{code}/claim-settlements", response_model=SettlementOut,
             status_code=201)
def settle_claims(code: str, body: OnDate, me: Me) -> SettlementOut:
    """Pay the funder's approved claims of its last whole settlement cycle together; the
    same cycle again answers with the batch made before."""
    return SettlementOut.of(claims.settle_claims(SettleClaims(code, body.on or today()),
                                                 me.uow()))


@router.get("/claim-settlements/{settlement_id}", response_model=SettlementOut)
def get_settlement(settlement_id: PathId, me: Me) -> SettlementOut:
    return SettlementOut.of(claim_queries.settlement_batch(me.uow(), settlement_id))


@router.get("/claim-settlements/{settlement_id}/statement.csv",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def statement_as_csv(settlement_id: PathId, me: Me) -> Response:
    """The batch's statement as CSV (UTF-8 with a byte-order mark, amounts in yuan)."""
    statement = statement_of(claim_queries.settlement_batch(me.uow(), settlement_id))
    return Response(statement_csv(statement), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="{statement.number}.csv"'})


@router.get("/claim-settlements/{settlement_id}/statement.pdf",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def statement_as_pdf(settlement_id: PathId, me: Me) -> Response:
    """The batch's statement as PDF, in Chinese and English."""
    statement = statement_of(claim_queries.settlement_batch(me.uow(), settlement_id))
    return Response(statement_pdf(statement), media_type="application/pdf",
                    headers={"Content-Disposition":
                             f'attachment; filename="{statement.number}.pdf"'})
