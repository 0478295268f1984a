"""A funder's file applied whole or not at all (issue 21): read and checked as columns
(``batch.feeds``), then applied by its type in one transaction: repayments recorded with the
effects a repayment has (the installment's premium written, premium collected posted, the
loan's first unpaid installment moved; ``_apply_repayments``); disbursements, loan status,
early settlements and claim notices by ``servicing.feed_types`` (policies issued; differences
from our book kept, never applied to it; loans settled early with their refunds; claims
given and assessed).

Idempotent twice over: by the file's content (the same file again, under any name, answers
with the first report and changes nothing) and by each row's key (a row already recorded,
from an overlapping file, is a repeat and has no second effect). A file with any reject, a
manifest that does not match, or a row the book refuses (an overpayment, a loan no longer
repaid, a principal other than the one approved, a loan settled while past due) changes
nothing; its rejects say which row broke which rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from xinbao.batch import feeds
from xinbao.batch.feeds import Checked, FileType, Manifest
from xinbao.batch.repository import FeedFile
from xinbao.catalogue.model.parties import Funder
from xinbao.iam.access import authorize, own
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import require
from xinbao.kernel.retries import retried
from xinbao.servicing import feed_types
from xinbao.servicing.bulk import record_repayment_rows
from xinbao.servicing.repository import FeedUnitOfWork

#: What applying each type of file takes: a disbursement file issues policies.
ACTIONS = {FileType.DISBURSEMENTS: Action.POLICY_ISSUE,
           FileType.REPAYMENTS: Action.REPAYMENT_RECORD,
           FileType.LOAN_STATUS: Action.REPAYMENT_RECORD,
           FileType.EARLY_SETTLEMENTS: Action.REPAYMENT_RECORD,
           FileType.CLAIM_NOTICES: Action.CLAIM_FILE}


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
    why); with its reconciliation figures. The amounts are the file's (principal: a loan
    status file's outstanding principal), premium what it posted (collected, or written at
    issue), the refund what its early settlements refunded; ``differences``, a loan status
    file's rows that differ from our book (``flagged``: those for a person)."""

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
    premium_refunded_fen: int = 0
    differing: int = 0
    flagged: int = 0
    differences: pl.DataFrame = field(default_factory=pl.DataFrame)
    claims: pl.DataFrame = field(default_factory=pl.DataFrame)  # ``feed_types.CLAIMS``
    claims_by_status: dict[str, int] = field(default_factory=dict)  # the new claims'

    def summary(self) -> dict[str, Any]:
        return {"status": self.status, "file_name": self.file_name, "rows": self.rows,
                "accepted": self.accepted, "repeated": self.repeated,
                "principal_fen": self.principal_fen, "interest_fen": self.interest_fen,
                "premium_fen": self.premium_fen, "rejected_rows": self.rejects[feeds.ROW]
                .n_unique() if self.rejects.height else 0,
                "refusals": [list(r) for r in self.refusals],
                "premium_refunded_fen": self.premium_refunded_fen, "differing": self.differing,
                "flagged": self.flagged, "claims_by_status": dict(self.claims_by_status)}


@retried
def load_feed(cmd: LoadFeed, uow: FeedUnitOfWork) -> FeedReport:
    """Apply a funder's file whole or not at all (see the module's docstring)."""
    kind = cmd.manifest.file_type
    authorize(uow, ACTIONS[kind])
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
        report = _APPLIERS[kind](uow, funder, cmd, checked)
        if report.status != "applied":
            return report
        uow.feed_files.add(FeedFile(funder.id, kind.value, cmd.content_hash, cmd.file_name,
                                    cmd.manifest.business_date, cmd.received_at,
                                    cmd.rows.height, report.summary()))
        uow.commit()
    return report


Applier = Callable[[FeedUnitOfWork, Funder, LoadFeed, Checked], FeedReport]


def _apply_repayments(uow: FeedUnitOfWork, funder: Funder, cmd: LoadFeed,
                      checked: Checked) -> FeedReport:
    """The repayments recorded; a row the loan's schedule refuses refuses the file."""
    result = record_repayment_rows(uow, funder, checked.rows,
                                   received_on=cmd.manifest.business_date,
                                   file_reference=cmd.file_name)
    if result.rejects.height:
        uow.rollback()
        return FeedReport("refused", cmd.file_name, cmd.rows.height,
                          rejects=result.rejects)
    return FeedReport(
        "applied", cmd.file_name, cmd.rows.height, accepted=result.accepted,
        repeated=result.repeated, principal_fen=int(checked.rows["principal_fen"].sum()),
        interest_fen=int(checked.rows["interest_fen"].sum()),
        premium_fen=int(checked.rows["premium_fen"].sum()))


def _applying(applier: Callable[..., feed_types.Applied]) -> Applier:
    """A ``feed_types`` applier as a file type's: its rejects roll the file back whole."""

    def apply(uow: FeedUnitOfWork, funder: Funder, cmd: LoadFeed,
              checked: Checked) -> FeedReport:
        done = applier(uow, funder, checked.rows, on=cmd.manifest.business_date,
                       file_reference=cmd.file_name)
        if done.rejects.height:
            uow.rollback()
            return FeedReport("refused", cmd.file_name, cmd.rows.height, rejects=done.rejects)
        return FeedReport(
            "applied", cmd.file_name, cmd.rows.height, accepted=done.accepted,
            repeated=done.repeated, principal_fen=done.principal_fen,
            interest_fen=done.interest_fen, premium_fen=done.premium_fen,
            premium_refunded_fen=done.premium_refunded_fen, differing=done.differences.height,
            flagged=done.flagged, differences=done.differences, claims=done.claims,
            claims_by_status=_by_status(done.claims))

    return apply


def _by_status(claims: pl.DataFrame) -> dict[str, int]:
    """How many of a claim notice file's new claims are in each status now."""
    if claims.is_empty():
        return {}
    counted = claims.filter(~pl.col("repeat"))["status"].value_counts(sort=True)
    return dict(sorted(counted.iter_rows()))


#: How each type of file is applied, inside ``load_feed``'s unit of work.
_APPLIERS: dict[FileType, Applier] = {
    FileType.REPAYMENTS: _apply_repayments,
    FileType.DISBURSEMENTS: _applying(feed_types.apply_disbursements),
    FileType.LOAN_STATUS: _applying(feed_types.apply_loan_status),
    FileType.EARLY_SETTLEMENTS: _applying(feed_types.apply_early_settlements),
    FileType.CLAIM_NOTICES: _applying(feed_types.apply_claim_notices),
}


def _repeat(seen: FeedFile, file_name: str) -> FeedReport:
    first = seen.report
    return FeedReport("repeat", file_name, seen.rows, accepted=0,
                      repeated=int(first.get("accepted", 0)) + int(first.get("repeated", 0)),
                      principal_fen=int(first.get("principal_fen", 0)),
                      interest_fen=int(first.get("interest_fen", 0)),
                      premium_fen=int(first.get("premium_fen", 0)),
                      premium_refunded_fen=int(first.get("premium_refunded_fen", 0)),
                      differing=int(first.get("differing", 0)),
                      flagged=int(first.get("flagged", 0)),
                      claims_by_status=dict(first.get("claims_by_status", {})))
