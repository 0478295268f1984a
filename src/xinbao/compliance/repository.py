"""Compliance's port and unit of work: the audit trail, and the closed cases whose personal
data retention anonymizes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from xinbao.kernel.audit import AuditRecord
from xinbao.kernel.paging import Page, PageRequest
from xinbao.underwriting import repository as underwriting

#: The orders a page of the audit trail may be read in: by sequence (``id``) or by the
#: business date (``date``), ties by sequence.
AUDIT_SORTS = ("id", "date")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which records a page of the audit trail holds; None: any."""

    aggregate: str | None = None  # what it happened to: "policy", "user", ...
    aggregate_id: int | None = None
    name: str | None = None  # the event: "PolicyIssued", ...
    actor: str | None = None  # "user:li.na", "client:bank-a-1", ...


class AuditTrailReader(Protocol):
    """The audit trail read a page at a time (writing it is the event log's alone)."""

    def page(self, where: AuditFilter, request: PageRequest) -> Page[AuditRecord]:
        """One page of the records ``where`` selects, in the order of ``request.sort`` (one
        of ``AUDIT_SORTS``), and how many there are in all."""
        ...


class RetentionRepository(Protocol):
    def retention_due(self, cutoff: date, *, limit: int) -> list[int]:
        """Applications whose personal data is due for anonymizing: not anonymized yet, and
        either declined before ``cutoff`` or with a policy closed (fully settled) before it."""
        ...

    def anonymize(self, application_ids: Sequence[int], on: date) -> int:
        """Replace the borrowers' personal data of these applications and their policies;
        the number of applications changed."""
        ...


class UnitOfWork(underwriting.UnitOfWork, Protocol):
    @property
    def retention(self) -> RetentionRepository: ...
    @property
    def audit(self) -> AuditTrailReader: ...
