"""Compliance: the audit trail read and verified, and personal data kept no longer than the law
allows.

Retention: personal data of closed, fully settled cases is anonymized after a period.

A case is due when its application was declined, or its policy closed (expired, cancelled
or claimed and recovered to the end), more than the retention period ago. Names, ID numbers,
phones, bank cards and birth dates are replaced; amounts, dates, statuses, the ledger and
the audit trail stay, so every figure and aggregate is unchanged. Each anonymized case is
recorded in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from xinbao.compliance.repository import AUDIT_SORTS, AuditFilter, UnitOfWork
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.audit import AuditRecord, ChainReport, verify
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.events import Event
from xinbao.kernel.paging import Page, PageRequest

#: Five years after the end of the business relation (PRC anti-money-laundering law, art. 19).
DEFAULT_RETENTION_DAYS = 5 * 365
BATCH = 1_000


@dataclass(frozen=True, slots=True)
class RetentionReport:
    cutoff: date
    due: int  # cases found due
    anonymized: int  # cases changed (0 on a dry run)
    dry_run: bool


def anonymize_expired(uow_factory: Callable[[], UnitOfWork], *, today: date,
                      retention_days: int = DEFAULT_RETENTION_DAYS, dry_run: bool = False,
                      progress: Callable[[int], None] | None = None) -> RetentionReport:
    """Anonymize every case due, a batch per transaction (a rerun carries on where a stopped
    one left off); a dry run only counts them."""
    if retention_days < 1:
        raise InvalidInput.single("retention_days", "retention.period",
                                  "the retention period is at least one day")
    cutoff = today - timedelta(days=retention_days)
    authorize(uow_factory(), Action.RETENTION_RUN)
    if dry_run:
        with uow_factory() as uow:
            due = len(uow.retention.retention_due(cutoff, limit=10**9))
        return RetentionReport(cutoff, due, 0, True)
    done = 0
    while True:
        uow = uow_factory()
        authorize(uow, Action.RETENTION_RUN)
        with uow:
            ids = uow.retention.retention_due(cutoff, limit=BATCH)
            if not ids:
                break
            changed = uow.retention.anonymize(ids, today)
            uow.events.add([Event("PersonalDataAnonymized", "application", i, today,
                                  {"reason": "retention period over",
                                   "cutoff": cutoff.isoformat()}) for i in ids])
            uow.commit()
        done += changed
        if progress is not None:
            progress(done)
    return RetentionReport(cutoff, done, done, False)


# Reading and verifying the audit trail (auditors and administrators).

def verify_trail(uow: UnitOfWork) -> ChainReport:
    """Walk the whole chain: every hash, every link, no gaps, and the head."""
    authorize(uow, Action.AUDIT_READ)
    with uow:
        return verify(uow.events.records(), head=uow.events.head())


def recent_records(uow: UnitOfWork, *, limit: int = 50,
                   actor: str | None = None) -> list[AuditRecord]:
    """The newest records, newest first (optionally of one actor)."""
    authorize(uow, Action.AUDIT_READ)
    with uow:
        return list(uow.events.records(actor=actor, limit=limit, newest_first=True))


def audit_page(uow: UnitOfWork, where: AuditFilter, request: PageRequest) -> Page[AuditRecord]:
    """One page of the audit trail, filtered and sorted on the database; reading changes
    nothing (auditors and administrators)."""
    authorize(uow, Action.AUDIT_READ)
    if request.sort not in AUDIT_SORTS:
        raise InvalidInput.single("sort", "page.sort",
                                  f"the audit trail sorts by: {', '.join(AUDIT_SORTS)}")
    with uow:
        return uow.audit.page(where, request)
