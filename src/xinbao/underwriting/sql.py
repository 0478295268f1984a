"""The applications' SQL repository (personal data encrypted, looked up by blind index)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select

from xinbao.catalogue.model.parties import (
    Borrower,
    InsuranceMode,
    PartyKind,
    PolicyRole,
    Roles,
)
from xinbao.catalogue.model.products import (
    RepaymentMethod,
)
from xinbao.kernel.paging import Page, PageRequest
from xinbao.platform.prepared import Prepared
from xinbao.platform.sql import SqlRepository, chunks, codes
from xinbao.platform.sql_lists import in_list
from xinbao.underwriting import tables
from xinbao.underwriting.model import Application, ApplicationStatus, Profile
from xinbao.underwriting.repository import ApplicationFilter
from xinbao.underwriting.rows import collateral_from_json, evidence_from_json, profile_columns


@functools.cache
def _hot() -> dict[str, Prepared]:
    """A decision batch's applications, on the driver's cursor (``platform.prepared``)."""
    a = tables.applications
    return {"applications": Prepared(select(a).where(in_list(a.c.id, "ids")))}


def _conditions(where: ApplicationFilter) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions (each criterion given)."""
    t = tables.applications
    bounds = ((where.funder_id, t.c.funder_id.__eq__),
              (where.product_code, t.c.product_code.__eq__),
              (where.status.value if where.status else None, t.c.status.__eq__),
              (where.applied_from, t.c.applied_on.__ge__),
              (where.applied_to, t.c.applied_on.__le__),
              (where.min_fen, t.c.amount_fen.__ge__),
              (where.max_fen, t.c.amount_fen.__le__))
    return [condition(value) for value, condition in bounds if value is not None]


class SqlApplicationRepository(SqlRepository):
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
            decided_on=r.decided_on, reason_codes=codes(r.reason_codes), id=r.id,
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
        ids = self._insert_many(tables.applications, [self._values(a) for a in applications])
        for application, new_id in zip(applications, ids, strict=True):
            application.id = new_id
        self._drain_many(applications)
        return list(applications)

    def save(self, application: Application) -> None:
        self.save_many([application])

    def save_many(self, applications: Sequence[Application]) -> None:
        self._update_rows(tables.applications, [{
            "id": a.id, "status": a.status.value, "decided_on": a.decided_on,
            "reason_codes": ",".join(a.reason_codes)} for a in applications])
        self._drain_many(applications)

    def get_many(self, application_ids: Iterable[int]) -> dict[int, Application]:
        found: dict[int, Application] = {}
        for chunk in chunks(application_ids):
            found.update((r.id, self._from_row(r))
                         for r in _hot()["applications"].all(self._c, {"ids": list(chunk)}))
        return found

    def known_refs(self, funder_id: int, refs: Iterable[str]) -> dict[str, int]:
        t = tables.applications
        found: dict[str, int] = {}
        for chunk in chunks(refs):
            q = select(t.c.external_ref, t.c.id).where(t.c.funder_id == funder_id,
                                                       t.c.external_ref.in_(chunk))
            found.update((ref, app_id) for ref, app_id in self._c.execute(q))
        return found

    def get(self, application_id: int) -> Application | None:
        t = tables.applications
        r = self._c.execute(select(t).where(t.c.id == application_id)).first()
        return self._from_row(r) if r else None

    def get_by_external_ref(self, funder_id: int, external_ref: str) -> Application | None:
        t = tables.applications
        r = self._c.execute(select(t).where(t.c.funder_id == funder_id,
                                            t.c.external_ref == external_ref)).first()
        return self._from_row(r) if r else None

    def count(self) -> int:
        return self._c.execute(select(func.count()).select_from(tables.applications)).scalar_one()

    def page(self, where: ApplicationFilter, request: PageRequest) -> Page[Application]:
        t = tables.applications
        column = {"id": t.c.id, "date": t.c.applied_on, "amount": t.c.amount_fen,
                  "status": t.c.status}[request.sort]
        order = ([column.desc(), t.c.id.desc()] if request.descending
                 else [column.asc(), t.c.id.asc()])
        conditions = _conditions(where)
        total = self._c.execute(select(func.count()).select_from(t)
                                .where(*conditions)).scalar_one()
        # The page's ids first, sorting narrow rows; then only those rows, whole.
        ids = list(self._c.execute(select(t.c.id).where(*conditions).order_by(*order)
                                   .offset(request.offset).limit(request.size)).scalars())
        found = self.get_many(ids)
        return Page([found[i] for i in ids], total, request)

    def waiting(self, *, applied_by: date, funder_id: int | None = None) -> list[int]:
        t = tables.applications
        q = (select(t.c.id).where(t.c.status == ApplicationStatus.SUBMITTED.value,
                                  t.c.applied_on <= applied_by).order_by(t.c.id))
        if funder_id is not None:
            q = q.where(t.c.funder_id == funder_id)
        return list(self._c.execute(q).scalars())

    def find_by_id_number(self, id_number: str) -> list[Application]:
        t = tables.applications
        key = self._pii.blind_index(id_number, field="borrower_id_number")
        rows = self._c.execute(select(t).where(t.c.borrower_id_index == key).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def count_by_status(self) -> dict[ApplicationStatus, int]:
        t = tables.applications
        rows = self._c.execute(select(t.c.status, func.count()).group_by(t.c.status))
        return {ApplicationStatus(status): n for status, n in rows}
