"""Claims ports: claims and the recoveries after payment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from xinbao.claims.model import Claim, ClaimStatus, Recovery
from xinbao.kernel.paging import Page, PageRequest
from xinbao.policy import repository as policy

#: The keys a list of claims sorts by: id, opening date, amount payable, status.
CLAIM_SORTS = ("id", "opened", "amount", "status")


@dataclass(frozen=True, slots=True)
class ClaimFilter:
    """Which claims a list shows: of one status, of one funder's policies, opened within
    these dates (inclusive); None leaves a criterion out."""

    status: ClaimStatus | None = None
    funder_id: int | None = None
    opened_from: date | None = None
    opened_to: date | None = None


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """A claim as a list shows it: with the funder of its policy."""

    claim: Claim
    funder_id: int


class ClaimRepository(Protocol):
    def add(self, claim: Claim) -> Claim: ...
    def save_if_unchanged(self, claim: Claim, *, status: ClaimStatus,
                          recovered_fen: int) -> bool:
        """Write the claim back only if the stored row still holds the ``status`` and
        ``recovered_fen`` it was read with; False when a concurrent transaction changed it
        first (then nothing is written and the claim's events are dropped).

        A concurrent writer of the same claim waits for this one's transaction to end
        (PostgreSQL's row lock, SQLite's one writer) and then finds the row changed.
        """
        ...
    def get(self, claim_id: int) -> Claim | None: ...
    def for_policy(self, policy_id: int) -> list[Claim]: ...
    def for_policies(self, policy_ids: Iterable[int]) -> dict[int, list[Claim]]:
        """Each of these policies' claims in id order (an empty list for one without)."""
        ...
    def page(self, *, status: ClaimStatus | None, funder_id: int | None, after_id: int,
             limit: int) -> list[Claim]:
        """Claims in id order after ``after_id``: of one status, of one funder's policies."""
        ...
    def search(self, filters: ClaimFilter, request: PageRequest) -> Page[ClaimRow]:
        """One page of the claims ``filters`` selects, sorted by a key of ``CLAIM_SORTS``
        (ties by id in the same direction), with how many there are in all."""
        ...


class RecoveryRepository(Protocol):
    def add(self, recovery: Recovery, reference: str) -> Recovery: ...
    def for_claim(self, claim_id: int) -> list[Recovery]: ...
    def get_by_reference(self, claim_id: int, reference: str) -> Recovery | None: ...


class UnitOfWork(policy.UnitOfWork, Protocol):
    @property
    def claims(self) -> ClaimRepository: ...
    @property
    def recoveries(self) -> RecoveryRepository: ...
