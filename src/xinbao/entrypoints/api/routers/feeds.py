"""Routes of a funder's files (issue 21): a file and its manifest uploaded, checked whole and
applied whole or not at all, as ``xinbao feed load`` does (``servicing/feeds.py``).

The file is read with its funder's column names as its agreement in force keeps them. A
funder's API client uploads for its own funder only (another's is a 404, as everywhere).
Bodies may reach ``XINBAO_MAX_UPLOAD_BYTES`` here (64 MiB unless set; larger files go
through the watched inbox, ``xinbao feed watch``); above it, 413.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, UploadFile
from fastapi.responses import JSONResponse

from xinbao.batch import files
from xinbao.batch.feeds import Manifest
from xinbao.catalogue import queries as catalogue_queries
from xinbao.entrypoints.api.deps import ERRORS, NO_NUL, Caller, Me, utcnow
from xinbao.entrypoints.api.schemas.feeds import FeedReportOut, RefusedOut
from xinbao.kernel.errors import InvalidInput
from xinbao.platform import idempotency
from xinbao.servicing.feeds import LoadFeed, load_feed

router = APIRouter(prefix="/v1", tags=["feeds"], responses=ERRORS)

#: The paths that take a funder's file, allowed the larger body (``hardening.BodySizeLimit``).
UPLOADS = re.compile(r"/v1/funders/[^/]+/feeds")
#: The largest manifest read (a few hundred bytes in practice).
_FUNDER_CODE = r"^[A-Za-z0-9_-]{1,40}$"


@router.post("/funders/{code}/feeds", response_model=FeedReportOut, responses={
    413: {"description": "the body is over the upload limit"},
    422: {"model": RefusedOut, "description": "the file refused whole (its report: "
          "refusals and rejects), or the request refused at the door (field errors)"}})
def upload_feed(
    code: str, me: Me,
    file: Annotated[UploadFile, File(description="the file: CSV with a header, or Parquet")],
    manifest: Annotated[UploadFile, File(description="its manifest (JSON: type, funder, "
                                                     "business_date, rows, totals)")],
    file_type: Annotated[str | None, Form(
        alias="type", max_length=40, pattern=NO_NUL,
        description="disbursements, repayments, loan_status, early_settlements or "
                    "claim_notices (default: the manifest's)")] = None,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=idempotency.MAX_KEY_LENGTH,
        description="a retry with the same key and file gets the first answer again; the "
                    "same key with another file is a 409")] = None,
) -> JSONResponse:
    """Check a funder's file against its manifest, its schema and the loans, and apply it
    whole or not at all: 200 ``applied`` or ``repeat`` (the same content was applied before,
    under any name: nothing more happened), 422 ``refused`` (nothing happened)."""
    if not re.fullmatch(_FUNDER_CODE, code):
        raise InvalidInput.single("code", "funder.code", "code must be 1 to 40 letters, "
                                                         "digits, - or _")
    listed = files.manifest_of(manifest.file)
    if file_type is not None and file_type != listed.file_type.value:
        raise InvalidInput.single("type", "feed.manifest",
                                  f"the manifest is for {listed.file_type.value} files")
    current = catalogue_queries.get_funder(me.uow(), code).current  # 404: not the caller's
    mapping = current.mapping_for(listed.file_type.value) if current is not None else {}
    name = files.upload_name(file.filename)
    raw, digest = files.read_upload(file.file, name, mapping)
    request = idempotency.request_hash({"funder": code, "content": digest, "name": name,
                                        "manifest": _manifest_data(listed)})
    if idempotency_key is not None:
        earlier = idempotency.replay(me.uow(), idempotency_key, request)
        if earlier is not None:
            return _replayed(earlier.status_code, earlier.body)
    report = load_feed(LoadFeed(code, name, digest, listed, raw, utcnow()), me.uow())
    answer = FeedReportOut.of(report, file_type=listed.file_type.value, content_hash=digest)
    status = 422 if report.status == "refused" else 200
    body = answer.model_dump(mode="json")
    if idempotency_key is not None:
        return _remembered(me, idempotency_key, request, status, body)
    return JSONResponse(status_code=status, content=body)


def _remembered(me: Caller, key: str, request: str, status: int,
                body: dict[str, object]) -> JSONResponse:
    """The answer kept under the key. The file's content is its own idempotency (a second
    upload is a ``repeat``), so the key is kept after the use case's transaction: a racing
    retry under the key gets the first caller's answer."""
    uow = me.uow()
    try:
        with uow:
            idempotency.claim(uow, key, request, status, body, now=utcnow())
            uow.commit()
    except idempotency.Replay as replay:
        return _replayed(replay.stored.status_code, replay.stored.body)
    return JSONResponse(status_code=status, content=body,
                        headers={"Idempotent-Replayed": "false"})


def _replayed(status: int, body: object) -> JSONResponse:
    return JSONResponse(status_code=status, content=body,
                        headers={"Idempotent-Replayed": "true"})


def _manifest_data(listed: Manifest) -> dict[str, object]:
    return {"type": listed.file_type.value, "funder": listed.funder,
            "business_date": listed.business_date.isoformat(), "rows": listed.rows,
            "totals": dict(sorted(listed.totals.items()))}


