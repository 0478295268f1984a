"""Retention's SQL: which closed cases are due, and their personal data replaced (applications
and the policies issued on them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select

from xinbao.catalogue.model.parties import ANONYMIZED, ANONYMIZED_NAME
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
        return len(pending)
