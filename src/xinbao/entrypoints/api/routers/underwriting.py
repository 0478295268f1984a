"""Routes of underwriting: submitting applications (one, idempotently, or a funder's batch),
reading one, and finding a borrower's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from xinbao.entrypoints.api.deps import (
    ERRORS,
    NO_NUL,
    Caller,
    Me,
    PathId,
    field_errors,
    today,
    utcnow,
)
from xinbao.entrypoints.api.schemas.underwriting import (
    ApplicationBatchIn,
    ApplicationBatchOut,
    ApplicationIn,
    ApplicationOut,
    BorrowerSearchIn,
    RejectedRowOut,
)
from xinbao.platform import idempotency
from xinbao.underwriting import queries as application_queries
from xinbao.underwriting import services as applications
from xinbao.underwriting.commands import SubmitApplicationFile
from xinbao.underwriting.model import Application

router = APIRouter(prefix="/v1", tags=["applications"], responses=ERRORS)


@router.post("/applications", response_model=ApplicationOut, status_code=201)
def submit_application(
    body: ApplicationIn, me: Me,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=idempotency.MAX_KEY_LENGTH,
        description="a retry with the same key and body gets the first answer again; the "
                    "same key with another body is a 409")] = None,
) -> ApplicationOut | JSONResponse:
    if idempotency_key is None:
        return ApplicationOut.of(applications.submit_application(
            body.command(received_on=today()), me.uow()), me.masking)
    key = idempotency_key
    digest = idempotency.request_hash(body.model_dump(mode="json"))
    earlier = idempotency.replay(me.uow(), key, digest)
    if earlier is None:
        try:
            a = _submit_claiming(body, me, key, digest)
        except idempotency.Replay as replay:
            earlier = replay.stored
        else:
            return JSONResponse(status_code=201,
                                content=ApplicationOut.of(a, me.masking).model_dump(mode="json"),
                                headers={"Idempotent-Replayed": "false"})
    return JSONResponse(status_code=earlier.status_code, content=earlier.body,
                        headers={"Idempotent-Replayed": "true"})


def _submit_claiming(body: ApplicationIn, me: Caller, key: str, digest: str) -> Application:
    """Submit the application and claim the key in the same transaction."""
    uow = me.uow()

    def claim(a: Application) -> None:
        idempotency.claim(uow, key, digest, 201,
                          ApplicationOut.of(a, me.masking).model_dump(mode="json"),
                          now=utcnow())

    return applications.submit_application(body.command(received_on=today()), uow,
                                           before_commit=claim)


@router.post("/applications/batch", response_model=ApplicationBatchOut)
def submit_application_batch(body: ApplicationBatchIn, me: Me) -> ApplicationBatchOut:
    """A funder's batch of applications (up to 1,000) in one transaction: good rows stored,
    bad rows refused one by one with their field errors (200 either way)."""
    outcome = applications.submit_application_file(
        SubmitApplicationFile(tuple(a.command(received_on=today())
                                    for a in body.applications)), me.uow())
    return ApplicationBatchOut(
        accepted=[ApplicationOut.of(a, me.masking) for a in outcome.accepted],
        rejected=[RejectedRowOut(index=r.index, external_ref=r.reference,
                                 errors=field_errors(r.error))
                  for r in outcome.rejected])


@router.get("/applications/{application_id}", response_model=ApplicationOut)
def get_application(
    application_id: PathId, me: Me,
    unmask: Annotated[bool, Query(description="show personal data in full (needs "
                                              "pii.unmask; audited)")] = False,
    reason: Annotated[str | None, Query(max_length=200, pattern=NO_NUL,
                                        description="why, when unmasking")] = None,
) -> ApplicationOut:
    if unmask:
        a = application_queries.unmask_application(me.uow(), application_id, reason=reason or "",
                                                   on=today())
        return ApplicationOut.of(a, me.masking, unmasked=True)
    return ApplicationOut.of(application_queries.get_application(me.uow(), application_id),
                             me.masking)


@router.post("/applications/search", response_model=list[ApplicationOut])
def find_applications(body: BorrowerSearchIn, me: Me) -> list[ApplicationOut]:
    """Applications of one borrower by exact ID number. A POST, so that the number never
    appears in a URL (URLs end up in access logs and proxies)."""
    return [ApplicationOut.of(a, me.masking)
            for a in application_queries.find_applications(me.uow(), id_number=body.id_number)]
