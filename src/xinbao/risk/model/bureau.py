"""Credit-bureau reports: what the central credit reporting system says about a borrower.

The insurer must be connected to the central credit reporting system (征信系统) and reads a
report for every obligor it reviews. A report is fetched through an adapter (asynchronous,
with a timeout, a cache and a cost per query: ``risk/bureau.py``; which adapter answers is a
setting, ``docs/BUREAU.md``); this module holds the values the decision reads and the rules on
them:

- BUR-UNAVAILABLE (refer): no answer within the timeout, or the service failed; nobody is
  approved without a report.
- BUR-NO-RECORD (pass): the borrower has no credit history (a thin file); scoring handles it.
- BUR-CURRENT-OVERDUE (refer): an account is past due at another lender now.
- BUR-WRITTEN-OFF (decline): a debt was written off, or a court enforcement is on file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

UNAVAILABLE = "BUR-UNAVAILABLE"
NO_RECORD = "BUR-NO-RECORD"
CURRENT_OVERDUE = "BUR-CURRENT-OVERDUE"
WRITTEN_OFF = "BUR-WRITTEN-OFF"


class Status(StrEnum):
    OK = "ok"  # a report came back
    NO_RECORD = "no_record"  # the bureau knows nobody with this number
    TIMEOUT = "timeout"
    ERROR = "error"


class Standing(StrEnum):
    """The worst standing among the borrower's accounts."""

    CLEAN = "clean"
    OVERDUE = "overdue"  # past due now
    WRITTEN_OFF = "written_off"  # written off, or under court enforcement


@dataclass(frozen=True, slots=True)
class Report:
    report_id: str
    as_of: date
    score: int | None  # the bureau's score, 350..950; None without enough history
    inquiries_6m: int  # lenders' hard inquiries in the last six months
    monthly_debt_fen: int  # repayments due each month on the borrower's other debts
    open_accounts: int
    standing: Standing


@dataclass(frozen=True, slots=True)
class BureauResult:
    """One query's outcome: the report (when there is one), what it cost, whether it came
    from the cache, and which bureau answered (or was asked and did not)."""

    status: Status
    report: Report | None = None
    cost_fen: int = 0
    cached: bool = False
    detail: str = ""
    #: The adapter's declared "name/version" (``simulated/1`` is the simulated bureau); the
    #: decision record keeps it, so every decision says whose report it read.
    source: str = ""

    @property
    def available(self) -> bool:
        return self.status in (Status.OK, Status.NO_RECORD)


@dataclass(frozen=True, slots=True)
class BureauFinding:
    code: str
    action: str  # pass | refer | decline
    detail: str


def assess(result: BureauResult) -> list[BureauFinding]:
    """What the decision makes of a bureau result."""
    if not result.available:
        return [BureauFinding(UNAVAILABLE, "refer",
                              f"credit bureau {result.status.value}: {result.detail}".strip())]
    if result.status is Status.NO_RECORD or result.report is None:
        return [BureauFinding(NO_RECORD, "pass", "no credit history at the bureau")]
    report = result.report
    if report.standing is Standing.WRITTEN_OFF:
        return [BureauFinding(WRITTEN_OFF, "decline",
                              f"report {report.report_id}: a debt written off or enforced")]
    if report.standing is Standing.OVERDUE:
        return [BureauFinding(CURRENT_OVERDUE, "refer",
                              f"report {report.report_id}: an account past due now")]
    return []
