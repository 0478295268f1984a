"""Risk ports: anti-fraud look-ups, the lists, the limit counters and decisions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

from xinbao.kernel.paging import Page, PageRequest
from xinbao.policy import repository as policy

if TYPE_CHECKING:
    from decimal import Decimal

    from xinbao.risk.model.antifraud import Node
    from xinbao.risk.model.decision import DecisionRecord
    from xinbao.risk.model.exposure import Counter


#: The keys the referral queue sorts by: application id, referral date, proposed amount.
REFERRAL_SORTS = ("id", "date", "amount")


@dataclass(frozen=True, slots=True)
class Sighting:
    """An application that gave a value (for velocity counts)."""

    application_id: int
    applied_on: date
    funder_id: int


@dataclass(frozen=True, slots=True)
class ExposureRow:
    """A live policy's retained liability and the keys of the limits it counts against."""

    obligor: str  # blind index of the ID number
    enterprise: bool
    funder: str
    region: str
    industry: str | None
    product: str
    principal_fen: int  # outstanding
    coverage_share: Decimal


@dataclass(frozen=True, slots=True)
class ListedValue:
    id: int
    field: str
    key_prefix: str  # the start of the blind index (the value itself is never stored)
    reason: str
    added_on: date
    added_by: str


class RiskRepository(Protocol):
    def sightings(self, asks: Mapping[str, tuple[Iterable[str], date]],
                  end: date) -> dict[str, dict[str, list[Sighting]]]:
        """For each anti-fraud field asked (its values and window start), the applications
        giving each value, applied for between the start and ``end``."""
        ...

    def neighbourhood(self, application_ids: Sequence[int], on: date, *, hops: int = 2,
                      limit: int = 500) -> list[Node]:
        """Applications linked to these by shared values, with their overdue flag."""
        ...

    def exposure_rows(self) -> list[ExposureRow]: ...
    def obligor_key(self, id_number: str) -> str: ...


class BlacklistRepository(Protocol):
    def listed(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]: ...
    def add(self, name: str, value: str, *, reason: str, on: date, by: str) -> bool: ...
    def remove(self, name: str, value: str) -> bool: ...
    def entries(self) -> list[ListedValue]: ...


class CounterRepository(Protocol):
    def get(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Counter]: ...
    def basis(self) -> tuple[int, date] | None: ...
    def lock(self, on: date) -> tuple[int, date] | None:
        """Serialize with other recounts and reservations (the total's row); the basis."""
        ...

    def ensure(self, counters: Iterable[Counter], *, basis_fen: int, on: date) -> None: ...
    def reserve(self, keys: Sequence[tuple[str, str]], amount_fen: int) -> bool:
        """Atomically add to every counter, or to none if any would pass its cap."""
        ...

    def reserve_many(self, amounts: Mapping[tuple[str, str], int]) -> bool:
        """Atomically add each amount to its counter, or nothing if any would pass its cap
        (a batch's approvals reserved in one step)."""
        ...

    def replace_all(self, counters: Iterable[Counter], *, basis_fen: int, on: date) -> None: ...
    def all(self) -> list[Counter]: ...
    def fullest(self) -> list[Counter]:
        """The fullest counter of each dimension (the most used; on a tie, the first key)."""
        ...


class DecisionRepository(Protocol):
    def add_many(self, records: Sequence[DecisionRecord]) -> None: ...
    def save(self, record: DecisionRecord) -> None: ...
    def get(self, application_id: int) -> DecisionRecord | None: ...
    def pending(self, *, funder_id: int | None, after_id: int,
                limit: int) -> list[DecisionRecord]: ...
    def count_pending(self, *, funder_id: int | None, reason_code: str | None = None) -> int:
        """How many referrals wait for review (of one funder or all), only those carrying
        ``reason_code`` when given."""
        ...
    def pending_page(self, *, funder_id: int | None,
                     request: PageRequest) -> Page[DecisionRecord]:
        """One page of the referrals waiting for review (of one funder or of all), in the
        order of ``request.sort`` (one of ``REFERRAL_SORTS``, ties by application id), with
        their total."""
        ...


class UnitOfWork(policy.UnitOfWork, Protocol):
    @property
    def risk(self) -> RiskRepository: ...
    @property
    def blacklist(self) -> BlacklistRepository: ...
    @property
    def counters(self) -> CounterRepository: ...
    @property
    def decisions(self) -> DecisionRepository: ...
