"""SQL repositories: rows in, domain objects out, through one connection they never commit."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from xinbao.adapters import orm
from xinbao.adapters.crypto import PiiCipher
from xinbao.adapters.prepared import Prepared
from xinbao.adapters.risk_repositories import (
    collateral_from_json,
    evidence_from_json,
    profile_columns,
)
from xinbao.adapters.sql_lists import in_list
from xinbao.domain.accounts import ApiClient, Session, User, decode_roles, encode_roles
from xinbao.domain.audit import AuditRecord, chain, json_safe
from xinbao.domain.claims import Claim, ClaimStatus, Recovery
from xinbao.domain.events import Event
from xinbao.domain.ledger import JournalEntry, Line
from xinbao.domain.loans import Installment, Loan, LoanStatus, Repayment
from xinbao.domain.parties import (
    ANONYMIZED,
    ANONYMIZED_NAME,
    Borrower,
    Funder,
    FunderKind,
    InsuranceMode,
    PartyKind,
    PolicyRole,
    Roles,
)
from xinbao.domain.policy import Policy, PolicyStatus
from xinbao.domain.products import (
    PremiumBasis,
    Product,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)
from xinbao.domain.underwriting import Application, ApplicationStatus, Profile
from xinbao.services.unit_of_work import LoanHeader, PremiumTerms, StoredResponse


def _codes(text: str) -> tuple[str, ...]:
    return tuple(c for c in text.split(",") if c)


#: UPDATE statements by (table, columns): built once, reused by every save.
_UPDATES: dict[tuple[str, tuple[str, ...]], Prepared] = {}


@functools.cache
def _hot() -> dict[str, Prepared]:
    """Statements of the busiest paths (a decision, a request's client), built once and run
    on the driver's cursor (``adapters.prepared``): building a statement and its cache key,
    or SQLAlchemy's execution path, costs more than running it on an indexed row."""
    a, h, e = orm.applications, orm.audit_head, orm.domain_events
    return {name: Prepared(statement) for name, statement in {
        "applications": select(a).where(in_list(a.c.id, "ids")),
        "product": select(orm.products).where(orm.products.c.code == bindparam("code"),
                                              orm.products.c.version == bindparam("version")),
        "funder": select(orm.funders).where(orm.funders.c.id == bindparam("id")),
        "client": select(orm.api_clients).where(
            orm.api_clients.c.client_id == bindparam("client_id")),
        "head": select(h.c.seq, h.c.hash).where(h.c.id == 1).with_for_update(),
        "move_head": update(h).where(h.c.id == 1).values(seq=bindparam("seq"),
                                                         hash=bindparam("hash")),
        "events": insert(orm.domain_events),
        "makers": select(e.c.aggregate_id, e.c.actor).where(
            e.c.aggregate == bindparam("aggregate"),
            in_list(e.c.aggregate_id, "ids"), in_list(e.c.name, "names")),
        "last_rowid": select(func.last_insert_rowid().label("id")),
    }.items()}


#: INSERT statements by table, for ``_insert_many`` on SQLite.
_INSERTS: dict[str, Prepared] = {}


def _insert_of(table: Any) -> Prepared:
    statement = _INSERTS.get(table.name)
    if statement is None:
        statement = _INSERTS[table.name] = Prepared(insert(table))
    return statement


def _ids(name: str) -> Any:
    """An expanding IN parameter: one compiled statement serves any number of keys."""
    return bindparam(name, expanding=True)


@functools.cache
def _statements() -> dict[str, Any]:
    """The statements of the per-file hot paths, built and compiled once.

    Building a statement per call costs more than running it on SQLite; these are executed
    with parameters only.
    """
    ln, i, r, e = orm.loans, orm.installments, orm.repayments, orm.journal_entries
    p = orm.policies
    paid_principal = (select(func.coalesce(func.sum(r.c.principal_fen), 0))
                      .where(r.c.loan_id == i.c.loan_id,
                             r.c.installment_number == i.c.number).scalar_subquery())
    paid_interest = (select(func.coalesce(func.sum(r.c.interest_fen), 0))
                     .where(r.c.loan_id == i.c.loan_id,
                            r.c.installment_number == i.c.number).scalar_subquery())
    # Installments before the current first unpaid one are paid (repayments are never taken
    # back), so the search starts there and stops at the first unpaid one.
    first_unpaid = (select(i.c.due_date)
                    .where(i.c.loan_id == ln.c.id, i.c.due_date >= ln.c.first_unpaid_due_date,
                           (i.c.principal_fen > paid_principal)
                           | (i.c.interest_fen > paid_interest))
                    .order_by(i.c.number).limit(1).scalar_subquery())
    terms = (p.c.id, p.c.loan_id, p.c.funder_id, p.c.installment_premium_fen,
             p.c.installments_written, p.c.term_months)
    totals = (select(r.c.loan_id, r.c.installment_number, func.sum(r.c.principal_fen),
                     func.sum(r.c.interest_fen))
              .where(r.c.loan_id.in_(_ids("loans")))
              .group_by(r.c.loan_id, r.c.installment_number))
    return {
        "headers": select(ln.c.id, ln.c.contract_no, ln.c.status, ln.c.start_date,
                          ln.c.term_months)
        .where(ln.c.funder_id == bindparam("funder"), ln.c.contract_no.in_(_ids("contracts"))),
        # A row-value IN alone defeats SQLite's index: loan_id IN picks the rows by index,
        # the row values keep only the named installments.
        "installments": select(i.c.loan_id, i.c.number, i.c.due_date, i.c.principal_fen,
                               i.c.interest_fen)
        .where(i.c.loan_id.in_(_ids("loans")), tuple_(i.c.loan_id, i.c.number).in_(_ids("keys"))),
        "refresh": update(ln).where(ln.c.id.in_(_ids("loans")),
                                    ln.c.first_unpaid_due_date.is_not(None))
        .values(first_unpaid_due_date=first_unpaid),
        "totals": totals,
        "totals_of": totals.where(r.c.installment_number.in_(_ids("numbers"))),
        "references": select(r.c.loan_id, r.c.reference)
        .where(r.c.loan_id.in_(_ids("loans")), r.c.reference.in_(_ids("refs"))),
        "terms_by_loan": select(*terms).where(p.c.loan_id.in_(_ids("keys"))),
        "terms_by_id": select(*terms).where(p.c.id.in_(_ids("keys"))),
        "funder_by_code": select(orm.funders).where(orm.funders.c.code == bindparam("code")),
        "entry_by_key": select(e).where(e.c.source_command == bindparam("source"),
                                        e.c.idempotency_key == bindparam("key")),
        "lines_of": select(orm.journal_lines)
        .where(orm.journal_lines.c.entry_id.in_(_ids("entries")))
        .order_by(orm.journal_lines.c.id),
    }


#: Keys per IN (...) list: below every backend's limit on bound parameters.
_CHUNK = 900


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


class _Repository:
    def __init__(self, connection: Connection, events: SqlEventLog | None = None,
                 cipher: PiiCipher | None = None) -> None:
        self._c = connection
        self._events = events
        self._cipher = cipher

    def _drain(self, obj: Any) -> None:
        self._drain_many([obj])

    def _insert(self, table: Any, values: dict[str, Any]) -> int:
        # A plain insert() with parameters compiles once and is cached; .values() would not be.
        return self._c.execute(insert(table), values).inserted_primary_key[0]

    def _insert_many(self, table: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert rows in one statement batch; their new ids, in the rows' order."""
        if not rows:
            return []
        if self._c.dialect.name == "sqlite":
            # SQLite gives each inserted row the next rowid (one more than the table's
            # largest), in the order the rows are sent, while this transaction holds the
            # database's only write lock: the new ids are the last one's and those before it.
            added = _insert_of(table).execute_many(self._c, rows)
            last = _hot()["last_rowid"].one(self._c).id
            if added != len(rows):
                raise RuntimeError(f"{table.name}: {added} of {len(rows)} rows were inserted")
            return list(range(last - len(rows) + 1, last + 1))
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(self._c.execute(statement, list(rows)).scalars())

    def _drain_many(self, objects: Iterable[Any]) -> None:
        pending: list[Event] = []
        for obj in objects:
            events = getattr(obj, "events", None)
            if events:
                pending += [Event(e.name, e.aggregate,
                                  e.aggregate_id if e.aggregate_id is not None else obj.id,
                                  e.on, e.data) for e in events]
                events.clear()
        if pending and self._events is not None:
            self._events.add(pending)

    @property
    def _pii(self) -> PiiCipher:
        if self._cipher is None:
            raise RuntimeError(f"{type(self).__name__} stores personal data: give it a cipher")
        return self._cipher

    def _update_rows(self, table: Any, rows: Sequence[dict[str, Any]]) -> None:
        """UPDATE by id, many rows in one executemany (each dict holds "id" and the values)."""
        if not rows:
            return
        columns = tuple(k for k in rows[0] if k != "id")
        statement = _UPDATES.get((table.name, columns))
        if statement is None:
            statement = Prepared(update(table).where(table.c.id == bindparam("b_id"))
                                 .values({c: bindparam(f"b_{c}") for c in columns}))
            _UPDATES[(table.name, columns)] = statement
        statement.execute_many(self._c, [{f"b_{k}": v for k, v in row.items()}
                                         for row in rows])


class SqlEventLog(_Repository):
    """The audit trail. Events wait in the unit of work and are chained onto the log in one
    batch when it commits, under a lock on the chain's head row (PostgreSQL ``FOR UPDATE``;
    SQLite has one writer), so concurrent writers cannot fork the chain."""

    def __init__(self, connection: Connection, actor: str) -> None:
        super().__init__(connection)
        self._actor = actor
        self._pending: list[Event] = []

    def add(self, events: Iterable[Event]) -> None:
        self._pending.extend(events)

    def discard(self) -> None:
        self._pending.clear()

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        head = _hot()["head"].one(self._c)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        records = chain((AuditRecord(0, e.name, e.aggregate, e.aggregate_id, e.on, now,
                                     self._actor, json_safe(e.data)) for e in pending),
                        after_seq=head.seq, after_hash=head.hash)
        _hot()["events"].execute_many(self._c, [
            {"name": r.name, "aggregate": r.aggregate, "aggregate_id": r.aggregate_id,
             "occurred_on": r.occurred_on, "data": r.data, "seq": r.seq,
             "recorded_at": r.recorded_at, "actor": r.actor, "prev_hash": r.prev_hash,
             "hash": r.hash} for r in records])
        _hot()["move_head"].execute(self._c, {"seq": records[-1].seq,
                                               "hash": records[-1].hash})

    def list(self, *, aggregate: str | None = None, aggregate_id: int | None = None) -> list[Event]:
        self.flush()
        t = orm.domain_events
        q = select(t).order_by(t.c.id)
        if aggregate is not None:
            q = q.where(t.c.aggregate == aggregate)
        if aggregate_id is not None:
            q = q.where(t.c.aggregate_id == aggregate_id)
        return [Event(r.name, r.aggregate, r.aggregate_id, r.occurred_on, r.data)
                for r in self._c.execute(q)]

    def makers(self, aggregate: str, aggregate_ids: Iterable[int],
               names: Iterable[str]) -> dict[int, set[str]]:
        self.flush()
        found: dict[int, set[str]] = {i: set() for i in aggregate_ids}
        wanted = list(names)  # read once: every chunk asks for the same names
        for chunk in _chunks(found):
            rows = _hot()["makers"].all(self._c, {"aggregate": aggregate, "ids": chunk,
                                                      "names": wanted})
            for aggregate_id, actor in rows:
                found[aggregate_id].add(actor)
        return found

    def records(self, *, actor: str | None = None, limit: int | None = None,
                newest_first: bool = False) -> Iterator[AuditRecord]:
        self.flush()
        t = orm.domain_events
        q = select(t).order_by(t.c.id.desc() if newest_first else t.c.id)
        if actor is not None:
            q = q.where(t.c.actor == actor)
        if limit is not None:
            q = q.limit(limit)
        for r in self._c.execute(q.execution_options(yield_per=5000)):
            yield AuditRecord(r.seq, r.name, r.aggregate, r.aggregate_id, r.occurred_on,
                              r.recorded_at, r.actor, r.data, r.prev_hash, r.hash)

    def head(self) -> tuple[int, str]:
        h = orm.audit_head
        row = self._c.execute(select(h.c.seq, h.c.hash).where(h.c.id == 1)).one()
        return row.seq, row.hash


class SqlProductRepository(_Repository):
    def add(self, product: Product) -> None:
        values = {f.name: getattr(product, f.name) for f in fields(product)}
        values["repayment_methods"] = ",".join(m.value for m in product.repayment_methods)
        self._c.execute(insert(orm.products), values)

    @staticmethod
    def _from_row(r: Any) -> Product:
        return Product(
            code=r.code, version=r.version, name=r.name, mode=InsuranceMode(r.mode),
            family=ProductFamily(r.family), min_amount_fen=r.min_amount_fen,
            max_amount_fen=r.max_amount_fen, min_term_months=r.min_term_months,
            max_term_months=r.max_term_months,
            repayment_methods=tuple(RepaymentMethod(m) for m in _codes(r.repayment_methods)),
            claim_trigger_dpd=r.claim_trigger_dpd, waiting_period_days=r.waiting_period_days,
            coverage_share=r.coverage_share, premium_basis=PremiumBasis(r.premium_basis),
            monthly_premium_rate=r.monthly_premium_rate,
            refund_method=RefundMethod(r.refund_method), effective_from=r.effective_from,
        )

    def versions(self, code: str) -> list[Product]:
        t = orm.products
        rows = self._c.execute(select(t).where(t.c.code == code).order_by(t.c.version))
        return [self._from_row(r) for r in rows]

    def get(self, code: str, version: int) -> Product | None:
        r = _hot()["product"].first(self._c, {"code": code, "version": version})
        return self._from_row(r) if r else None

    def list_latest(self) -> list[Product]:
        t = orm.products
        latest = (select(t.c.code, func.max(t.c.version).label("version"))
                  .group_by(t.c.code).subquery())
        rows = self._c.execute(select(t).join(
            latest, (t.c.code == latest.c.code) & (t.c.version == latest.c.version)
        ).order_by(t.c.code))
        return [self._from_row(r) for r in rows]


class SqlFunderRepository(_Repository):
    @staticmethod
    def _from_row(r: Any) -> Funder:
        return Funder(code=r.code, name=r.name, credit_code=r.credit_code,
                      kind=FunderKind(r.kind), licensed=r.licensed,
                      commission_rate=r.commission_rate, products=_codes(r.products),
                      id=r.id)

    def add(self, funder: Funder) -> Funder:
        funder.id = self._insert(orm.funders, {
            "code": funder.code, "name": funder.name, "credit_code": funder.credit_code,
            "kind": funder.kind.value, "licensed": funder.licensed,
            "commission_rate": funder.commission_rate, "products": ",".join(funder.products)})
        self._drain(funder)
        return funder

    def get(self, funder_id: int) -> Funder | None:
        r = _hot()["funder"].first(self._c, {"id": funder_id})
        return self._from_row(r) if r else None

    def get_by_code(self, code: str) -> Funder | None:
        r = self._c.execute(_statements()["funder_by_code"], {"code": code}).first()
        return self._from_row(r) if r else None

    def list(self) -> list[Funder]:
        return [self._from_row(r)
                for r in self._c.execute(select(orm.funders).order_by(orm.funders.c.id))]


class SqlApplicationRepository(_Repository):
    def _values(self, a: Application) -> dict[str, Any]:
        b, cipher = a.borrower, self._pii
        return {
            "funder_id": a.funder_id, "external_ref": a.external_ref,
            "product_code": a.product_code, "product_version": a.product_version,
            "mode": a.mode.value, "borrower_kind": b.kind.value,
            "borrower_name": cipher.encrypt(b.name, field="borrower_name"),
            "borrower_id_number": cipher.encrypt(b.id_number, field="borrower_id_number"),
            "borrower_id_index": cipher.blind_index(b.id_number, field="borrower_id_number"),
            "borrower_phone": cipher.encrypt(b.phone, field="borrower_phone"),
            "borrower_bank_card": cipher.encrypt(b.bank_card, field="borrower_bank_card"),
            "borrower_birth_date": b.birth_date,
            "policyholder": a.roles.policyholder.value, "insured": a.roles.insured.value,
            "amount_fen": a.amount_fen, "term_months": a.term_months,
            "annual_rate": a.annual_rate, "repayment_method": a.repayment_method.value,
            "applied_on": a.applied_on, "status": a.status.value, "decided_on": a.decided_on,
            "reason_codes": ",".join(a.reason_codes),
            **profile_columns(a, cipher),
        }

    def _from_row(self, r: Any) -> Application:
        cipher = self._pii
        borrower = Borrower(
            kind=PartyKind(r.borrower_kind),
            name=cipher.decrypt(r.borrower_name, field="borrower_name"),
            id_number=cipher.decrypt(r.borrower_id_number, field="borrower_id_number"),
            phone=cipher.decrypt(r.borrower_phone, field="borrower_phone"),
            bank_card=cipher.decrypt(r.borrower_bank_card, field="borrower_bank_card"),
            birth_date=r.borrower_birth_date)
        return Application(
            funder_id=r.funder_id, product_code=r.product_code,
            product_version=r.product_version, mode=InsuranceMode(r.mode), borrower=borrower,
            roles=Roles(PolicyRole(r.policyholder), PolicyRole(r.insured)),
            amount_fen=r.amount_fen, term_months=r.term_months, annual_rate=r.annual_rate,
            repayment_method=RepaymentMethod(r.repayment_method), applied_on=r.applied_on,
            external_ref=r.external_ref, status=ApplicationStatus(r.status),
            decided_on=r.decided_on, reason_codes=_codes(r.reason_codes), id=r.id,
            profile=Profile(
                monthly_income_fen=r.monthly_income_fen, employment=r.employment,
                industry=r.industry,
                device_id=cipher.decrypt(r.device_id, field="device_id"),
                address=cipher.decrypt(r.address, field="address"),
                employer=cipher.decrypt(r.employer, field="employer")),
            collateral=collateral_from_json(r.collateral),
            evidence=evidence_from_json(r.evidence),
        )

    def add(self, application: Application) -> Application:
        return self.add_many([application])[0]

    def add_many(self, applications: Sequence[Application]) -> list[Application]:
        ids = self._insert_many(orm.applications, [self._values(a) for a in applications])
        for application, new_id in zip(applications, ids, strict=True):
            application.id = new_id
        self._drain_many(applications)
        return list(applications)

    def save(self, application: Application) -> None:
        self.save_many([application])

    def save_many(self, applications: Sequence[Application]) -> None:
        self._update_rows(orm.applications, [{
            "id": a.id, "status": a.status.value, "decided_on": a.decided_on,
            "reason_codes": ",".join(a.reason_codes)} for a in applications])
        self._drain_many(applications)

    def get_many(self, application_ids: Iterable[int]) -> dict[int, Application]:
        found: dict[int, Application] = {}
        for chunk in _chunks(application_ids):
            found.update((r.id, self._from_row(r))
                         for r in _hot()["applications"].all(self._c, {"ids": list(chunk)}))
        return found

    def known_refs(self, funder_id: int, refs: Iterable[str]) -> dict[str, int]:
        t = orm.applications
        found: dict[str, int] = {}
        for chunk in _chunks(refs):
            q = select(t.c.external_ref, t.c.id).where(t.c.funder_id == funder_id,
                                                       t.c.external_ref.in_(chunk))
            found.update((ref, app_id) for ref, app_id in self._c.execute(q))
        return found

    def get(self, application_id: int) -> Application | None:
        t = orm.applications
        r = self._c.execute(select(t).where(t.c.id == application_id)).first()
        return self._from_row(r) if r else None

    def get_by_external_ref(self, funder_id: int, external_ref: str) -> Application | None:
        t = orm.applications
        r = self._c.execute(select(t).where(t.c.funder_id == funder_id,
                                            t.c.external_ref == external_ref)).first()
        return self._from_row(r) if r else None

    def count(self) -> int:
        return self._c.execute(select(func.count()).select_from(orm.applications)).scalar_one()

    def waiting(self, *, applied_by: date, funder_id: int | None = None) -> list[int]:
        t = orm.applications
        q = (select(t.c.id).where(t.c.status == ApplicationStatus.SUBMITTED.value,
                                  t.c.applied_on <= applied_by).order_by(t.c.id))
        if funder_id is not None:
            q = q.where(t.c.funder_id == funder_id)
        return list(self._c.execute(q).scalars())

    def retention_due(self, cutoff: date, *, limit: int) -> list[int]:
        a, p, e = orm.applications, orm.policies, orm.domain_events
        closed = (select(p.c.id).join(e, (e.c.aggregate == "policy")
                                      & (e.c.aggregate_id == p.c.id))
                  .where(p.c.application_id == a.c.id,
                         p.c.status == PolicyStatus.CLOSED.value,
                         e.c.name == "PolicyClosed", e.c.occurred_on < cutoff))
        declined = ((a.c.status == ApplicationStatus.DECLINED.value)
                    & (a.c.decided_on < cutoff))
        q = (select(a.c.id).where(a.c.anonymized_on.is_(None), declined | closed.exists())
             .order_by(a.c.id).limit(limit))
        return list(self._c.execute(q).scalars())

    def anonymize(self, application_ids: Sequence[int], on: date) -> int:
        cipher, a, p = self._pii, orm.applications, orm.policies
        ids = list(application_ids)
        if not ids:
            return 0
        pending = list(self._c.execute(select(a.c.id).where(
            a.c.id.in_(ids), a.c.anonymized_on.is_(None))).scalars())
        self._update_rows(a, [{
            "id": i, "borrower_name": cipher.encrypt(ANONYMIZED_NAME, field="borrower_name"),
            "borrower_id_number": cipher.encrypt(ANONYMIZED, field="borrower_id_number"),
            "borrower_id_index": ANONYMIZED.lower(),
            "borrower_phone": cipher.encrypt(ANONYMIZED, field="borrower_phone"),
            "borrower_bank_card": None, "borrower_birth_date": None, "anonymized_on": on,
            "device_id": None, "address": None, "employer": None, "phone_index": None,
            "card_index": None, "device_index": None, "address_index": None,
            "employer_index": None, "evidence": [],
        } for i in pending])
        policy_ids = list(self._c.execute(select(p.c.id).where(
            p.c.application_id.in_(pending))).scalars()) if pending else []
        self._update_rows(p, [{"id": i, "borrower_id_number": cipher.encrypt(
            ANONYMIZED, field="policy_borrower_id_number")} for i in policy_ids])
        return len(pending)

    def find_by_id_number(self, id_number: str) -> list[Application]:
        t = orm.applications
        key = self._pii.blind_index(id_number, field="borrower_id_number")
        rows = self._c.execute(select(t).where(t.c.borrower_id_index == key).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def count_by_status(self) -> dict[ApplicationStatus, int]:
        t = orm.applications
        rows = self._c.execute(select(t.c.status, func.count()).group_by(t.c.status))
        return {ApplicationStatus(status): n for status, n in rows}


_POLICY_ENUMS = {
    "mode": InsuranceMode, "policyholder": PolicyRole, "insured": PolicyRole,
    "premium_basis": PremiumBasis, "refund_method": RefundMethod, "status": PolicyStatus,
}
_POLICY_COLUMNS = [f.name for f in fields(Policy) if f.name not in ("id", "events")]


class SqlPolicyRepository(_Repository):
    @staticmethod
    def _state(p: Policy) -> dict[str, Any]:
        """Every column but the borrower's ID number (it never changes once quoted)."""
        values = {name: getattr(p, name) for name in _POLICY_COLUMNS
                  if name != "borrower_id_number"}
        for name in _POLICY_ENUMS:
            values[name] = values[name].value
        return values

    def _values(self, p: Policy) -> dict[str, Any]:
        return {**self._state(p), "borrower_id_number": self._pii.encrypt(
            p.borrower_id_number, field="policy_borrower_id_number")}

    def _from_row(self, r: Any) -> Policy:
        values = {name: getattr(r, name) for name in _POLICY_COLUMNS}
        for name, kind in _POLICY_ENUMS.items():
            values[name] = kind(values[name])
        values["borrower_id_number"] = self._pii.decrypt(
            values["borrower_id_number"], field="policy_borrower_id_number")
        return Policy(id=r.id, **values)

    def add(self, policy: Policy) -> Policy:
        return self.add_many([policy])[0]

    def add_many(self, policies: Sequence[Policy]) -> list[Policy]:
        ids = self._insert_many(orm.policies, [self._values(p) for p in policies])
        for policy, new_id in zip(policies, ids, strict=True):
            policy.id = new_id
        self._drain_many(policies)
        return list(policies)

    def save(self, policy: Policy) -> None:
        self.save_many([policy])

    def _one(self, condition: Any) -> Policy | None:
        r = self._c.execute(select(orm.policies).where(condition)).first()
        return self._from_row(r) if r else None

    def get(self, policy_id: int) -> Policy | None:
        return self._one(orm.policies.c.id == policy_id)

    def get_by_application(self, application_id: int) -> Policy | None:
        return self._one(orm.policies.c.application_id == application_id)

    def get_by_loan(self, loan_id: int) -> Policy | None:
        return self._one(orm.policies.c.loan_id == loan_id)

    def get_many(self, policy_ids: Iterable[int]) -> list[Policy]:
        t = orm.policies
        found: list[Policy] = []
        for chunk in _chunks(policy_ids):
            rows = self._c.execute(select(t).where(t.c.id.in_(chunk)))
            found += [self._from_row(r) for r in rows]
        return sorted(found, key=lambda p: p.id)

    def page(self, *, funder_id: int | None, after_id: int, limit: int) -> list[Policy]:
        t = orm.policies
        q = (select(t).where(t.c.id > after_id, t.c.status != PolicyStatus.QUOTED.value)
             .order_by(t.c.id).limit(limit))
        if funder_id is not None:
            q = q.where(t.c.funder_id == funder_id)
        return [self._from_row(r) for r in self._c.execute(q)]

    def premium_terms(self, *, loan_ids: Iterable[int] = (),
                      policy_ids: Iterable[int] = ()) -> list[PremiumTerms]:
        found: list[PremiumTerms] = []
        for name, keys in (("terms_by_loan", loan_ids), ("terms_by_id", policy_ids)):
            for chunk in _chunks(keys):
                found += [PremiumTerms(*row) for row in
                          self._c.execute(_statements()[name], {"keys": chunk})]
        return found

    def set_installments_written(self, written: dict[int, int]) -> None:
        self._update_rows(orm.policies, [{"id": pid, "installments_written": n}
                                         for pid, n in written.items()])

    def save_many(self, policies: Iterable[Policy]) -> None:
        policies = list(policies)
        self._update_rows(orm.policies, [{"id": p.id, **self._state(p)} for p in policies])
        self._drain_many(policies)

    def installment_premiums_due(self, on: date) -> list[tuple[int, int]]:
        p, i, ln = orm.policies, orm.installments, orm.loans
        q = (select(p.c.id, func.max(i.c.number))
             .join(ln, ln.c.id == p.c.loan_id)
             .join(i, i.c.loan_id == p.c.loan_id)
             .where(ln.c.first_unpaid_due_date <= on,
                    p.c.status == PolicyStatus.IN_FORCE.value, p.c.installment_premium_fen > 0,
                    i.c.due_date <= on, i.c.number > p.c.installments_written)
             .group_by(p.c.id).order_by(p.c.id))
        return [(pid, through) for pid, through in self._c.execute(q)]

    def single_premium_in_force(self) -> list[int]:
        p = orm.policies
        q = (select(p.c.id).where(p.c.status == PolicyStatus.IN_FORCE.value,
                                  p.c.single_premium_fen > p.c.earned_fen + p.c.refunded_fen)
             .order_by(p.c.id))
        return list(self._c.execute(q).scalars())

    def fully_repaid(self) -> list[int]:
        p, ln = orm.policies, orm.loans
        q = (select(p.c.id).join(ln, ln.c.id == p.c.loan_id)
             .where(p.c.status == PolicyStatus.IN_FORCE.value,
                    ln.c.first_unpaid_due_date.is_(None))
             .order_by(p.c.id))
        return list(self._c.execute(q).scalars())

    def overdue(self, on: date) -> list[tuple[int, date, int]]:
        """(policy id, first unpaid due date, claim trigger) of policies in force past due."""
        p, ln, pr = orm.policies, orm.loans, orm.products
        q = (select(p.c.id, ln.c.first_unpaid_due_date, pr.c.claim_trigger_dpd)
             .join(ln, ln.c.id == p.c.loan_id)
             .join(pr, (pr.c.code == p.c.product_code) & (pr.c.version == p.c.product_version))
             .where(p.c.status == PolicyStatus.IN_FORCE.value,
                    ln.c.first_unpaid_due_date < on)
             .order_by(p.c.id))
        return [(pid, due, trigger) for pid, due, trigger in self._c.execute(q)]

    def vintage_rows(self) -> list[tuple[int, date, date | None]]:
        """(policy, start date, first claim date or None) of every issued policy."""
        p, c = orm.policies, orm.claims
        first_claim = (select(c.c.policy_id, func.min(c.c.opened_on).label("opened_on"))
                       .group_by(c.c.policy_id).subquery())
        q = (select(p.c.id, p.c.start_date, first_claim.c.opened_on)
             .outerjoin(first_claim, first_claim.c.policy_id == p.c.id)
             .where(p.c.start_date.is_not(None)).order_by(p.c.id))
        return [(pid, start, opened) for pid, start, opened in self._c.execute(q)]

    def list_by_status(self, statuses: Iterable[PolicyStatus]) -> list[Policy]:
        t = orm.policies
        rows = self._c.execute(select(t).where(t.c.status.in_([s.value for s in statuses]))
                               .order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def count_by_status(self) -> dict[PolicyStatus, int]:
        t = orm.policies
        rows = self._c.execute(select(t.c.status, func.count()).group_by(t.c.status))
        return {PolicyStatus(status): n for status, n in rows}


class SqlLoanRepository(_Repository):
    def add(self, loan: Loan) -> Loan:
        return self.add_many([loan])[0]

    def add_many(self, loans: Sequence[Loan]) -> list[Loan]:
        ids = self._insert_many(orm.loans, [{
            "funder_id": loan.funder_id, "contract_no": loan.contract_no,
            "principal_fen": loan.principal_fen, "annual_rate": loan.annual_rate,
            "term_months": loan.term_months, "method": loan.method.value,
            "start_date": loan.start_date, "status": loan.status.value,
            "first_unpaid_due_date": loan.first_unpaid_due_date} for loan in loans])
        for loan, new_id in zip(loans, ids, strict=True):
            loan.id = new_id
        rows = [{"loan_id": loan.id, "number": i.number, "due_date": i.due_date,
                 "principal_fen": i.principal_fen, "interest_fen": i.interest_fen}
                for loan in loans for i in loan.installments]
        if rows:
            self._c.execute(insert(orm.installments), rows)
        self._drain_many(loans)
        return list(loans)

    def save(self, loan: Loan) -> None:
        self.save_many([loan])

    def save_many(self, loans: Iterable[Loan]) -> None:
        loans = list(loans)
        self._update_rows(orm.loans, [
            {"id": loan.id, "status": loan.status.value,
             "first_unpaid_due_date": loan.first_unpaid_due_date} for loan in loans])
        self._drain_many(loans)

    def _load(self, condition: Any) -> list[Loan]:
        rows = self._c.execute(select(orm.loans).where(condition).order_by(orm.loans.c.id)).all()
        if not rows:
            return []
        t = orm.installments
        schedules: dict[int, list[Installment]] = {}
        for chunk in _chunks(r.id for r in rows):
            for i in self._c.execute(select(t).where(t.c.loan_id.in_(chunk))
                                     .order_by(t.c.loan_id, t.c.number)):
                schedules.setdefault(i.loan_id, []).append(Installment(
                    number=i.number, due_date=i.due_date, principal_fen=i.principal_fen,
                    interest_fen=i.interest_fen))
        return [Loan(funder_id=r.funder_id, contract_no=r.contract_no,
                     principal_fen=r.principal_fen, annual_rate=r.annual_rate,
                     term_months=r.term_months, method=RepaymentMethod(r.method),
                     start_date=r.start_date, installments=tuple(schedules[r.id]),
                     status=LoanStatus(r.status), first_unpaid_due_date=r.first_unpaid_due_date,
                     id=r.id) for r in rows]

    def headers(self, funder_id: int, contract_nos: Iterable[str]) -> dict[str, LoanHeader]:
        found: dict[str, LoanHeader] = {}
        for chunk in _chunks(contract_nos):
            rows = self._c.execute(_statements()["headers"],
                                   {"funder": funder_id, "contracts": chunk})
            for loan_id, contract, status, start, term in rows:
                found[contract] = LoanHeader(loan_id, contract, LoanStatus(status), start, term)
        return found

    def installments(
        self, keys: Iterable[tuple[int, int]],
    ) -> dict[tuple[int, int], Installment]:
        found: dict[tuple[int, int], Installment] = {}
        for chunk in _chunks(sorted(set(keys))):
            rows = self._c.execute(_statements()["installments"], {
                "loans": sorted({k[0] for k in chunk}), "keys": chunk})
            for loan_id, number, due, p, i in rows:
                found[(loan_id, number)] = Installment(number, due, p, i)
        return found

    def refresh_first_unpaid(self, loan_ids: Iterable[int]) -> None:
        for chunk in _chunks(loan_ids):
            self._c.execute(_statements()["refresh"], {"loans": chunk})

    def get(self, loan_id: int) -> Loan | None:
        found = self._load(orm.loans.c.id == loan_id)
        return found[0] if found else None

    def get_by_contract(self, funder_id: int, contract_no: str) -> Loan | None:
        t = orm.loans
        found = self._load((t.c.funder_id == funder_id) & (t.c.contract_no == contract_no))
        return found[0] if found else None

    def get_many(self, loan_ids: Iterable[int]) -> dict[int, Loan]:
        found: dict[int, Loan] = {}
        for chunk in _chunks(loan_ids):
            found.update((loan.id, loan) for loan in self._load(orm.loans.c.id.in_(chunk)))
        return found



class SqlRepaymentRepository(_Repository):
    @staticmethod
    def _from_row(r: Any) -> Repayment:
        return Repayment(loan_id=r.loan_id, installment_number=r.installment_number,
                         paid_on=r.paid_on, principal_fen=r.principal_fen,
                         interest_fen=r.interest_fen, id=r.id)

    def add(self, repayment: Repayment, reference: str) -> Repayment:
        new_id = self._insert(orm.repayments, {
            "loan_id": repayment.loan_id, "installment_number": repayment.installment_number,
            "paid_on": repayment.paid_on, "principal_fen": repayment.principal_fen,
            "interest_fen": repayment.interest_fen, "reference": reference})
        return Repayment(**{**{f.name: getattr(repayment, f.name) for f in fields(repayment)},
                            "id": new_id})

    def add_many(self, items: Sequence[tuple[Repayment, str]]) -> None:
        if items:
            self._c.execute(insert(orm.repayments), [
                {"loan_id": r.loan_id, "installment_number": r.installment_number,
                 "paid_on": r.paid_on, "principal_fen": r.principal_fen,
                 "interest_fen": r.interest_fen, "reference": ref} for r, ref in items])

    def paid_totals(
        self, loan_ids: Iterable[int], numbers: Iterable[int] | None = None,
    ) -> dict[int, dict[int, tuple[int, int]]]:
        wanted = sorted(set(numbers)) if numbers is not None else None
        totals: dict[int, dict[int, tuple[int, int]]] = {}
        for chunk in _chunks(loan_ids):
            if wanted is None:
                rows = self._c.execute(_statements()["totals"], {"loans": chunk})
            else:
                rows = self._c.execute(_statements()["totals_of"],
                                       {"loans": chunk, "numbers": wanted})
            for loan_id, number, p, i in rows:
                totals.setdefault(loan_id, {})[number] = (int(p), int(i))
        return totals

    def known_references(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        known: set[tuple[int, str]] = set()
        for chunk in _chunks(set(keys)):
            wanted = set(chunk)
            rows = self._c.execute(_statements()["references"], {
                "loans": sorted({k[0] for k in wanted}), "refs": sorted({k[1] for k in wanted})})
            known.update((lid, ref) for lid, ref in rows if (lid, ref) in wanted)
        return known

    def for_loan(self, loan_id: int) -> list[Repayment]:
        t = orm.repayments
        rows = self._c.execute(select(t).where(t.c.loan_id == loan_id).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def get_by_reference(self, loan_id: int, reference: str) -> Repayment | None:
        t = orm.repayments
        r = self._c.execute(select(t).where(t.c.loan_id == loan_id,
                                            t.c.reference == reference)).first()
        return self._from_row(r) if r else None


class SqlClaimRepository(_Repository):
    @staticmethod
    def _values(c: Claim) -> dict[str, Any]:
        return {
            "policy_id": c.policy_id, "loan_id": c.loan_id, "opened_on": c.opened_on,
            "days_past_due": c.days_past_due, "principal_fen": c.principal_fen,
            "interest_fen": c.interest_fen, "amount_fen": c.amount_fen,
            "status": c.status.value, "reason_codes": ",".join(c.reason_codes),
            "paid_on": c.paid_on, "recovered_fen": c.recovered_fen,
        }

    @staticmethod
    def _from_row(r: Any) -> Claim:
        return Claim(policy_id=r.policy_id, loan_id=r.loan_id, opened_on=r.opened_on,
                     days_past_due=r.days_past_due, principal_fen=r.principal_fen,
                     interest_fen=r.interest_fen, amount_fen=r.amount_fen,
                     status=ClaimStatus(r.status), reason_codes=_codes(r.reason_codes),
                     paid_on=r.paid_on, recovered_fen=r.recovered_fen, id=r.id)

    def add(self, claim: Claim) -> Claim:
        claim.id = self._insert(orm.claims, self._values(claim))
        self._drain(claim)
        return claim

    def save(self, claim: Claim) -> None:
        self._update_rows(orm.claims, [{"id": claim.id, **self._values(claim)}])
        self._drain(claim)

    def get(self, claim_id: int) -> Claim | None:
        r = self._c.execute(select(orm.claims).where(orm.claims.c.id == claim_id)).first()
        return self._from_row(r) if r else None

    def for_policy(self, policy_id: int) -> list[Claim]:
        t = orm.claims
        rows = self._c.execute(select(t).where(t.c.policy_id == policy_id).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def list_open(self) -> list[Claim]:
        t = orm.claims
        rows = self._c.execute(select(t).where(t.c.status == ClaimStatus.OPEN.value)
                               .order_by(t.c.id))
        return [self._from_row(r) for r in rows]


class SqlRecoveryRepository(_Repository):
    @staticmethod
    def _from_row(r: Any) -> Recovery:
        return Recovery(claim_id=r.claim_id, received_on=r.received_on, amount_fen=r.amount_fen,
                        source=r.source, id=r.id)

    def add(self, recovery: Recovery, reference: str) -> Recovery:
        new_id = self._insert(orm.recoveries, {
            "claim_id": recovery.claim_id, "received_on": recovery.received_on,
            "amount_fen": recovery.amount_fen, "source": recovery.source,
            "reference": reference})
        return Recovery(claim_id=recovery.claim_id, received_on=recovery.received_on,
                        amount_fen=recovery.amount_fen, source=recovery.source, id=new_id)

    def for_claim(self, claim_id: int) -> list[Recovery]:
        t = orm.recoveries
        rows = self._c.execute(select(t).where(t.c.claim_id == claim_id).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def get_by_reference(self, claim_id: int, reference: str) -> Recovery | None:
        t = orm.recoveries
        r = self._c.execute(select(t).where(t.c.claim_id == claim_id,
                                            t.c.reference == reference)).first()
        return self._from_row(r) if r else None


class SqlLedgerRepository(_Repository):
    """Append-only: inserts and reads only (the database refuses updates and deletes too)."""

    def add(self, entry: JournalEntry) -> JournalEntry:
        entry_id = self._insert(orm.journal_entries, {
            "posted_on": entry.posted_on, "description": entry.description,
            "source_command": entry.source_command, "idempotency_key": entry.idempotency_key,
            "reference": entry.reference, "reverses_id": entry.reverses_id})
        self._c.execute(insert(orm.journal_lines), [
            {"entry_id": entry_id, "account": line.account, "amount_fen": line.amount_fen}
            for line in entry.lines])
        return entry.with_id(entry_id)

    def _load(self, rows: Sequence[Any]) -> list[JournalEntry]:
        if not rows:
            return []
        lines: dict[int, list[Line]] = {}
        for chunk in _chunks(r.id for r in rows):
            for line in self._c.execute(_statements()["lines_of"], {"entries": chunk}):
                lines.setdefault(line.entry_id, []).append(Line(line.account, line.amount_fen))
        return [JournalEntry(posted_on=r.posted_on, description=r.description,
                             source_command=r.source_command, idempotency_key=r.idempotency_key,
                             lines=tuple(lines[r.id]), reverses_id=r.reverses_id,
                             reference=r.reference, id=r.id) for r in rows]

    def _where(self, condition: Any) -> JournalEntry | None:
        t = orm.journal_entries
        rows = self._c.execute(select(t).where(condition)).all()
        found = self._load(rows)
        return found[0] if found else None

    def get(self, entry_id: int) -> JournalEntry | None:
        return self._where(orm.journal_entries.c.id == entry_id)

    def get_by_key(self, source_command: str, idempotency_key: str) -> JournalEntry | None:
        rows = self._c.execute(_statements()["entry_by_key"],
                               {"source": source_command, "key": idempotency_key}).all()
        found = self._load(rows)
        return found[0] if found else None

    def reversal_of(self, entry_id: int) -> JournalEntry | None:
        return self._where(orm.journal_entries.c.reverses_id == entry_id)

    def lines(self, *, through: date | None = None) -> Iterable[Line]:
        """Per-account sums: a trial balance needs no line-by-line read."""
        e, ln = orm.journal_entries, orm.journal_lines
        q = select(ln.c.account, func.sum(ln.c.amount_fen)).group_by(ln.c.account)
        if through is not None:
            q = q.join(e, e.c.id == ln.c.entry_id).where(e.c.posted_on <= through)
        return [Line(account, int(total)) for account, total in self._c.execute(q) if total]

    def monthly_totals(self) -> list[tuple[int, int, str, int]]:
        """(year, month, account, sum of lines) over the whole ledger, by posting month."""
        e, ln = orm.journal_entries, orm.journal_lines
        year = func.extract("year", e.c.posted_on)
        month = func.extract("month", e.c.posted_on)
        q = (select(year, month, ln.c.account, func.sum(ln.c.amount_fen))
             .join(e, e.c.id == ln.c.entry_id).group_by(year, month, ln.c.account)
             .order_by(year, month, ln.c.account))
        return [(int(y), int(m), account, int(total)) for y, m, account, total
                in self._c.execute(q)]

    def entries(self, *, reference: str | None = None) -> Sequence[JournalEntry]:
        t = orm.journal_entries
        q = select(t).order_by(t.c.id)
        if reference is not None:
            q = q.where(t.c.reference == reference)
        return self._load(self._c.execute(q).all())


_USER_COLUMNS = ("username", "display_name", "password_hash", "funder_id", "active",
                 "failed_logins", "locked_until", "created_at", "password_changed_at")
_CLIENT_COLUMNS = ("client_id", "name", "funder_id", "secret_hash", "previous_secret_hash",
                   "previous_valid_until", "active", "created_at", "rotated_at")
_SESSION_COLUMNS = ("token_hash", "user_id", "csrf_token", "created_at", "last_seen_at",
                    "expires_at", "revoked")


class SqlUserRepository(_Repository):
    @staticmethod
    def _values(u: User) -> dict[str, Any]:
        return {**{c: getattr(u, c) for c in _USER_COLUMNS}, "roles": encode_roles(u.roles)}

    @staticmethod
    def _from_row(r: Any) -> User:
        return User(**{c: getattr(r, c) for c in _USER_COLUMNS},
                    roles=decode_roles(r.roles), id=r.id)

    def add(self, user: User) -> User:
        user.id = self._insert(orm.users, self._values(user))
        self._drain(user)
        return user

    def save(self, user: User) -> None:
        self._update_rows(orm.users, [{"id": user.id, **self._values(user)}])
        self._drain(user)

    def get(self, user_id: int) -> User | None:
        r = self._c.execute(select(orm.users).where(orm.users.c.id == user_id)).first()
        return self._from_row(r) if r else None

    def get_by_username(self, username: str) -> User | None:
        r = self._c.execute(select(orm.users).where(orm.users.c.username == username)).first()
        return self._from_row(r) if r else None

    def list(self) -> list[User]:
        return [self._from_row(r)
                for r in self._c.execute(select(orm.users).order_by(orm.users.c.username))]


class SqlClientRepository(_Repository):
    @staticmethod
    def _values(c: ApiClient) -> dict[str, Any]:
        return {**{k: getattr(c, k) for k in _CLIENT_COLUMNS}, "roles": encode_roles(c.roles)}

    @staticmethod
    def _from_row(r: Any) -> ApiClient:
        return ApiClient(**{k: getattr(r, k) for k in _CLIENT_COLUMNS},
                         roles=decode_roles(r.roles), id=r.id)

    def add(self, client: ApiClient) -> ApiClient:
        client.id = self._insert(orm.api_clients, self._values(client))
        self._drain(client)
        return client

    def save(self, client: ApiClient) -> None:
        self._update_rows(orm.api_clients, [{"id": client.id, **self._values(client)}])
        self._drain(client)

    def get_by_client_id(self, client_id: str) -> ApiClient | None:
        r = _hot()["client"].first(self._c, {"client_id": client_id})
        return self._from_row(r) if r else None

    def list(self) -> list[ApiClient]:
        t = orm.api_clients
        return [self._from_row(r) for r in self._c.execute(select(t).order_by(t.c.client_id))]


class SqlSessionRepository(_Repository):
    def add(self, session: Session) -> Session:
        session.id = self._insert(orm.user_sessions,
                                  {c: getattr(session, c) for c in _SESSION_COLUMNS})
        return session

    def save(self, session: Session) -> None:
        self._update_rows(orm.user_sessions, [{
            "id": session.id, **{c: getattr(session, c) for c in _SESSION_COLUMNS}}])

    def get_by_token_hash(self, token_hash: str) -> Session | None:
        t = orm.user_sessions
        r = self._c.execute(select(t).where(t.c.token_hash == token_hash)).first()
        return Session(**{c: getattr(r, c) for c in _SESSION_COLUMNS}, id=r.id) if r else None

    def revoke_all(self, user_id: int) -> int:
        t = orm.user_sessions
        return self._c.execute(update(t).where(t.c.user_id == user_id, t.c.revoked.is_(False))
                               .values(revoked=True)).rowcount


class SqlIdempotencyRepository(_Repository):
    def get(self, scope: str, key: str) -> StoredResponse | None:
        t = orm.idempotency_keys
        r = self._c.execute(select(t).where(t.c.scope == scope, t.c.key == key)).first()
        return (StoredResponse(r.scope, r.key, r.request_hash, r.status_code, r.response)
                if r else None)

    def add_once(self, response: StoredResponse, now: datetime) -> StoredResponse:
        try:
            with self._c.begin_nested():  # a savepoint: a lost race leaves the rest intact
                self._c.execute(insert(orm.idempotency_keys), {
                    "scope": response.scope, "key": response.key,
                    "request_hash": response.request_hash,
                    "status_code": response.status_code, "response": response.body,
                    "created_at": now})
        except IntegrityError:
            stored = self.get(response.scope, response.key)
            assert stored is not None
            return stored
        return response
