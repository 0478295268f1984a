"""A funder's file applied whole or not at all (issue 21): read and checked as columns
(``batch.feeds``), then its repayments recorded with the effects a repayment has (the
installment's premium written, premium collected posted, the loan's first unpaid installment
moved) in one transaction.

Idempotent twice over: by the file's content (the same file again, under any name, answers
with the first report and changes nothing) and by each row's key (a row already recorded,
from an overlapping file, is a repeat and has no second effect). A file with any reject, a
manifest that does not match, or a row the loan's schedule refuses (an overpayment, a loan
no longer repaid) changes nothing; its rejects say which row broke which rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from xinbao.batch import feeds
from xinbao.batch.feeds import FileType, Manifest
from xinbao.batch.repository import FeedFile
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import InvalidInput, require
from xinbao.kernel.retries import retried
from xinbao.servicing.commands import RepaymentRecord
from xinbao.servicing.repository import FeedUnitOfWork
from xinbao.servicing.services import ingest_records

#: The file types applied so far (the others are checked by ``batch.feeds``).
APPLIED_TYPES = (FileType.REPAYMENTS,)


@dataclass(frozen=True, slots=True)
class LoadFeed:
    funder_code: str
    file_name: str
    content_hash: str  # ``batch.feeds.content_hash`` of the file as received
    manifest: Manifest
    rows: pl.DataFrame  # ``batch.feeds.read``: text columns, numbered
    received_at: datetime


@dataclass(frozen=True, slots=True)
class FeedReport:
    """What became of a file: ``applied``, ``repeat`` (the same content was applied before:
    nothing more happened) or ``refused`` (nothing happened; the rejects and refusals say
    why); with its reconciliation figures."""

    status: str
    file_name: str
    rows: int
    accepted: int = 0
    repeated: int = 0  # rows already recorded (an overlapping file)
    principal_fen: int = 0
    interest_fen: int = 0
    premium_fen: int = 0
    rejects: pl.DataFrame = field(default_factory=lambda: feeds.no_rejects())
    refusals: tuple[tuple[str, str], ...] = ()

    def summary(self) -> dict[str, Any]:
        return {"status": self.status, "file_name": self.file_name, "rows": self.rows,
                "accepted": self.accepted, "repeated": self.repeated,
                "principal_fen": self.principal_fen, "interest_fen": self.interest_fen,
                "premium_fen": self.premium_fen, "rejected_rows": self.rejects[feeds.ROW]
                .n_unique() if self.rejects.height else 0,
                "refusals": [list(r) for r in self.refusals]}


@retried
def load_feed(cmd: LoadFeed, uow: FeedUnitOfWork) -> FeedReport:
    """Apply a funder's file whole or not at all (see the module's docstring)."""
    authorize(uow, Action.REPAYMENT_RECORD)
    kind = cmd.manifest.file_type
    if kind not in APPLIED_TYPES:
        raise InvalidInput.single("type", "feed.type", "files applied so far: " + ", ".join(
            t.value for t in APPLIED_TYPES))
    with uow:
        funder = require(uow.funders.get_by_code(cmd.funder_code), "funder", cmd.funder_code)
        own(uow, funder.id, "funder", cmd.funder_code)
        assert funder.id is not None
        if cmd.manifest.funder != funder.code:
            return FeedReport("refused", cmd.file_name, cmd.rows.height, refusals=((
                "manifest.funder", f"the manifest is {cmd.manifest.funder}'s, not "
                f"{funder.code}'s"),))
        seen = uow.feed_files.get(funder.id, kind.value, cmd.content_hash)
        if seen is not None:
            return _repeat(seen, cmd.file_name)
        contracts = cmd.rows["contract_no"].drop_nulls().unique().to_list() \
            if "contract_no" in cmd.rows.columns else []
        checked = feeds.check(cmd.rows, cmd.manifest, uow.book.funder_loans(funder.id,
                                                                             contracts))
        if not checked.accepted:
            return FeedReport("refused", cmd.file_name, cmd.rows.height,
                              rejects=checked.rejects, refusals=checked.refusals)
        records = _records(checked.rows)
        result = ingest_records(uow, funder, records, received_on=cmd.manifest.business_date,
                                file_reference=cmd.file_name)
        if result.rejected:
            uow.rollback()
            return FeedReport("refused", cmd.file_name, cmd.rows.height,
                              rejects=_schedule_rejects(checked.rows, result.rejected))
        report = FeedReport(
            "applied", cmd.file_name, cmd.rows.height, accepted=result.accepted,
            repeated=result.repeated, principal_fen=int(checked.rows["principal_fen"].sum()),
            interest_fen=int(checked.rows["interest_fen"].sum()),
            premium_fen=int(checked.rows["premium_fen"].sum()))
        uow.feed_files.add(FeedFile(funder.id, kind.value, cmd.content_hash, cmd.file_name,
                                    cmd.manifest.business_date, cmd.received_at,
                                    cmd.rows.height, report.summary()))
        uow.commit()
    return report


def _records(rows: pl.DataFrame) -> tuple[RepaymentRecord, ...]:
    return tuple(RepaymentRecord(
        contract_no=r["contract_no"], installment_number=r["installment_number_int"],
        paid_on=r["paid_on_date"], principal_fen=r["principal_fen"],
        interest_fen=r["interest_fen"], reference=r["reference"], premium_fen=r["premium_fen"])
        for r in rows.iter_rows(named=True))


def _schedule_rejects(rows: pl.DataFrame, rejected: Any) -> pl.DataFrame:
    """The rows the loans' schedules refused, as rejects (the file's row numbers)."""
    numbers = rows[feeds.ROW].to_list()
    out = []
    for r in rejected:
        errors = getattr(r.error, "errors", None) or [None]
        for e in errors:
            out.append({feeds.ROW: numbers[r.index], "column": e.field if e else "contract_no",
                        "rule": e.rule if e else "feed.loan_state",
                        "message": e.message if e else str(r.error)})
    return pl.DataFrame(out, schema=feeds.no_rejects().schema)


def _repeat(seen: FeedFile, file_name: str) -> FeedReport:
    first = seen.report
    return FeedReport("repeat", file_name, seen.rows, accepted=0,
                      repeated=int(first.get("accepted", 0)) + int(first.get("repeated", 0)),
                      principal_fen=int(first.get("principal_fen", 0)),
                      interest_fen=int(first.get("interest_fen", 0)),
                      premium_fen=int(first.get("premium_fen", 0)))
