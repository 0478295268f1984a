"""Routes of risk: approval decisions (one, batched with concurrent requests, or a batch in
one transaction), the stored decision, and a person's review of referrals."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from xinbao.entrypoints.api.deps import ERRORS, Me, PathId, today
from xinbao.entrypoints.api.schemas.common import BIGINT_MAX, OnDate, dump_json
from xinbao.entrypoints.api.schemas.risk import (
    ApproveBatchIn,
    DecisionBatchOut,
    DecisionOut,
    DecisionRecordOut,
    ReviewIn,
    decision_fields,
)
from xinbao.risk import approval, referrals
from xinbao.risk.commands import ApproveApplications

router = APIRouter(prefix="/v1", tags=["applications"], responses=ERRORS)


@router.post("/applications/{application_id}/approve", response_model=DecisionOut)
async def approve_application(application_id: PathId, body: OnDate, me: Me,
                              request: Request) -> Response:
    """Run the risk approval engine on a submitted application (an application decided
    before gets its decision back). Concurrent requests are decided together, one commit
    for the lot (``batching.py``); each answer is its own decision, committed."""
    r = await asyncio.wrap_future(request.app.state.batcher.submit(
        me.principal, application_id, body.on or today()))
    # Built and checked here; serialized once (returning the model would validate it again).
    return Response(dump_json(decision_fields(r, me.masking)), media_type="application/json")


@router.post("/applications/approve", response_model=DecisionBatchOut)
def approve_applications(body: ApproveBatchIn, me: Me, request: Request) -> Response:
    """Run the risk approval engine on up to 500 submitted applications in one transaction
    (the insurer's operations deciding a funder's batch): one bureau round, one scoring
    call, one commit. The batch is decided whole or refused whole (one application not
    found, not permitted or decided before the application date refuses it); one the
    engine cannot decide is referred ``SYS-DECISION-ERROR`` and the others decided."""
    with request.app.state.batcher.exclusive():  # one writer at a time in this process
        results = approval.approve_applications(
            ApproveApplications(tuple(body.application_ids), body.on or today()), me.uow(),
            me.container.risk)
    return Response(dump_json({"decisions": [decision_fields(r, me.masking)
                                             for r in results]}),
                    media_type="application/json")


@router.get("/applications/{application_id}/decision", response_model=DecisionRecordOut)
def get_decision(application_id: PathId, me: Me) -> DecisionRecordOut:
    """The stored decision with its inputs, reasons, limit and price breakdown."""
    _, record = referrals.get_decision(me.uow(), application_id)
    return DecisionRecordOut.of(record)


@router.post("/applications/{application_id}/review", response_model=DecisionRecordOut)
def review_application(application_id: PathId, body: ReviewIn,
                       me: Me) -> DecisionRecordOut:
    """A person's verdict on a referral; an approval beyond the reviewer's authority waits
    for a second approver."""
    r = referrals.review_application(referrals.ReviewApplication(
        application_id, body.approve, body.on or today(), body.note), me.uow(),
        me.container.risk, approval.quote)
    return DecisionRecordOut.of(r.record)


@router.get("/referrals", response_model=list[DecisionRecordOut])
def referral_queue(me: Me, after_id: Annotated[int, Query(ge=0, le=BIGINT_MAX)] = 0,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100,
                   ) -> list[DecisionRecordOut]:
    """Referrals waiting for review, oldest first."""
    return [DecisionRecordOut.of(d)
            for d in referrals.referral_queue(me.uow(), after_id=after_id, limit=limit)]
