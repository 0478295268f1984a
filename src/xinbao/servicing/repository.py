"""Servicing's unit of work: the funder's repayment data and the end-of-day batch touch
loans, policies, premium and claims; servicing owns no repository of its own."""

from __future__ import annotations

from typing import Protocol

from xinbao.claims import repository as claims


class UnitOfWork(claims.UnitOfWork, Protocol):
    pass
