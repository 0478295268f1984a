"""Underwriting port: applications, with the set questions asked of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from xinbao.catalogue import repository as catalogue
from xinbao.kernel.paging import Page, PageRequest
from xinbao.underwriting.model import Application, ApplicationStatus

#: The keys a list of applications sorts by (then by id): id, applied date, amount, status.
APPLICATION_SORTS = ("id", "date", "amount", "status")


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    """Which applications a list shows; None leaves a criterion out. Dates and amounts are
    inclusive bounds (amounts in fen)."""

    funder_id: int | None = None
    product_code: str | None = None
    status: ApplicationStatus | None = None
    applied_from: date | None = None
    applied_to: date | None = None
    min_fen: int | None = None
    max_fen: int | None = None


class ApplicationRepository(Protocol):
    def add(self, application: Application) -> Application: ...
    def save(self, application: Application) -> None: ...
    def get(self, application_id: int) -> Application | None: ...
    def get_by_external_ref(self, funder_id: int, external_ref: str) -> Application | None: ...
    def count(self) -> int: ...
    def count_by_status(self) -> dict[ApplicationStatus, int]: ...
    def find_by_id_number(self, id_number: str) -> list[Application]:
        """Applications of the borrower with this ID number (exact match on the blind index;
        the numbers themselves are stored encrypted)."""
        ...

    def waiting(self, *, applied_by: date, funder_id: int | None = None) -> list[int]:
        """Applications still waiting for a decision (submitted), applied for on or before
        ``applied_by``, of one funder or of all: their ids, oldest first."""
        ...

    def page(self, where: ApplicationFilter, request: PageRequest) -> Page[Application]:
        """One page of the applications ``where`` selects, in the order of
        ``request.sort`` (one of ``APPLICATION_SORTS``, ties by id), with their total."""
        ...

    def add_many(self, applications: Sequence[Application]) -> list[Application]: ...
    def save_many(self, applications: Sequence[Application]) -> None: ...
    def get_many(self, application_ids: Iterable[int]) -> dict[int, Application]: ...
    def known_refs(self, funder_id: int, refs: Iterable[str]) -> dict[str, int]:
        """External reference → application id, for the references already stored."""
        ...


class UnitOfWork(catalogue.UnitOfWork, Protocol):
    @property
    def applications(self) -> ApplicationRepository: ...
