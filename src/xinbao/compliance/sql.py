"""Retention's SQL: which closed cases are due, and their personal data replaced (applications
and the policies issued on them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select, update

from xinbao.catalogue.model.parties import ANONYMIZED, ANONYMIZED_NAME
from xinbao.compliance.repository import AuditFilter
from xinbao.kernel.audit import AuditRecord
from xinbao.kernel.paging import Page, PageRequest
from xinbao.platform import tables as orm
from xinbao.platform.sql import SqlRepository
from xinbao.policy import tables as policy_tables
from xinbao.policy.model import PolicyStatus
from xinbao.underwriting import tables as underwriting_tables
from xinbao.underwriting.model import ApplicationStatus


class SqlRetentionRepository(SqlRepository):
    def retention_due(self, cutoff: date, *, limit: int) -> list[int]:
        a, p, e = underwriting_tables.applications, policy_tables.policies, orm.domain_events
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
        cipher, a, p = self._pii, underwriting_tables.applications, policy_tables.policies
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
        if policy_ids:  # the batch's copy of the borrower's blind index goes too
            il = policy_tables.insured_loans
            self._c.execute(update(il).where(il.c.policy_id.in_(policy_ids))
                            .values(borrower_id_index=ANONYMIZED.lower()))
        return len(pending)


class SqlAuditTrailReader(SqlRepository):
    """Pages of the audit trail: ordered by the row id (the chain's order) or the business
    date, filtered on the indexed columns (aggregate and id, actor) and the event's name."""

    def page(self, where: AuditFilter, request: PageRequest) -> Page[AuditRecord]:
        t = orm.domain_events
        conditions = _audit_conditions(where)
        key = t.c.occurred_on if request.sort == "date" else t.c.id
        order = [key.desc(), t.c.id.desc()] if request.descending else [key, t.c.id]
        rows = self._c.execute(select(t).where(*conditions).order_by(*order)
                               .limit(request.size).offset(request.offset)).all()
        total = self._c.execute(select(func.count()).select_from(t)
                                .where(*conditions)).scalar_one()
        return Page([AuditRecord(r.seq, r.name, r.aggregate, r.aggregate_id, r.occurred_on,
                                 r.recorded_at, r.actor, r.data, r.prev_hash, r.hash)
                     for r in rows], int(total), request)


def _audit_conditions(where: AuditFilter) -> list[Any]:
    t = orm.domain_events
    wanted = ((t.c.aggregate, where.aggregate), (t.c.aggregate_id, where.aggregate_id),
              (t.c.name, where.name), (t.c.actor, where.actor))
    return [column == value for column, value in wanted if value is not None]
