"""The abstract unit of work and the repositories it hands to use cases.

Repositories never commit; the use case calls ``uow.commit()`` once. ``add`` stores a new
object and gives it its id; ``save`` stores the changes to one already stored. Both drain the
object's pending domain events into the event log, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol, Self

from xinbao.domain.accounts import ApiClient, Session, User
from xinbao.domain.audit import AuditRecord
from xinbao.domain.claims import Claim, Recovery
from xinbao.domain.events import Event
from xinbao.domain.ledger import JournalEntry, Line
from xinbao.domain.loans import Installment, Loan, LoanStatus, Repayment
from xinbao.domain.parties import Funder
from xinbao.domain.policy import Policy, PolicyStatus
from xinbao.domain.products import Product
from xinbao.domain.security import Principal
from xinbao.domain.underwriting import Application, ApplicationStatus

if TYPE_CHECKING:
    from decimal import Decimal

    from xinbao.analytics.identity_graph import Node
    from xinbao.domain.decision import DecisionRecord
    from xinbao.domain.exposure import Counter


@dataclass(frozen=True, slots=True)
class LoanHeader:
    """A loan without its schedule: what a repayment file needs to check each record."""

    id: int
    contract_no: str
    status: LoanStatus
    start_date: date
    term_months: int


@dataclass(frozen=True, slots=True)
class PremiumTerms:
    """What writing a policy's installment premiums needs, without the whole policy."""

    id: int
    loan_id: int
    funder_id: int
    installment_premium_fen: int
    installments_written: int
    term_months: int


class ProductRepository(Protocol):
    def add(self, product: Product) -> None: ...
    def versions(self, code: str) -> list[Product]: ...
    def get(self, code: str, version: int) -> Product | None: ...
    def list_latest(self) -> list[Product]: ...


class FunderRepository(Protocol):
    def add(self, funder: Funder) -> Funder: ...
    def get(self, funder_id: int) -> Funder | None: ...
    def get_by_code(self, code: str) -> Funder | None: ...
    def list(self) -> list[Funder]: ...


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

    def retention_due(self, cutoff: date, *, limit: int) -> list[int]:
        """Applications whose personal data is due for anonymizing: not anonymized yet, and
        either declined before ``cutoff`` or with a policy closed (fully settled) before it."""
        ...

    def anonymize(self, application_ids: Sequence[int], on: date) -> int:
        """Replace the borrowers' personal data of these applications and their policies;
        the number of applications changed."""
        ...

    def add_many(self, applications: Sequence[Application]) -> list[Application]: ...
    def save_many(self, applications: Sequence[Application]) -> None: ...
    def get_many(self, application_ids: Iterable[int]) -> dict[int, Application]: ...
    def known_refs(self, funder_id: int, refs: Iterable[str]) -> dict[str, int]:
        """External reference → application id, for the references already stored."""
        ...


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

    def add_many(self, policies: Sequence[Policy]) -> list[Policy]: ...
    def premium_terms(self, *, loan_ids: Iterable[int] = (),
                      policy_ids: Iterable[int] = ()) -> list[PremiumTerms]:
        """Installment-premium terms of the policies on these loans or with these ids."""
        ...

    def set_installments_written(self, written: dict[int, int]) -> None:
        """Policy id → installments whose premium is now written."""
        ...
    def vintage_rows(self) -> list[tuple[int, date, date | None]]:
        """(policy, start date, first claim date or None) of every issued policy."""
        ...
    def save_many(self, policies: Iterable[Policy]) -> None: ...

    # Set-based questions of the end-of-day batch (policies in force only):
    def installment_premiums_due(self, on: date) -> list[tuple[int, int]]:
        """(policy, last installment number due by ``on``) where premiums are unwritten, for
        loans past due (a paid installment's premium is written when it is recorded)."""
        ...

    def single_premium_in_force(self) -> list[int]:
        """Policies with single premium not yet all earned or refunded."""
        ...

    def fully_repaid(self) -> list[int]:
        """Policies whose loan has no unpaid installment left."""
        ...

    def overdue(self, on: date) -> list[tuple[int, date, int]]:
        """(policy, first unpaid due date, product's claim trigger) for loans past due."""
        ...


class LoanRepository(Protocol):
    def add(self, loan: Loan) -> Loan: ...
    def save(self, loan: Loan) -> None: ...
    def get(self, loan_id: int) -> Loan | None: ...
    def get_by_contract(self, funder_id: int, contract_no: str) -> Loan | None: ...
    def get_many(self, loan_ids: Iterable[int]) -> dict[int, Loan]: ...
    def save_many(self, loans: Iterable[Loan]) -> None: ...
    def add_many(self, loans: Sequence[Loan]) -> list[Loan]: ...
    def headers(self, funder_id: int, contract_nos: Iterable[str]) -> dict[str, LoanHeader]: ...
    def installments(
        self, keys: Iterable[tuple[int, int]],
    ) -> dict[tuple[int, int], Installment]:
        """The installments named by (loan id, number)."""
        ...

    def refresh_first_unpaid(self, loan_ids: Iterable[int]) -> None:
        """Recompute each loan's first unpaid due date from its schedule and repayments
        (the rule of ``domain.loans.first_unpaid_due_date``, checked by a contract test).

        Repayments are never taken back, so an adapter may search onwards from the stored
        date (a loan is disbursed with its first due date; None means all is paid)."""
        ...


