"""Policy port: policies and quotes, with the end-of-day batch's set questions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from xinbao.catalogue.model.products import RefundMethod
from xinbao.kernel.paging import Page, PageRequest
from xinbao.ledger import repository as ledger
from xinbao.loans import repository as loans
from xinbao.policy.model import Endorsement, Policy, PolicyDocument, PolicyStatus
from xinbao.underwriting import repository as underwriting


@dataclass(frozen=True, slots=True)
class PremiumTerms:
    """What writing a policy's installment premiums needs, without the whole policy."""

    id: int
    loan_id: int
    funder_id: int
    installment_premium_fen: int
    installments_written: int
    term_months: int
    installment_vat_fen: int  # the VAT on each installment premium


@dataclass(frozen=True, slots=True)
class EarningTerms:
    """What earning a policy's single premium needs (``model.single_premium_earned``),
    without the whole policy: no personal data is read or decrypted."""

    id: int
    product_code: str
    refund_method: RefundMethod
    single_premium_fen: int
    earned_fen: int
    start_date: date | None
    end_date: date | None
    term_months: int
    refunded_fen: int = 0
    upr_base_fen: int | None = None  # after an endorsement that changed the cover
    upr_base_on: date | None = None
    loan_id: int | None = None
    earning: str = "time"  # or "exposure": the close reads the loan's schedule


#: The orders a list of policies may be read in: sort key -> the policy's field.
POLICY_SORTS = {"id": "id", "issued": "issued_on", "cover": "sum_insured_fen",
                "status": "status"}


@dataclass(frozen=True, slots=True)
class PolicyFilter:
    """Which issued policies a list shows (None: any)."""

    funder_id: int | None = None
    status: PolicyStatus | None = None
    policy_id: int | None = None


class PolicyRepository(Protocol):
    def add(self, policy: Policy) -> Policy: ...
    def save(self, policy: Policy) -> None: ...
    def get(self, policy_id: int) -> Policy | None: ...
    def get_by_application(self, application_id: int) -> Policy | None: ...
    def get_by_loan(self, loan_id: int) -> Policy | None: ...
    def list_by_status(self, statuses: Iterable[PolicyStatus]) -> list[Policy]: ...
    def count_by_status(self) -> dict[PolicyStatus, int]: ...
    def get_many(self, policy_ids: Iterable[int]) -> list[Policy]: ...
    def page(self, *, funder_id: int | None, after_id: int, limit: int) -> list[Policy]:
        """Issued policies (not quotes) with ids above ``after_id``, in id order (only the
        funder's when ``funder_id`` is given)."""
        ...

    def search(self, where: PolicyFilter, page: PageRequest) -> Page[Policy]:
        """Issued policies (not quotes) matching ``where``, one page in the order of a key
        of ``POLICY_SORTS`` (ties by id in the same direction), with how many match."""
        ...

    def add_many(self, policies: Sequence[Policy]) -> list[Policy]: ...
    def premium_terms(self, *, loan_ids: Iterable[int] = (),
                      policy_ids: Iterable[int] = ()) -> list[PremiumTerms]:
        """Installment-premium terms of the policies in force on these loans, or with these
        ids."""
        ...

    def with_premium_due(self, modes: Sequence[str]) -> list[int]:
        """The policies in force of these insurance modes whose installment premium written
        is more than collected, by id."""
        ...
    def add_collected(self, collected: dict[int, int]) -> None:
        """Add to each policy's installment premium collected (policy id -> fen)."""
        ...
    def set_installments_written(self, written: dict[int, int]) -> None:
        """Policy id → installments whose premium is now written."""
        ...
    def save_many(self, policies: Iterable[Policy]) -> None: ...
    def earning_terms(self) -> list[EarningTerms]:
        """The earning terms of the policies in force whose single premium is not yet all
        earned or refunded, in id order."""
        ...

    def set_earned(self, earned: Sequence[tuple[int, int, int]]) -> int:
        """(policy id, earned before, earned now): each policy in force still at its
        ``earned before`` gets ``earned now`` (only that column); returns how many did, so a
        caller sees a policy changed by someone else since it was read."""
        ...

    def documents(self, policy_id: int) -> list[PolicyDocument]:
        """The e-policies issued for the policy, the first first."""
        ...

    def add_document(self, document: PolicyDocument) -> PolicyDocument: ...

    def endorsements(self, policy_id: int) -> list[Endorsement]:
        """The policy's endorsements, the oldest (lowest version) first."""
        ...

    def add_endorsement(self, endorsement: Endorsement) -> Endorsement:
        """Kept once per policy and version: a concurrent endorsement of the same version
        is a write conflict for the caller's transaction."""
        ...


class UnitOfWork(underwriting.UnitOfWork, loans.UnitOfWork, ledger.UnitOfWork, Protocol):
    @property
    def policies(self) -> PolicyRepository: ...
