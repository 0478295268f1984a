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


class NoticeClaimOut(BaseModel):
    """A claim notice file's row: the claim its notice made (or made before) and where it
    went."""

    row: int
    contract_no: str
    reference: str = Field(description="the funder's notice number")
    claim_id: int
    status: str = Field(description="notified (waiting for the trigger), under_review, "
                                    "approved or declined")
    amount_fen: Fen = Field(description="payable as assessed")
    reason_codes: list[str] = Field(description="the checks that failed (declined)")
    referrals: list[str] = Field(description="claim anti-fraud's referrals (for a person)")
    repeat: bool = Field(description="the notice was given before: no second claim")


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
    claims_by_status: dict[str, int] = Field(
        default_factory=dict, description="a claim notice file's new claims by status")
    claims: list[NoticeClaimOut] = Field(
        default_factory=list, description=f"a claim notice file's rows' claims (the first "
                                          f"{MAX_REJECTS:,})")
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
               and name not in ("refusals", "rejects", "claims")},
            file_type=file_type, content_hash=content_hash,
            refusals=[RefusalOut(rule=rule, message=message)
                      for rule, message in report.refusals],
            rejects=[RejectOut(row=r[feeds.ROW], column=r["column"], rule=r["rule"],
                               message=r["message"]) for r in shown.iter_rows(named=True)],
            rejects_total=report.rejects.height,
            claims=[NoticeClaimOut(
                row=r[feeds.ROW], contract_no=r["contract_no"], reference=r["reference"],
                claim_id=r["claim_id"], status=r["status"], amount_fen=r["amount_fen"],
                reason_codes=r["reason_codes"].split(), referrals=r["referrals"].split(),
                repeat=r["repeat"]) for r in report.claims.head(MAX_REJECTS).iter_rows(
                    named=True)])


class RequestRefusedOut(BaseModel):
    """A request refused at the door (the manifest or the file unreadable, a bad type)."""

    detail: list[FieldErrorOut]


#: What a 422 holds: the file refused (its report), or the request (its field errors).
RefusedOut = FeedReportOut | RequestRefusedOut
