"""Reading and verifying the audit trail (auditors and administrators)."""

from __future__ import annotations

from xinbao.domain.audit import AuditRecord, ChainReport, verify
from xinbao.domain.security import Action
from xinbao.services.access import authorize
from xinbao.services.unit_of_work import UnitOfWork


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
