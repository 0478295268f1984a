"""In-memory repositories and unit of work: the fakes that unit tests run the services on.

They keep the same contract as the SQL adapters (``tests/integration/test_repository_contract``
runs one suite against both): copies go in and out, so changing an object changes nothing
stored until it is saved, and a rollback forgets everything since the last commit.

What the fake does not copy: the end-of-day batch's set questions (``servicing``'s
``EndOfDayQueries``), answered in SQL only and tested on SQLite and PostgreSQL; unit tests
of the batch run on SQLite (the ``sqlite_uow`` fixture).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Self

from xinbao.billing.model import FunderStatement
from xinbao.catalogue.model.agreements import Agreement
from xinbao.catalogue.model.parties import ANONYMIZED, ANONYMIZED_NAME, Funder
from xinbao.catalogue.model.products import Product
from xinbao.claims.model import (
    AUTOMATIC,
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
from xinbao.claims.repository import (
    AssessmentRecord,
    ClaimFilter,
    ClaimRow,
    RightRow,
    SettledClaim,
)
from xinbao.compliance.repository import AuditFilter
from xinbao.iam.model.accounts import ApiClient, Session, User
from xinbao.iam.model.security import Principal, system
from xinbao.kernel.audit import GENESIS, AuditRecord, chain, json_safe
from xinbao.kernel.errors import Conflict, WriteConflict
from xinbao.kernel.events import Event
from xinbao.kernel.identity import region_of
from xinbao.kernel.paging import Page, PageRequest
from xinbao.ledger.model import JournalEntry, Line
from xinbao.ledger.repository import EntryFilter
from xinbao.loans.model import Installment, Loan, LoanStatus, Repayment
from xinbao.loans.repository import LoanHeader
from xinbao.platform.repository import StoredResponse
from xinbao.policy.model import Endorsement, Policy, PolicyDocument, PolicyStatus
from xinbao.policy.repository import POLICY_SORTS, EarningTerms, PolicyFilter, PremiumTerms
from xinbao.reporting.repository import PolicyFigures
from xinbao.risk.identity_graph import LINK_FIELDS
from xinbao.risk.model.antifraud import Node
from xinbao.risk.model.decision import DecisionRecord
from xinbao.risk.model.exposure import Counter
from xinbao.risk.repository import ExposureRow, ListedValue, Sighting
from xinbao.underwriting.model import Application, ApplicationStatus
from xinbao.underwriting.repository import ApplicationFilter

if TYPE_CHECKING:
    from xinbao.compliance import repository as compliance
    from xinbao.iam import repository as iam
    from xinbao.platform import repository as platform
    from xinbao.reporting import repository as reporting
    from xinbao.risk import repository as risk


class Store:
    """Committed state shared by every unit of work of one fake database.

    Stored rows are private copies that are never changed in place, so a working copy of the
    store needs only new dicts, not copies of the rows.
    """

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {}
        self.next_ids: dict[str, int] = {}

    def snapshot(self) -> Store:
        clone = Store()
        clone.tables = {name: dict(rows) for name, rows in self.tables.items()}
        clone.next_ids = dict(self.next_ids)
        return clone


class _Table:
    def __init__(self, uow: InMemoryUnitOfWork, name: str) -> None:
        self._uow = uow
        self.name = name

    @property
    def rows(self) -> dict[Any, Any]:
        return self._uow._working.tables.setdefault(self.name, {})

    def next_id(self) -> int:
        ids = self._uow._working.next_ids
        ids[self.name] = ids.get(self.name, 0) + 1
        return ids[self.name]

    def _drain(self, obj: Any) -> None:
        events = getattr(obj, "events", None)
        if events:
            self._uow.events.add(
                Event(e.name, e.aggregate, e.aggregate_id if e.aggregate_id is not None else obj.id,
                      e.on, e.data) for e in events)
            events.clear()

    def _insert(self, obj: Any, aggregate: str) -> Any:
        obj.id = self.next_id()
        self._drain(obj)
        self.rows[obj.id] = _copy(obj)
        return obj

    def _update(self, obj: Any, aggregate: str) -> None:
        if obj.id not in self.rows:
            raise KeyError(f"{aggregate} {obj.id} was never added")
        self._drain(obj)
        self.rows[obj.id] = _copy(obj)

    def _get(self, key: Any) -> Any:
        row = self.rows.get(key)
        return _copy(row) if row is not None else None

    def _all(self) -> list[Any]:
        return [_copy(r) for r in self.rows.values()]

    def _find(self, match: Any) -> Any:
        """A copy of the first stored object that ``match`` accepts, or None."""
        return next((_copy(r) for r in self.rows.values() if match(r)), None)

    def _filter(self, match: Any) -> list[Any]:
        return [_copy(r) for r in self.rows.values() if match(r)]


def _copy(obj: Any) -> Any:
    clone = copy.deepcopy(obj)
    if hasattr(clone, "events"):
        clone.events = []
    if isinstance(clone, Policy):
        clone.schedule = None  # set by a use case, never stored (as in the SQL adapter)
    return clone


class _Products(_Table):
    def add(self, product: Product) -> None:
        key = (product.code, product.version)
        if key in self.rows:
            raise Conflict(f"product {product.code} v{product.version} exists")
        self.rows[key] = product

    def versions(self, code: str) -> list[Product]:
        return sorted((p for (c, _), p in self.rows.items() if c == code), key=lambda p: p.version)

    def get(self, code: str, version: int) -> Product | None:
        return self.rows.get((code, version))

    def list_latest(self) -> list[Product]:
        latest: dict[str, Product] = {}
        for p in self.rows.values():
            if p.code not in latest or p.version > latest[p.code].version:
                latest[p.code] = p
        return sorted(latest.values(), key=lambda p: p.code)


class _Funders(_Table):
    def add(self, funder: Funder) -> Funder:
        if self.get_by_code(funder.code) is not None:
            raise Conflict(f"funder {funder.code} exists")
        return self._insert(funder, "funder")

    def get(self, funder_id: int) -> Funder | None:
        return self._get(funder_id)

    def get_by_code(self, code: str) -> Funder | None:
        return self._find(lambda f: f.code == code)

    def list(self) -> list[Funder]:
        return sorted(self._all(), key=lambda f: f.id)

    def save(self, funder: Funder) -> None:
        self._update(funder, "funder")

    def add_agreement(self, funder_id: int, agreement: Agreement) -> None:
        versions = self._uow._working.tables.setdefault("funder_agreements", {})
        if (funder_id, agreement.version) in versions:
            raise Conflict(f"agreement v{agreement.version} of funder {funder_id} exists")
        versions[(funder_id, agreement.version)] = agreement

    def agreements(self, funder_id: int | None = None) -> Sequence[Agreement]:
        versions = self._uow._working.tables.get("funder_agreements", {})
        return [a for key, a in sorted(versions.items()) if funder_id in (None, key[0])]


class _Applications(_Table):
    def add(self, application: Application) -> Application:
        if self.get_by_external_ref(application.funder_id, application.external_ref):
            raise Conflict("application reference exists")
        return self._insert(application, "application")

    def save(self, application: Application) -> None:
        self._update(application, "application")

    def add_many(self, applications: Sequence[Application]) -> list[Application]:
        return [self.add(a) for a in applications]

    def save_many(self, applications: Sequence[Application]) -> None:
        for a in applications:
            self.save(a)

    def get_many(self, application_ids: Iterable[int]) -> dict[int, Application]:
        return {i: self._get(i) for i in set(application_ids) if i in self.rows}

    def known_refs(self, funder_id: int, refs: Iterable[str]) -> dict[str, int]:
        wanted = set(refs)
        return {a.external_ref: a.id for a in self.rows.values()
                if a.funder_id == funder_id and a.external_ref in wanted}

    def get(self, application_id: int) -> Application | None:
        return self._get(application_id)

    def get_by_external_ref(self, funder_id: int, external_ref: str) -> Application | None:
        return self._find(lambda a: a.funder_id == funder_id and a.external_ref == external_ref)

    def waiting(self, *, applied_by: date, funder_id: int | None = None) -> list[int]:
        return sorted(a.id for a in self.rows.values()
                      if a.status is ApplicationStatus.SUBMITTED and a.applied_on <= applied_by
                      and funder_id in (None, a.funder_id))

    def page(self, where: ApplicationFilter, request: PageRequest) -> Page[Application]:
        def chosen(a: Application) -> bool:
            return ((where.funder_id is None or a.funder_id == where.funder_id)
                    and (where.product_code is None or a.product_code == where.product_code)
                    and (where.status is None or a.status is where.status)
                    and (where.applied_from is None or a.applied_on >= where.applied_from)
                    and (where.applied_to is None or a.applied_on <= where.applied_to)
                    and (where.min_fen is None or a.amount_fen >= where.min_fen)
                    and (where.max_fen is None or a.amount_fen <= where.max_fen))

        key = {"id": lambda a: (a.id,), "date": lambda a: (a.applied_on, a.id),
               "amount": lambda a: (a.amount_fen, a.id),
               "status": lambda a: (a.status.value, a.id)}[request.sort]
        found = sorted(self._filter(chosen), key=key, reverse=request.descending)
        return Page(found[request.offset:request.offset + request.size], len(found), request)

    def find_by_id_number(self, id_number: str) -> list[Application]:
        wanted = id_number.strip().replace(" ", "").upper()
        return sorted(self._filter(lambda a: a.borrower.id_number.upper() == wanted),
                      key=lambda a: a.id)

    def count(self) -> int:
        return len(self.rows)

    def count_by_status(self) -> dict[ApplicationStatus, int]:
        counts: dict[ApplicationStatus, int] = {}
        for a in self.rows.values():
            counts[a.status] = counts.get(a.status, 0) + 1
        return counts


class _Policies(_Table):
    def add(self, policy: Policy) -> Policy:
        return self._insert(policy, "policy")

    def add_many(self, policies: Sequence[Policy]) -> list[Policy]:
        return [self.add(p) for p in policies]

    def save(self, policy: Policy) -> None:
        self._update(policy, "policy")

    def get(self, policy_id: int) -> Policy | None:
        return self._get(policy_id)

    def get_by_application(self, application_id: int) -> Policy | None:
        return self._find(lambda p: p.application_id == application_id)

    def get_by_loan(self, loan_id: int) -> Policy | None:
        return self._find(lambda p: p.loan_id == loan_id)

    def page(self, *, funder_id: int | None, after_id: int, limit: int) -> list[Policy]:
        chosen = sorted((p for p in self.rows.values() if p.id > after_id
                         and p.status is not PolicyStatus.QUOTED
                         and (funder_id is None or p.funder_id == funder_id)),
                        key=lambda p: p.id)
        return [_copy(p) for p in chosen[:limit]]

    def get_many(self, policy_ids: Iterable[int]) -> list[Policy]:
        return sorted((self._get(i) for i in set(policy_ids) if i in self.rows),
                      key=lambda p: p.id)

    def search(self, where: PolicyFilter, page: PageRequest) -> Page[Policy]:
        field = POLICY_SORTS.get(page.sort, "id")
        chosen = sorted((p for p in self.rows.values() if p.status is not PolicyStatus.QUOTED
                         and where.funder_id in (None, p.funder_id)
                         and where.status in (None, p.status)
                         and where.policy_id in (None, p.id)),
                        key=lambda p: (getattr(p, field), p.id), reverse=page.descending)
        return Page([_copy(p) for p in chosen[page.offset:page.offset + page.size]],
                    len(chosen), page)

    def premium_terms(self, *, loan_ids: Iterable[int] = (),
                      policy_ids: Iterable[int] = ()) -> list[PremiumTerms]:
        loans, ids = set(loan_ids), set(policy_ids)
        return [PremiumTerms(p.id, p.loan_id, p.funder_id, p.installment_premium_fen,
                             p.installments_written, p.term_months, p.installment_vat_fen)
                for p in self.rows.values()
                if (p.loan_id in loans and p.status is PolicyStatus.IN_FORCE) or p.id in ids]

    def with_premium_due(self, modes: Sequence[str]) -> list[int]:
        return sorted(p.id for p in self.rows.values()
                      if p.status is PolicyStatus.IN_FORCE and p.mode.value in modes
                      and p.installment_premium_fen > 0 and p.premium_due_fen > 0)

    def add_collected(self, collected: dict[int, int]) -> None:
        for pid, fen in collected.items():
            policy = self._get(pid)
            policy.installments_collected_fen += fen
            self.rows[pid] = _copy(policy)

    def set_installments_written(self, written: dict[int, int]) -> None:
        for pid, n in written.items():
            policy = self._get(pid)
            policy.installments_written = n
            self.rows[pid] = _copy(policy)

    def save_many(self, policies: Iterable[Policy]) -> None:
        for policy in policies:
            self.save(policy)

    def earning_terms(self) -> list[EarningTerms]:
        return [EarningTerms(p.id, p.product_code, p.refund_method, p.single_premium_fen,
                             p.earned_fen, p.start_date, p.end_date, p.term_months,
                             p.refunded_fen, p.upr_base_fen, p.upr_base_on, p.loan_id,
                             p.earning)
                for p in sorted(self.rows.values(), key=lambda p: p.id)
                if p.status is PolicyStatus.IN_FORCE
                and p.single_premium_fen > p.earned_fen + p.refunded_fen]

    def set_earned(self, earned: Sequence[tuple[int, int, int]]) -> int:
        done = 0
        for pid, before, now in earned:
            policy = self._get(pid)
            if policy.earned_fen == before and policy.status is PolicyStatus.IN_FORCE:
                policy.earned_fen = now
                self.rows[pid] = _copy(policy)
                done += 1
        return done

    @property
    def _documents(self) -> dict[Any, Any]:
        return self._uow._working.tables.setdefault("policy_documents", {})

    def documents(self, policy_id: int) -> list[PolicyDocument]:
        return sorted((d for d in self._documents.values() if d.policy_id == policy_id),
                      key=lambda d: d.id)

    @property
    def _endorsements(self) -> dict[Any, Any]:
        return self._uow._working.tables.setdefault("policy_endorsements", {})

    def endorsements(self, policy_id: int) -> list[Endorsement]:
        return sorted((e for e in self._endorsements.values() if e.policy_id == policy_id),
                      key=lambda e: e.version)

    def add_endorsement(self, endorsement: Endorsement) -> Endorsement:
        if any(e.version == endorsement.version
               for e in self.endorsements(endorsement.policy_id)):
            raise Conflict(f"policy {endorsement.policy_id} has version {endorsement.version}")
        ids = self._uow._working.next_ids
        ids["policy_endorsements"] = ids.get("policy_endorsements", 0) + 1
        stored = replace(endorsement, id=ids["policy_endorsements"])
        self._endorsements[stored.id] = stored
        return stored

    def add_document(self, document: PolicyDocument) -> PolicyDocument:
        if any(d.sha256 == document.sha256 for d in self.documents(document.policy_id)):
            raise Conflict(f"policy {document.policy_id} has that document")
        ids = self._uow._working.next_ids
        ids["policy_documents"] = ids.get("policy_documents", 0) + 1
        stored = replace(document, id=ids["policy_documents"])
        self._documents[stored.id] = stored
        return stored

    def list_by_status(self, statuses: Iterable[PolicyStatus]) -> list[Policy]:
        wanted = set(statuses)
        return sorted(self._filter(lambda p: p.status in wanted), key=lambda p: p.id)

    def count_by_status(self) -> dict[PolicyStatus, int]:
        counts: dict[PolicyStatus, int] = {}
        for p in self.rows.values():
            counts[p.status] = counts.get(p.status, 0) + 1
        return counts


class _Loans(_Table):
    def add(self, loan: Loan) -> Loan:
        if self.get_by_contract(loan.funder_id, loan.contract_no) is not None:
            raise Conflict("loan contract exists")
        return self._insert(loan, "loan")

    def save(self, loan: Loan) -> None:
        self._update(loan, "loan")

    def reassign(self, loan: Loan) -> None:
        taken = self.get_by_contract(loan.funder_id, loan.contract_no)
        if taken is not None and taken.id != loan.id:
            raise Conflict("loan contract exists")
        self._update(loan, "loan")

    def reschedule(self, loan: Loan) -> None:
        self._update(loan, "loan")

    def save_if_status(self, loan: Loan, was: LoanStatus) -> bool:
        stored = self._get(loan.id)
        if stored is None or stored.status is not was:
            loan.events.clear()
            return False
        self.save(loan)
        return True

    def save_all_if_status(self, loans: Sequence[Loan], was: LoanStatus) -> bool:
        if any((stored := self._get(loan.id)) is None or stored.status is not was
               for loan in loans):
            for loan in loans:
                loan.events.clear()
            return False
        for loan in loans:
            self.save(loan)
        return True

    def get(self, loan_id: int) -> Loan | None:
        return self._get(loan_id)

    def get_by_contract(self, funder_id: int, contract_no: str) -> Loan | None:
        return self._find(lambda loan: loan.funder_id == funder_id
                          and loan.contract_no == contract_no)

    def add_many(self, loans: Sequence[Loan]) -> list[Loan]:
        return [self.add(loan) for loan in loans]

    def save_many(self, loans: Iterable[Loan]) -> None:
        for loan in loans:
            self.save(loan)

    def get_many(self, loan_ids: Iterable[int]) -> dict[int, Loan]:
        return {i: self._get(i) for i in set(loan_ids) if i in self.rows}

    def headers(self, funder_id: int, contract_nos: Iterable[str]) -> dict[str, LoanHeader]:
        wanted = set(contract_nos)
        return {loan.contract_no: LoanHeader(loan.id, loan.contract_no, loan.status,
                                             loan.start_date, loan.term_months)
                for loan in self.rows.values()
                if loan.funder_id == funder_id and loan.contract_no in wanted}

    def installments(
        self, keys: Iterable[tuple[int, int]],
    ) -> dict[tuple[int, int], Installment]:
        found = {}
        for loan_id, number in set(keys):
            loan = self.rows.get(loan_id)
            inst = loan.installment(number) if loan is not None else None
            if inst is not None:
                found[(loan_id, number)] = inst
        return found

    def refresh_first_unpaid(self, loan_ids: Iterable[int]) -> None:
        paid = self._uow.repayments.paid_totals(loan_ids)
        for loan_id in set(loan_ids):
            loan = self._get(loan_id)
            if loan is not None:
                loan.apply_repayments(paid.get(loan_id, {}))
                self.rows[loan_id] = _copy(loan)



class _Repayments(_Table):
    def add(self, repayment: Repayment, reference: str) -> Repayment:
        if self.get_by_reference(repayment.loan_id, reference) is not None:
            raise Conflict("repayment reference exists")
        stored = _replace_id(repayment, self.next_id())
        self.rows[stored.id] = (stored, reference)
        return stored

    def add_many(self, items: Sequence[tuple[Repayment, str]]) -> None:
        for repayment, reference in items:
            self.add(repayment, reference)

    def paid_totals(
        self, loan_ids: Iterable[int], numbers: Iterable[int] | None = None,
    ) -> dict[int, dict[int, tuple[int, int]]]:
        wanted = set(loan_ids)
        only = set(numbers) if numbers is not None else None
        totals: dict[int, dict[int, tuple[int, int]]] = {}
        for r, _ in self.rows.values():
            if r.loan_id in wanted and (only is None or r.installment_number in only):
                per_loan = totals.setdefault(r.loan_id, {})
                p, i = per_loan.get(r.installment_number, (0, 0))
                per_loan[r.installment_number] = (p + r.principal_fen, i + r.interest_fen)
        return totals

    def known_references(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        wanted = set(keys)
        return {(r.loan_id, ref) for r, ref in self.rows.values() if (r.loan_id, ref) in wanted}

    def for_loan(self, loan_id: int) -> list[Repayment]:
        return [r for r, _ in self.rows.values() if r.loan_id == loan_id]

    def get_by_reference(self, loan_id: int, reference: str) -> Repayment | None:
        return next((r for r, ref in self.rows.values()
                     if r.loan_id == loan_id and ref == reference), None)


class _Claims(_Table):
    def add(self, claim: Claim) -> Claim:
        if claim.reference is not None and self.get_by_reference(claim.funder_id,
                                                                 claim.reference):
            raise WriteConflict("a claim of this reference exists")
        if claim.status is not ClaimStatus.DECLINED and any(
                c.status is not ClaimStatus.DECLINED for c in self.for_policy(claim.policy_id)):
            raise WriteConflict("the policy has a claim that stands")
        return self._insert(claim, "claim")

    def save_if_unchanged(self, claim: Claim, *, status: ClaimStatus, recovered_fen: int,
                          approvals: tuple[str, ...] = ()) -> bool:
        stored = self.rows.get(claim.id)
        if stored is None or (stored.status, stored.recovered_fen, stored.approvals) != (
                status, recovered_fen, approvals):
            claim.events.clear()
            return False
        self._update(claim, "claim")
        return True

    def get_by_reference(self, funder_id: int, reference: str) -> Claim | None:
        return self._find(lambda c: c.funder_id == funder_id and c.reference == reference)

    def waiting_for_trigger(self) -> list[Claim]:
        return sorted(self._filter(lambda c: c.status is ClaimStatus.NOTIFIED),
                      key=lambda c: c.id)

    def _kept(self, name: str) -> dict[Any, Any]:
        return self._uow._working.tables.setdefault(name, {})

    def add_assessment(self, claim_id: int, assessment: Assessment, *, reason: str,
                       difference_fen: int) -> None:
        kept = self._kept("claim_assessments")
        kept[len(kept) + 1] = (claim_id, AssessmentRecord(reason, difference_fen, assessment))

    def assessments(self, claim_id: int) -> list[AssessmentRecord]:
        return [r for c, r in self._kept("claim_assessments").values() if c == claim_id]

    def add_documents(self, claim_id: int, documents: Sequence[Document]) -> None:
        kept = self._kept("claim_documents")
        for d in documents:
            kept[len(kept) + 1] = (claim_id, Document(d.reference, d.sha256.lower()))

    def documents(self, claim_id: int) -> list[Document]:
        return [d for c, d in self._kept("claim_documents").values() if c == claim_id]

    def queue(self, *, funder_id: int | None, limit: int) -> list[Claim]:
        found = self._filter(lambda c: c.status is ClaimStatus.UNDER_REVIEW
                             and (funder_id is None or c.funder_id == funder_id))
        return sorted(found, key=lambda c: (c.trigger_on or date.max, c.opened_on, c.id))[:limit]

    def vintage(self, funder_id: int, start: date, end: date) -> tuple[int, int]:
        loans = {ln.id for ln in self._uow.loans.rows.values()
                 if ln.funder_id == funder_id and start <= ln.start_date < end}
        claimed = {c.loan_id for c in self.rows.values()
                   if c.loan_id in loans and c.status is not ClaimStatus.DECLINED}
        return len(loans), len(claimed)

    def times(self, funder_id: int | None) -> list[ClaimTimes]:
        found = []
        for c in sorted(self.rows.values(), key=lambda c: c.id):
            if funder_id is not None and c.funder_id != funder_id:
                continue
            funder = self._uow.funders.get(c.funder_id)
            policy = self._uow.policies.get(c.policy_id)
            assert funder is not None and policy is not None
            found.append(ClaimTimes(funder.code, policy.product_code, c.trigger_on,
                                    c.decided_on, c.paid_on, c.approvals == (AUTOMATIC,)))
        return found

    def paid_between(self, start: date, end: date) -> list[tuple[int, date]]:
        return [(c.amount_fen, c.paid_on) for c in sorted(self._filter(
            lambda c: c.paid_on is not None and start <= c.paid_on <= end),
            key=lambda c: c.id) if c.paid_on is not None]

    def approved_through(self, funder_id: int, through: date) -> list[Claim]:
        return sorted(self._filter(
            lambda c: c.funder_id == funder_id and c.status is ClaimStatus.APPROVED
            and c.decided_on is not None and c.decided_on <= through
            and c.settlement_id is None), key=lambda c: c.id)

    def get(self, claim_id: int) -> Claim | None:
        return self._get(claim_id)

    def for_policy(self, policy_id: int) -> list[Claim]:
        return sorted(self._filter(lambda c: c.policy_id == policy_id), key=lambda c: c.id)

    def for_policies(self, policy_ids: Iterable[int]) -> dict[int, list[Claim]]:
        found: dict[int, list[Claim]] = {pid: [] for pid in policy_ids}
        for claim in sorted(self._filter(lambda c: c.policy_id in found), key=lambda c: c.id):
            found[claim.policy_id].append(claim)
        return found

    def page(self, *, status: ClaimStatus | None, funder_id: int | None, after_id: int,
             limit: int) -> list[Claim]:
        policies = self._uow._working.tables.get("policies", {})
        found = sorted(self._filter(
            lambda c: c.id > after_id and (status is None or c.status is status)
            and (funder_id is None or policies[c.policy_id].funder_id == funder_id)),
            key=lambda c: c.id)
        return found[:limit]

    def search(self, filters: ClaimFilter, request: PageRequest) -> Page[ClaimRow]:
        policies = self._uow._working.tables.get("policies", {})
        f = filters
        rows = [ClaimRow(c, policies[c.policy_id].funder_id) for c in self._filter(
            lambda c: (f.status is None or c.status is f.status)
            and (f.funder_id is None or policies[c.policy_id].funder_id == f.funder_id)
            and (f.opened_from is None or c.opened_on >= f.opened_from)
            and (f.opened_to is None or c.opened_on <= f.opened_to))]
        key = {"id": lambda r: (r.claim.id,), "opened": lambda r: (r.claim.opened_on, r.claim.id),
               "amount": lambda r: (r.claim.amount_fen, r.claim.id),
               "status": lambda r: (r.claim.status.value, r.claim.id)}[request.sort]
        rows.sort(key=key, reverse=request.descending)
        return Page(rows[request.offset:request.offset + request.size], len(rows), request)


class _FunderStatements(_Table):
    def add(self, statement: FunderStatement) -> FunderStatement:
        if self.for_cycle(statement.funder_id, statement.cycle_to) is not None \
                or self.by_reference(statement.bank_reference or "") is not None:
            raise WriteConflict("the funder's cycle is settled")
        stored = replace(statement, id=self.next_id())
        self.rows[stored.id] = stored
        return stored

    def for_cycle(self, funder_id: int, cycle_to: date) -> FunderStatement | None:
        return next((s for s in self.rows.values()
                     if s.funder_id == funder_id and s.cycle_to == cycle_to), None)

    def for_funder(self, funder_id: int) -> list[FunderStatement]:
        return sorted((replace(s, claim_batches=()) for s in self.rows.values()
                       if s.funder_id == funder_id), key=lambda s: s.cycle_to)

    def by_reference(self, bank_reference: str) -> FunderStatement | None:
        return next((s for s in self.rows.values() if s.bank_reference == bank_reference),
                    None)


class _Settlements(_Table):
    def add(self, settlement: Settlement) -> Settlement:
        if self.for_cycle(settlement.funder_id, settlement.cycle_to) is not None:
            raise WriteConflict("the funder's cycle is settled")
        stored = replace(settlement, id=self.next_id())
        self.rows[stored.id] = stored
        return stored

    def get(self, settlement_id: int) -> Settlement | None:
        return self.rows.get(settlement_id)

    def for_cycle(self, funder_id: int, cycle_to: date) -> Settlement | None:
        return next((s for s in self.rows.values()
                     if s.funder_id == funder_id and s.cycle_to == cycle_to), None)

    def paid_between(self, funder_id: int, first: date, last: date) -> list[Settlement]:
        return sorted((s for s in self.rows.values()
                       if s.funder_id == funder_id and first <= s.paid_on <= last),
                      key=lambda s: (s.paid_on, s.id))

    def newest(self, funder_id: int | None, limit: int) -> list[Settlement]:
        found = [s for s in self.rows.values() if funder_id is None or s.funder_id == funder_id]
        return sorted(found, key=lambda s: -s.id)[:limit]

    def lines(self, settlement_id: int) -> list[SettledClaim]:
        found = []
        for claim in sorted(self._uow.claims._filter(lambda c: c.settlement_id == settlement_id),
                            key=lambda c: c.id):
            policy = self._uow.policies.get(claim.policy_id)
            loan = self._uow.loans.get(claim.loan_id)
            assert policy is not None and loan is not None
            found.append(SettledClaim(claim, policy.policy_no, loan.contract_no,
                                      policy.product_code))
        return found


class _Recoveries(_Table):
    def add(self, recovery: Recovery, reference: str) -> Recovery:
        if self.get_by_reference(recovery.claim_id, reference) is not None:
            raise Conflict("recovery reference exists")
        stored = _replace_id(recovery, self.next_id())
        self.rows[stored.id] = (stored, reference)
        return stored

    def for_claim(self, claim_id: int) -> list[Recovery]:
        return [r for r, _ in self.rows.values() if r.claim_id == claim_id]

    def get_by_reference(self, claim_id: int, reference: str) -> Recovery | None:
        return next((r for r, ref in self.rows.values()
                     if r.claim_id == claim_id and ref == reference), None)

    @property
    def _rights(self) -> dict[Any, Any]:
        return self._uow._working.tables.setdefault("recovery_rights", {})

    def add_right(self, right: RecoveryRight) -> RecoveryRight:
        if self.right_for(right.claim_id) is not None:
            raise Conflict(f"claim {right.claim_id} has its recovery right")
        ids = self._uow._working.next_ids
        ids["recovery_rights"] = right.id = ids.get("recovery_rights", 0) + 1
        self._drain(right)
        self._rights[right.id] = _copy(right)
        return right

    def save_right(self, right: RecoveryRight) -> None:
        self._drain(right)
        self._rights[right.id] = _copy(right)

    def right_for(self, claim_id: int) -> RecoveryRight | None:
        found = next((r for r in self._rights.values() if r.claim_id == claim_id), None)
        return _copy(found) if found is not None else None

    def rights(self, *, status: RightStatus | None, funder_id: int | None,
               limit: int) -> list[RightRow]:
        claims = self._uow.claims
        found = []
        for right in sorted(self._rights.values(), key=lambda r: (r.opened_on, r.id)):
            if status is not None and right.status is not status:
                continue
            if funder_id is not None and right.funder_id != funder_id:
                continue
            claim = claims.get(right.claim_id)
            policy = self._uow.policies.get(right.policy_id)
            loan = self._uow.loans.get(right.loan_id)
            assert claim is not None and policy is not None and loan is not None
            found.append(RightRow(_copy(right), claim.recovered_fen, policy.policy_no,
                                  loan.contract_no))
        return found[:limit]


class _Ledger(_Table):
    def add(self, entry: JournalEntry) -> JournalEntry:
        if self.get_by_key(entry.source_command, entry.idempotency_key) is not None:
            raise Conflict(f"entry {entry.key} exists")
        stored = entry.with_id(self.next_id())
        self.rows[stored.id] = stored
        return stored

    def get(self, entry_id: int) -> JournalEntry | None:
        return self.rows.get(entry_id)

    def get_by_key(self, source_command: str, idempotency_key: str) -> JournalEntry | None:
        return next((e for e in self.rows.values() if e.source_command == source_command
                     and e.idempotency_key == idempotency_key), None)

    def reversal_of(self, entry_id: int) -> JournalEntry | None:
        return next((e for e in self.rows.values() if e.reverses_id == entry_id), None)

    def lines(self, *, through: date | None = None) -> Iterable[Line]:
        for e in self.rows.values():
            if through is None or e.posted_on <= through:
                yield from e.lines

    def party_totals(self, party: str, *, posted_from: date, posted_to: date,
                     ) -> list[tuple[str, str, int]]:
        totals: dict[tuple[str, str], int] = {}
        for e in self.rows.values():
            if posted_from <= e.posted_on <= posted_to:
                for line in e.lines:
                    if line.party == party:
                        key = (e.source_command, line.account)
                        totals[key] = totals.get(key, 0) + line.amount_fen
        return [(source, account, total) for (source, account), total
                in sorted(totals.items())]

    def monthly_totals(self) -> list[tuple[int, int, str, int]]:
        totals: dict[tuple[int, int, str], int] = {}
        for e in self.rows.values():
            for line in e.lines:
                key = (e.posted_on.year, e.posted_on.month, line.account)
                totals[key] = totals.get(key, 0) + line.amount_fen
        return [(*k, v) for k, v in sorted(totals.items())]

    def entries(self, *, reference: str | None = None) -> Sequence[JournalEntry]:
        return [e for e in sorted(self.rows.values(), key=lambda e: e.id)
                if reference is None or e.reference == reference]

    def page(self, where: EntryFilter, request: PageRequest) -> Page[JournalEntry]:
        chosen = [e for e in self.rows.values()
                  if (where.account is None or any(ln.account == where.account
                                                   for ln in e.lines))
                  and (where.posted_from is None or e.posted_on >= where.posted_from)
                  and (where.posted_to is None or e.posted_on <= where.posted_to)
                  and (where.reference is None or e.reference == where.reference)]
        chosen.sort(key=lambda e: (e.posted_on, e.id) if request.sort == "date" else (e.id,),
                    reverse=request.descending)
        return Page(chosen[request.offset:request.offset + request.size], len(chosen), request)


class _Events(_Table):
    """The audit trail: chained as events arrive (the SQL log chains them at commit; either
    way a rolled-back unit of work leaves nothing)."""

    def add(self, events: Iterable[Event]) -> None:
        head = self._uow._working.tables.setdefault("audit_head", {}).get(1, (0, GENESIS))
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        records = chain((AuditRecord(0, e.name, e.aggregate, e.aggregate_id, e.on, now,
                                     self._uow.actor.actor, json_safe(e.data))
                         for e in events), after_seq=head[0], after_hash=head[1])
        for record in records:
            self.rows[self.next_id()] = record
        if records:
            self._uow._working.tables["audit_head"][1] = (records[-1].seq, records[-1].hash)

    def list(self, *, aggregate: str | None = None, aggregate_id: int | None = None) -> list[Event]:
        return [Event(r.name, r.aggregate, r.aggregate_id, r.occurred_on, r.data)
                for _, r in sorted(self.rows.items())
                if (aggregate is None or r.aggregate == aggregate)
                and (aggregate_id is None or r.aggregate_id == aggregate_id)]

    def makers(self, aggregate: str, aggregate_ids: Iterable[int],
               names: Iterable[str]) -> dict[int, set[str]]:
        wanted, ids = set(names), set(aggregate_ids)
        found: dict[int, set[str]] = {i: set() for i in ids}
        for r in self.rows.values():
            if r.aggregate == aggregate and r.aggregate_id in ids and r.name in wanted:
                found[r.aggregate_id].add(r.actor)
        return found

    def records(self, *, actor: str | None = None, limit: int | None = None,
                newest_first: bool = False) -> Iterator[AuditRecord]:
        chosen = [r for _, r in sorted(self.rows.items(), reverse=newest_first)
                  if actor is None or r.actor == actor]
        return iter(chosen[:limit] if limit is not None else chosen)

    def head(self) -> tuple[int, str]:
        return self._uow._working.tables.get("audit_head", {}).get(1, (0, GENESIS))


class _Users(_Table):
    def add(self, user: User) -> User:
        if self.get_by_username(user.username) is not None:
            raise Conflict(f"user {user.username} exists")
        return self._insert(user, "user")

    def save(self, user: User) -> None:
        self._update(user, "user")

    def get(self, user_id: int) -> User | None:
        return self._get(user_id)

    def get_by_username(self, username: str) -> User | None:
        return self._find(lambda u: u.username == username)

    def list(self) -> list[User]:
        return sorted(self._all(), key=lambda u: u.username)


class _Clients(_Table):
    def add(self, client: ApiClient) -> ApiClient:
        if self.get_by_client_id(client.client_id) is not None:
            raise Conflict(f"client {client.client_id} exists")
        return self._insert(client, "api_client")

    def save(self, client: ApiClient) -> None:
        self._update(client, "api_client")

    def save_if_rotated_at(self, client: ApiClient, was: datetime | None) -> bool:
        if self.rows[client.id].rotated_at != was:
            return False
        self.save(client)
        return True

    def get_by_client_id(self, client_id: str) -> ApiClient | None:
        return self._find(lambda c: c.client_id == client_id)

    def list(self) -> list[ApiClient]:
        return sorted(self._all(), key=lambda c: c.client_id)


class _Sessions(_Table):
    def add(self, session: Session) -> Session:
        return self._insert(session, "session")

    def save(self, session: Session) -> None:
        self._update(session, "session")

    def get_by_token_hash(self, token_hash: str) -> Session | None:
        return self._find(lambda s: s.token_hash == token_hash)

    def revoke_all(self, user_id: int) -> int:
        live = [s for s in self._all() if s.user_id == user_id and not s.revoked]
        for session in live:
            session.revoked = True
            self.rows[session.id] = session
        return len(live)


class _Idempotency(_Table):
    def get(self, scope: str, key: str) -> StoredResponse | None:
        return self.rows.get((scope, key))

    def add_once(self, response: StoredResponse, now: datetime) -> StoredResponse:
        return self.rows.setdefault((response.scope, response.key), response)


class _Risk(_Table):
    """Anti-fraud look-ups and exposure rows over the fake's applications and policies (values
    compared in clear: the fake has no cipher)."""

    def _apps(self) -> dict[int, Application]:
        """The stored applications by id."""
        return dict(self._uow._working.tables.get("applications", {}))

    def sightings(self, asks: Mapping[str, tuple[Iterable[str], date]],
                  end: date) -> dict[str, dict[str, list[Sighting]]]:
        out: dict[str, dict[str, list[Sighting]]] = {}
        for name, (values, start) in asks.items():
            wanted = set(values)
            found = out[name] = {}
            for a_id, a in self._apps().items():
                v = a.value_of(name)
                if v in wanted and start <= a.applied_on <= end:
                    found.setdefault(v, []).append(Sighting(a_id, a.applied_on, a.funder_id))
        return out

    def neighbourhood(self, application_ids: Sequence[int], on: date, *, hops: int = 2,
                      limit: int = 500) -> list[Node]:
        apps = self._apps()
        policies = self._uow._working.tables.get("policies", {}).values()
        loans = self._uow._working.tables.get("loans", {})
        overdue: set[int] = set()
        for p in policies:
            loan = loans.get(p.loan_id) if p.loan_id else None
            if loan is not None and loan.first_unpaid_due_date is not None \
                    and loan.first_unpaid_due_date < on:
                overdue.add(p.application_id)
        chosen = [i for i in application_ids if i in apps][:limit]
        seen = set(chosen)
        frontier = list(chosen)
        for _ in range(hops):
            values = {(f, apps[i].value_of(f)) for i in frontier for f in LINK_FIELDS}
            values = {(f, v) for f, v in values if v}
            nxt = [i for i, a in apps.items() if i not in seen
                   and any((f, a.value_of(f)) in values for f in LINK_FIELDS)]
            nxt = nxt[:max(limit - len(seen), 0)]
            seen.update(nxt)
            frontier = nxt
        return [Node(i, {f: apps[i].value_of(f) for f in LINK_FIELDS}, i in overdue)
                for i in sorted(seen)]

    def exposure_rows(self) -> list[ExposureRow]:
        tables = self._uow._working.tables
        apps, funders = tables.get("applications", {}), tables.get("funders", {})
        loans = tables.get("loans", {})
        repaid: dict[int, int] = {}
        for r in tables.get("repayments", {}).values():
            repaid[r.loan_id] = repaid.get(r.loan_id, 0) + r.principal_fen
        out = []
        for p in tables.get("policies", {}).values():
            if p.status not in (PolicyStatus.QUOTED, PolicyStatus.ISSUED,
                                PolicyStatus.IN_FORCE):
                continue
            a = apps[p.application_id]
            enterprise = a.borrower.kind.value == "enterprise"
            number = a.borrower.id_number
            out.append(ExposureRow(
                obligor=number, enterprise=enterprise, funder=funders[p.funder_id].code,
                region=region_of(number, enterprise=enterprise), industry=a.profile.industry,
                product=p.product_code,
                principal_fen=max((loans[p.loan_id].principal_fen if p.loan_id in loans
                                   else p.principal_insured_fen)
                                  - repaid.get(p.loan_id or 0, 0), 0),
                coverage_share=p.coverage_share))
        return out

    def obligor_key(self, id_number: str) -> str:
        return id_number


class _Blacklist(_Table):
    """Rows: (field, value) -> (entry, active)."""

    def listed(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        return {pair for pair in pairs if pair in self.rows and self.rows[pair][1]}

    def add(self, name: str, value: str, *, reason: str, on: date, by: str) -> bool:
        before = self.rows.get((name, value))
        entry = ListedValue(before[0].id if before else len(self.rows) + 1, name, value[:12],
                            reason, on, by)
        self.rows[(name, value)] = (entry, True)
        return before is None or not before[1]

    def remove(self, name: str, value: str) -> bool:
        row = self.rows.get((name, value))
        if row is None or not row[1]:
            return False
        self.rows[(name, value)] = (row[0], False)
        return True

    def entries(self) -> list[ListedValue]:
        return [entry for entry, active in self.rows.values() if active]


class _Counters(_Table):
    BASIS = ("__basis__", "")

    def get(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Counter]:
        return {k: self.rows[k] for k in keys if k in self.rows and k != self.BASIS}

    def basis(self) -> tuple[int, date] | None:
        return self.rows.get(self.BASIS)

    def lock(self, on: date) -> tuple[int, date] | None:
        return self.basis()

    def ensure(self, counters: Iterable[Counter], *, basis_fen: int, on: date) -> None:
        for c in counters:
            self.rows.setdefault((c.dimension, c.key), c)
        self.rows.setdefault(self.BASIS, (basis_fen, on))

    def reserve(self, keys: Sequence[tuple[str, str]], amount_fen: int) -> bool:
        return self.reserve_many(dict.fromkeys(keys, amount_fen))

    def reserve_many(self, amounts: Mapping[tuple[str, str], int]) -> bool:
        wanted = sorted(amounts)
        if any(k not in self.rows for k in wanted):
            raise KeyError(f"no limit counter {next(k for k in wanted if k not in self.rows)}")
        if any(self.rows[k].used_fen + amounts[k] > self.rows[k].cap_fen for k in wanted
               if amounts[k]):
            return False
        for k in wanted:
            c = self.rows[k]
            self.rows[k] = Counter(c.dimension, c.key, c.cap_fen, c.used_fen + amounts[k])
        return True

    def replace_all(self, counters: Iterable[Counter], *, basis_fen: int, on: date) -> None:
        kept = {k: Counter(c.dimension, c.key, c.cap_fen, 0) for k, c in self.rows.items()
                if k != self.BASIS and c.dimension != "obligor"}
        self.rows.clear()
        self.rows.update(kept)
        for c in counters:
            self.rows[(c.dimension, c.key)] = c
        self.rows[self.BASIS] = (basis_fen, on)
        self.rows.setdefault(("retained", "all"), Counter("retained", "all", 0, 0))

    def all(self) -> list[Counter]:
        return sorted((c for k, c in self.rows.items() if k != self.BASIS),
                      key=lambda c: (c.dimension, c.key))

    def fullest(self) -> list[Counter]:
        top: dict[str, Counter] = {}
        for c in self.all():
            if c.dimension not in top or c.used_fen > top[c.dimension].used_fen:
                top[c.dimension] = c
        return list(top.values())


class _Decisions(_Table):
    def _drain_record(self, record: DecisionRecord) -> None:
        if record.events:
            self._uow.events.add(Event(e.name, e.aggregate, record.application_id, e.on,
                                       e.data) for e in record.events)
            record.events.clear()

    def add_many(self, records: Sequence[DecisionRecord]) -> None:
        for r in records:
            self._drain_record(r)
            self.rows[r.application_id] = _copy(r)

    def save(self, record: DecisionRecord) -> None:
        self._drain_record(record)
        self.rows[record.application_id] = _copy(record)

    def get(self, application_id: int) -> DecisionRecord | None:
        return self._get(application_id)

    def pending(self, *, funder_id: int | None, after_id: int,
                limit: int) -> list[DecisionRecord]:
        apps = self._uow._working.tables.get("applications", {})
        found = sorted((r for r in self.rows.values() if not r.final
                        and r.application_id > after_id
                        and (funder_id is None
                             or apps[r.application_id].funder_id == funder_id)),
                       key=lambda r: r.application_id)
        return [_copy(r) for r in found[:limit]]

    def count_pending(self, *, funder_id: int | None, reason_code: str | None = None) -> int:
        return sum(1 for r in self.pending(funder_id=funder_id, after_id=0, limit=len(self.rows))
                   if reason_code is None or reason_code in r.reason_codes)

    def pending_page(self, *, funder_id: int | None,
                     request: PageRequest) -> Page[DecisionRecord]:
        apps = self._uow._working.tables.get("applications", {})
        key = {"id": lambda r: (r.application_id,),
               "date": lambda r: (r.decided_on, r.application_id),
               "amount": lambda r: (r.approved_fen, r.application_id)}[request.sort]
        found = sorted((r for r in self.rows.values() if not r.final
                        and funder_id in (None, apps[r.application_id].funder_id)),
                       key=key, reverse=request.descending)
        return Page([_copy(r) for r in found[request.offset:request.offset + request.size]],
                    len(found), request)


class _Retention(_Table):
    def retention_due(self, cutoff: date, *, limit: int) -> list[int]:
        done = self._uow._working.tables.setdefault("anonymized", {})
        closed_on = {r.aggregate_id: r.occurred_on
                     for r in self._uow._working.tables.get("events", {}).values()
                     if r.aggregate == "policy" and r.name == "PolicyClosed"}
        closed_apps = {p.application_id
                       for p in self._uow._working.tables.get("policies", {}).values()
                       if p.status is PolicyStatus.CLOSED and p.id in closed_on
                       and closed_on[p.id] < cutoff}
        due = [a.id for a in self._uow.applications.rows.values() if a.id not in done and (
            (a.status is ApplicationStatus.DECLINED and a.decided_on is not None
             and a.decided_on < cutoff) or a.id in closed_apps)]
        return sorted(due)[:limit]

    def anonymize(self, application_ids: Sequence[int], on: date) -> int:
        from dataclasses import replace

        done = self._uow._working.tables.setdefault("anonymized", {})
        changed = [i for i in application_ids if i in self._uow.applications.rows and i not in done]
        for i in changed:
            app = _copy(self._uow.applications.rows[i])
            app.borrower = replace(app.borrower, name=ANONYMIZED_NAME, id_number=ANONYMIZED,
                                   phone=ANONYMIZED, bank_card=None, birth_date=None)
            self._uow.applications.rows[i] = app
            done[i] = on
        policies = self._uow._working.tables.get("policies", {})
        for pid, policy in list(policies.items()):
            if policy.application_id in changed:
                policies[pid] = replace(_copy(policy), borrower_id_number=ANONYMIZED)
        return len(changed)


class _AuditTrail(_Table):
    """Pages of the records ``_Events`` keeps (the same rows, read only)."""

    def page(self, where: AuditFilter, request: PageRequest) -> Page[AuditRecord]:
        stored = self._uow._working.tables.get("events", {})
        chosen = [(i, r) for i, r in stored.items()
                  if (where.aggregate is None or r.aggregate == where.aggregate)
                  and (where.aggregate_id is None or r.aggregate_id == where.aggregate_id)
                  and (where.name is None or r.name == where.name)
                  and (where.actor is None or r.actor == where.actor)]
        chosen.sort(key=lambda ir: (ir[1].occurred_on, ir[0]) if request.sort == "date"
                    else (ir[0],), reverse=request.descending)
        rows = [r for _, r in chosen[request.offset:request.offset + request.size]]
        return Page(rows, len(chosen), request)


class _Reporting(_Table):
    def vintage_rows(self) -> list[tuple[int, date, date | None]]:
        first: dict[int, date] = {}
        for c in self._uow.claims.rows.values():
            if c.policy_id not in first or c.opened_on < first[c.policy_id]:
                first[c.policy_id] = c.opened_on
        return sorted((p.id, p.start_date, first.get(p.id))
                      for p in self._uow.policies.rows.values() if p.start_date is not None)

    def policy_figures(self) -> list[PolicyFigures]:
        paid: dict[int, tuple[int, int]] = {}
        for c in self._uow.claims.rows.values():
            if c.status in (ClaimStatus.PAID, ClaimStatus.RECOVERING, ClaimStatus.CLOSED):
                amount, recovered = paid.get(c.policy_id, (0, 0))
                paid[c.policy_id] = (amount + c.amount_fen, recovered + c.recovered_fen)
        return [PolicyFigures(
            p.id, p.product_code, p.mode.value, p.status.value, p.sum_insured_fen,
            p.single_premium_fen - p.refunded_fen
            + p.installment_premium_fen * p.installments_written, *paid.get(p.id, (0, 0)))
            for p in sorted(self._uow.policies.rows.values(), key=lambda p: p.id)
            if p.status is not PolicyStatus.QUOTED]


def _replace_id(obj: Any, new_id: int) -> Any:
    from dataclasses import replace

    return replace(obj, id=new_id)


class InMemoryUnitOfWork:
    """A unit of work over a dict store; ``commit`` publishes the working copy.

    Units of work made with the same ``store`` see one another's commits, like connections
    to one database.
    """

    def __init__(self, store: Store | None = None, *, actor: Principal | None = None) -> None:
        self._store = store or Store()
        self.actor = actor or system()
        self._working = self._store
        self.commits = 0
        self.products = _Products(self, "products")
        self.funders = _Funders(self, "funders")
        self.applications = _Applications(self, "applications")
        self.policies = _Policies(self, "policies")
        self.loans = _Loans(self, "loans")
        self.repayments = _Repayments(self, "repayments")
        self.claims = _Claims(self, "claims")
        self.recoveries = _Recoveries(self, "recoveries")
        self.settlements = _Settlements(self, "claim_settlements")
        self.funder_statements = _FunderStatements(self, "funder_statements")
        self.ledger = _Ledger(self, "ledger")
        self.events = _Events(self, "events")
        self.users = _Users(self, "users")
        self.clients = _Clients(self, "clients")
        self.sessions = _Sessions(self, "sessions")
        self.idempotency = _Idempotency(self, "idempotency")
        self.risk = _Risk(self, "risk")
        self.blacklist = _Blacklist(self, "blacklist")
        self.counters = _Counters(self, "risk_counters")
        self.decisions = _Decisions(self, "decisions")
        self.retention = _Retention(self, "retention")
        self.audit = _AuditTrail(self, "audit")
        self.reporting = _Reporting(self, "reporting")

    def __enter__(self) -> Self:
        self._working = self._store.snapshot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def commit(self) -> None:
        self._store.tables = self._working.tables
        self._store.next_ids = self._working.next_ids
        self._working = self._store.snapshot()
        self.commits += 1

    def rollback(self) -> None:
        self._working = self._store.snapshot()


if TYPE_CHECKING:
    # mypy proves here that the fake is every context's unit of work, as the SQL one is,
    # but servicing's: the end-of-day batch's set questions are answered in SQL only (tests
    # of the batch run on SQLite), so the fake has no ``end_of_day``.
    _risk: type[risk.UnitOfWork] = InMemoryUnitOfWork
    _reporting: type[reporting.UnitOfWork] = InMemoryUnitOfWork
    _compliance: type[compliance.UnitOfWork] = InMemoryUnitOfWork
    _accounts: type[iam.AccountsUnitOfWork] = InMemoryUnitOfWork
    _idempotent: type[platform.IdempotentUnitOfWork] = InMemoryUnitOfWork
