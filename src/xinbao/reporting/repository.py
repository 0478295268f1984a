"""Reporting's port and unit of work: read models over the ledger, policies, claims and
applications, and the questions it asks across them."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple, Protocol

from xinbao.claims import repository as claims


class PolicyFigures(NamedTuple):
    """One issued policy's figures, as the register and its claims give them."""

    policy_id: int
    product_code: str
    mode: str
    status: str
    sum_insured_fen: int
    premium_fen: int  # premium charged so far: single less refunds, or installments written
    claims_paid_fen: int  # of its claims paid or closed
    recovered_fen: int  # on those claims


class ReportingRepository(Protocol):
    def vintage_rows(self) -> list[tuple[int, date, date | None]]:
        """(policy, start date, first claim date or None) of every issued policy."""
        ...

    def policy_figures(self) -> list[PolicyFigures]:
        """The figures of every policy ever issued (not the quotes), by policy id."""
        ...


class UnitOfWork(claims.UnitOfWork, Protocol):
    @property
    def reporting(self) -> ReportingRepository: ...
