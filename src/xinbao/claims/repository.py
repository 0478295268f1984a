"""Claims ports: claims and the recoveries after payment."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from xinbao.claims.model import (
    Assessment,
    Claim,
    ClaimStatus,
    ClaimTimes,
    Document,
    Recovery,
    RecoveryRight,
    RightStatus,
    Settlement,
)
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


@dataclass(frozen=True, slots=True)
class AssessmentRecord:
    """A run of a claim's liability determination as kept: why it ran, how much it changed
    the amount, and the assessment itself."""

    reason: str
    difference_fen: int
    assessment: Assessment


class ClaimRepository(Protocol):
    def add(self, claim: Claim) -> Claim: ...
    def save_if_unchanged(self, claim: Claim, *, status: ClaimStatus, recovered_fen: int,
                          approvals: tuple[str, ...] = ()) -> bool:
        """Write the claim back only if the stored row still holds the ``status``,
        ``recovered_fen`` and ``approvals`` it was read with; False when a concurrent
        transaction changed it first (then nothing is written and the claim's events are
        dropped).

        A concurrent writer of the same claim waits for this one's transaction to end
        (PostgreSQL's row lock, SQLite's one writer) and then finds the row changed.
        """
        ...
    def get(self, claim_id: int) -> Claim | None: ...
    def get_by_reference(self, funder_id: int, reference: str) -> Claim | None:
        """The funder's claim of its own notice reference."""
        ...
    def waiting_for_trigger(self) -> list[Claim]:
        """Notified claims (notices whose loan has not reached its trigger), in id order."""
        ...
    def add_assessment(self, claim_id: int, assessment: Assessment, *, reason: str,
                       difference_fen: int) -> None: ...
    def assessments(self, claim_id: int) -> list[AssessmentRecord]:
        """The claim's assessments, oldest first."""
        ...
    def add_documents(self, claim_id: int, documents: Sequence[Document]) -> None: ...
    def documents(self, claim_id: int) -> list[Document]: ...
    def queue(self, *, funder_id: int | None, limit: int) -> list[Claim]:
        """Claims under review, the longest since their trigger first (the service level
        runs from it)."""
        ...
    def vintage(self, funder_id: int, start: date, end: date) -> tuple[int, int]:
        """The funder's loans that started within [start, end), and how many of them have a
        claim that stands: claim anti-fraud's vintage figures."""
        ...
    def times(self, funder_id: int | None) -> list[ClaimTimes]:
        """Every claim's dates with its funder's and product's codes (of one funder, when
        given), for the service levels."""
        ...
    def approved_through(self, funder_id: int, through: date) -> list[Claim]:
        """The funder's approved claims not yet paid, approved on or before ``through``, in
        id order: what a payment batch of the cycle ending then pays."""
        ...
    def paid_between(self, start: date, end: date) -> list[tuple[int, date]]:
        """(indemnity, payment date) of every claim paid from ``start`` to ``end``, in id
        order: what a per-risk excess of loss reads."""
        ...
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


@dataclass(frozen=True, slots=True)
class SettledClaim:
    """A claim of a payment batch with what its statement shows beside it."""

    claim: Claim
    policy_no: str
    contract_no: str
    product_code: str


@dataclass(frozen=True, slots=True)
class SettlementBatch:
    """A payment batch with its claims (what its statement lists), and whether it was made
    before (then nothing more happened)."""

    settlement: Settlement
    lines: tuple[SettledClaim, ...]
    funder_code: str
    funder_name: str
    repeat: bool = False


class SettlementRepository(Protocol):
    def add(self, settlement: Settlement) -> Settlement: ...
    def get(self, settlement_id: int) -> Settlement | None: ...
    def for_cycle(self, funder_id: int, cycle_to: date) -> Settlement | None: ...
    def newest(self, funder_id: int | None, limit: int) -> list[Settlement]:
        """Payment batches, the newest first (of one funder, when given)."""
        ...
    def paid_between(self, funder_id: int, first: date, last: date) -> list[Settlement]:
        """The funder's payment batches paid from ``first`` to ``last``, the oldest first."""
        ...
    def lines(self, settlement_id: int) -> list[SettledClaim]:
        """The batch's claims in id order, each with its policy number, the funder's loan
        contract number and the product."""
        ...


@dataclass(frozen=True, slots=True)
class RightRow:
    """A recovery right as collection's list shows it: with what its claim recovered so far,
    the policy's number and the funder's loan contract number."""

    right: RecoveryRight
    recovered_fen: int
    policy_no: str
    contract_no: str


class RecoveryRepository(Protocol):
    """Recoveries after payment, and the recovery rights handed to collection."""

    def add(self, recovery: Recovery, reference: str) -> Recovery: ...
    def for_claim(self, claim_id: int) -> list[Recovery]: ...
    def get_by_reference(self, claim_id: int, reference: str) -> Recovery | None: ...
    def add_right(self, right: RecoveryRight) -> RecoveryRight: ...
    def save_right(self, right: RecoveryRight) -> None: ...
    def right_for(self, claim_id: int) -> RecoveryRight | None: ...
    def rights(self, *, status: RightStatus | None, funder_id: int | None,
               limit: int) -> list[RightRow]:
        """Recovery rights, the oldest first (of one status, of one funder)."""
        ...


class UnitOfWork(policy.UnitOfWork, Protocol):
    @property
    def claims(self) -> ClaimRepository: ...
    @property
    def recoveries(self) -> RecoveryRepository: ...
    @property
    def settlements(self) -> SettlementRepository: ...