class RepaymentRepository(Protocol):
    def add(self, repayment: Repayment, reference: str) -> Repayment: ...
    def for_loan(self, loan_id: int) -> list[Repayment]: ...
    def get_by_reference(self, loan_id: int, reference: str) -> Repayment | None: ...
    def add_many(self, items: Sequence[tuple[Repayment, str]]) -> None: ...
    def paid_totals(
        self, loan_ids: Iterable[int], numbers: Iterable[int] | None = None,
    ) -> dict[int, dict[int, tuple[int, int]]]:
        """(principal, interest) paid per loan and installment (only ``numbers`` if given)."""
        ...

    def known_references(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """Which of these (loan id, reference) pairs are recorded already."""
        ...


class ClaimRepository(Protocol):
    def add(self, claim: Claim) -> Claim: ...
    def save(self, claim: Claim) -> None: ...
    def get(self, claim_id: int) -> Claim | None: ...
    def for_policy(self, policy_id: int) -> list[Claim]: ...
    def list_open(self) -> list[Claim]: ...


class RecoveryRepository(Protocol):
    def add(self, recovery: Recovery, reference: str) -> Recovery: ...
    def for_claim(self, claim_id: int) -> list[Recovery]: ...
    def get_by_reference(self, claim_id: int, reference: str) -> Recovery | None: ...


class LedgerRepository(Protocol):
    """Append-only: entries are added and read, never changed or removed."""

    def add(self, entry: JournalEntry) -> JournalEntry: ...
    def get(self, entry_id: int) -> JournalEntry | None: ...
    def get_by_key(self, source_command: str, idempotency_key: str) -> JournalEntry | None: ...
    def reversal_of(self, entry_id: int) -> JournalEntry | None: ...
    def lines(self, *, through: date | None = None) -> Iterable[Line]:
        """Lines posted on or before ``through`` (an adapter may return per-account sums)."""
        ...
    def entries(self, *, reference: str | None = None) -> Sequence[JournalEntry]: ...
    def monthly_totals(self) -> list[tuple[int, int, str, int]]:
        """(year, month, account, sum of lines) by posting month."""
        ...


class EventLog(Protocol):
    """The audit trail: append-only and hash-chained; each record names the unit of work's
    actor. Events added are chained when the unit of work commits."""

    def add(self, events: Iterable[Event]) -> None: ...
    def list(
        self, *, aggregate: str | None = None, aggregate_id: int | None = None,
    ) -> list[Event]: ...
    def makers(self, aggregate: str, aggregate_ids: Iterable[int],
               names: Iterable[str]) -> dict[int, set[str]]:
        """For each of these objects, the actors who recorded these events on it (for
        four-eyes checks; an empty set where none did)."""
        ...

    def records(self, *, actor: str | None = None, limit: int | None = None,
                newest_first: bool = False) -> Iterator[AuditRecord]:
        """Stored records in storage order (or newest first), for reading and verifying."""
        ...

    def head(self) -> tuple[int, str]:
        """(sequence number, hash) of the newest record, kept apart from the records."""
        ...


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The answer given to a request with an Idempotency-Key."""

    scope: str  # the caller
    key: str
    request_hash: str
    status_code: int
    body: dict


class IdempotencyRepository(Protocol):
    def get(self, scope: str, key: str) -> StoredResponse | None: ...
    def add_once(self, response: StoredResponse, now: datetime) -> StoredResponse:
        """Store the response unless one is stored for (scope, key) already; the stored one."""
        ...


class UserRepository(Protocol):
    def add(self, user: User) -> User: ...
    def save(self, user: User) -> None: ...
    def get(self, user_id: int) -> User | None: ...
    def get_by_username(self, username: str) -> User | None: ...
    def list(self) -> list[User]: ...


class ClientRepository(Protocol):
    def add(self, client: ApiClient) -> ApiClient: ...
    def save(self, client: ApiClient) -> None: ...
    def get_by_client_id(self, client_id: str) -> ApiClient | None: ...
    def list(self) -> list[ApiClient]: ...


class SessionRepository(Protocol):
    def add(self, session: Session) -> Session: ...
    def save(self, session: Session) -> None: ...
    def get_by_token_hash(self, token_hash: str) -> Session | None: ...
    def revoke_all(self, user_id: int) -> int: ...


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


class DecisionRepository(Protocol):
    def add_many(self, records: Sequence[DecisionRecord]) -> None: ...
    def save(self, record: DecisionRecord) -> None: ...
    def get(self, application_id: int) -> DecisionRecord | None: ...
    def pending(self, *, funder_id: int | None, after_id: int,
                limit: int) -> list[DecisionRecord]: ...


class UnitOfWork(Protocol):
    actor: Principal
    products: ProductRepository
    funders: FunderRepository
    applications: ApplicationRepository
    policies: PolicyRepository
    loans: LoanRepository
    repayments: RepaymentRepository
    claims: ClaimRepository
    recoveries: RecoveryRepository
    ledger: LedgerRepository
    events: EventLog
    users: UserRepository
    clients: ClientRepository
    sessions: SessionRepository
    idempotency: IdempotencyRepository
    risk: RiskRepository
    blacklist: BlacklistRepository
    counters: CounterRepository
    decisions: DecisionRepository

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
