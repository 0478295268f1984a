"""Wire schemas of a funder's file uploaded (``POST /v1/funders/{code}/feeds``): what became
of it, the report ``xinbao feed load`` prints, with its first rejects."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from xinbao.batch import feeds
from xinbao.entrypoints.api.schemas.common import Fen, FieldErrorOut
from xinbao.servicing.feeds import FeedReport

#: The rejects an answer lists at most (``rejects_total`` says how many there are).
MAX_REJECTS = 1_000


class RejectOut(BaseModel):
    row: int = Field(description="the row's number in the file, from 1 after the header")
    column: str | None
    rule: str
    message: str


class RefusalOut(BaseModel):
    rule: str
    message: str


class FeedReportOut(BaseModel):
    """``applied`` or ``repeat`` (200: the same content was applied before, nothing more
    happened), or ``refused`` (422: nothing happened; the refusals and rejects say why)."""

    status: str = Field(description="applied, repeat or refused")
    file_name: str
    file_type: str
    content_hash: str = Field(description="SHA-256 of the file as received")
    rows: int
    accepted: int = Field(description="rows recorded now")
    repeated: int = Field(description="rows recorded before (an overlapping file)")
    principal_fen: Fen
    interest_fen: Fen
    premium_fen: Fen
    premium_refunded_fen: Fen = 0
    differing: int = Field(0, description="a loan status file's rows that differ from our book")
    flagged: int = Field(0, description="of those, the ones for a person to look at")
    rejected_rows: int
    refusals: list[RefusalOut] = Field(description="rules the file broke as a whole")
    rejects: list[RejectOut] = Field(description=f"the first {MAX_REJECTS:,} rejects")
    rejects_total: int = Field(description="how many rejects there are in all")

    @classmethod
    def of(cls, report: FeedReport, *, file_type: str, content_hash: str) -> FeedReportOut:
        summary: dict[str, Any] = report.summary()
        shown = report.rejects.head(MAX_REJECTS)
        return cls(
            **{name: summary[name] for name in cls.model_fields if name in summary
               and name not in ("refusals", "rejects")},
            file_type=file_type, content_hash=content_hash,
            refusals=[RefusalOut(rule=rule, message=message)
                      for rule, message in report.refusals],
            rejects=[RejectOut(row=r[feeds.ROW], column=r["column"], rule=r["rule"],
                               message=r["message"]) for r in shown.iter_rows(named=True)],
            rejects_total=report.rejects.height)


class RequestRefusedOut(BaseModel):
    """A request refused at the door (the manifest or the file unreadable, a bad type)."""

    detail: list[FieldErrorOut]


#: What a 422 holds: the file refused (its report), or the request (its field errors).
RefusedOut = FeedReportOut | RequestRefusedOut
