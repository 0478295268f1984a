"""Reporting's port and unit of work: read models over the ledger, policies, claims and
applications, and the questions it asks across them."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from xinbao.claims import repository as claims


class ReportingRepository(Protocol):
    def vintage_rows(self) -> list[tuple[int, date, date | None]]:
        """(policy, start date, first claim date or None) of every issued policy."""
        ...


class UnitOfWork(claims.UnitOfWork, Protocol):
    @property
    def reporting(self) -> ReportingRepository: ...
