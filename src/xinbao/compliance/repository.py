"""Compliance's port and unit of work: the audit trail, and the closed cases whose personal
data retention anonymizes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from xinbao.underwriting import repository as underwriting


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
