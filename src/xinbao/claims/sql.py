"""Claims' SQL repositories: claims (with their assessments and documents) and recoveries."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Update, bindparam, func, select, update

from xinbao.catalogue import tables as catalogue_tables
from xinbao.claims import tables
from xinbao.claims.model import (
    AUTOMATIC,
    Amount,
    Assessment,
    Check,
    Claim,
    ClaimSource,
    ClaimStatus,
    ClaimTimes,
    Document,
    Recovery,
    RecoveryRight,
    Referral,
    RightStatus,
    Settlement,
)
from xinbao.claims.repository import (
    CLAIM_SORTS,
    AssessmentRecord,
    ClaimFilter,
    ClaimRow,
    RightRow,
    SettledClaim,
)
from xinbao.kernel.paging import Page, PageRequest
from xinbao.loans import tables as loan_tables
from xinbao.platform.prepared import Prepared
from xinbao.platform.sql import SqlRepository, codes
from xinbao.platform.sql_lists import in_list
from xinbao.policy import tables as policy_tables
from xinbao.policy.model import policy_number

#: What a claim's life changes after it is added (its identity and source never change).
_STATE = ("status", "paid_on", "recovered_fen", "days_past_due", "principal_fen",
          "interest_fen", "amount_fen", "reason_codes", "trigger_on", "decided_on",
          "penalty_fen", "deductible_fen", "reserve_fen", "approvals", "settlement_id",
          "referrals")


@functools.cache
def _by_policies() -> Prepared:
    """The claims of a list of policies, in id order (one key list one parameter)."""
    t = tables.claims
    return Prepared(select(t).where(in_list(t.c.policy_id, "ids")).order_by(t.c.id))


@functools.cache
def _compare_and_set() -> Update:
    """The claim's state moves only from the state it was read in: the row's lock orders
    concurrent writers, and whoever comes second matches no row."""
    t = tables.claims
    return (update(t).where(t.c.id == bindparam("b_id"),
                            t.c.status == bindparam("b_was_status"),
                            t.c.recovered_fen == bindparam("b_was_recovered_fen"),
                            t.c.approvals == bindparam("b_was_approvals"))
            .values({c: bindparam(f"b_{c}") for c in _STATE}))


class SqlClaimRepository(SqlRepository):
    @staticmethod
    def _values(c: Claim) -> dict[str, Any]:
        return {
            "policy_id": c.policy_id, "loan_id": c.loan_id, "opened_on": c.opened_on,
            "days_past_due": c.days_past_due, "principal_fen": c.principal_fen,
            "interest_fen": c.interest_fen, "amount_fen": c.amount_fen,
            "status": c.status.value, "reason_codes": ",".join(c.reason_codes),
            "paid_on": c.paid_on, "recovered_fen": c.recovered_fen, "funder_id": c.funder_id,
            "source": c.source.value, "reference": c.reference, "claimed_fen": c.claimed_fen,
            "trigger_on": c.trigger_on, "decided_on": c.decided_on,
            "penalty_fen": c.penalty_fen, "deductible_fen": c.deductible_fen,
            "reserve_fen": c.reserve_fen, "approvals": ",".join(c.approvals),
            "settlement_id": c.settlement_id, "referrals": ",".join(c.referrals),
        }

    @staticmethod
    def _from_row(r: Any) -> Claim:
        return Claim(policy_id=r.policy_id, loan_id=r.loan_id, opened_on=r.opened_on,
                     days_past_due=r.days_past_due, principal_fen=r.principal_fen,
                     interest_fen=r.interest_fen, amount_fen=r.amount_fen,
                     status=ClaimStatus(r.status), reason_codes=codes(r.reason_codes),
                     paid_on=r.paid_on, recovered_fen=r.recovered_fen, funder_id=r.funder_id,
                     source=ClaimSource(r.source), reference=r.reference,
                     claimed_fen=r.claimed_fen, trigger_on=r.trigger_on,
                     decided_on=r.decided_on, penalty_fen=r.penalty_fen,
                     deductible_fen=r.deductible_fen, reserve_fen=r.reserve_fen,
                     approvals=codes(r.approvals), settlement_id=r.settlement_id,
                     referrals=codes(r.referrals), id=r.id)

    def add(self, claim: Claim) -> Claim:
        claim.id = self._insert(tables.claims, self._values(claim))
        self._drain(claim)
        return claim

    def save_if_unchanged(self, claim: Claim, *, status: ClaimStatus, recovered_fen: int,
                          approvals: tuple[str, ...] = ()) -> bool:
        values = self._values(claim)
        changed = self._c.execute(_compare_and_set(), {
            "b_id": claim.id, "b_was_status": status.value,
            "b_was_recovered_fen": recovered_fen, "b_was_approvals": ",".join(approvals),
            **{f"b_{c}": values[c] for c in _STATE}}).rowcount
        if changed != 1:
            claim.events.clear()
            return False
        self._drain(claim)
        return True

    def get_by_reference(self, funder_id: int, reference: str) -> Claim | None:
        t = tables.claims
        r = self._c.execute(select(t).where(t.c.funder_id == funder_id,
                                            t.c.reference == reference)).first()
        return self._from_row(r) if r else None

    def waiting_for_trigger(self) -> list[Claim]:
        t = tables.claims
        rows = self._c.execute(select(t).where(t.c.status == ClaimStatus.NOTIFIED.value)
                               .order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def add_assessment(self, claim_id: int, assessment: Assessment, *, reason: str,
                       difference_fen: int) -> None:
        a = assessment.amount
        self._insert(tables.claim_assessments, {
            "claim_id": claim_id, "assessed_on": assessment.assessed_on, "reason": reason,
            "covered": assessment.covered,
            "checks": [c.as_data() for c in assessment.checks],
            "days_past_due": assessment.days_past_due, "trigger_on": assessment.trigger_on,
            "principal_fen": a.principal_fen, "interest_fen": a.interest_fen,
            "penalty_fen": a.penalty_fen, "share": a.share, "gross_fen": a.gross_fen,
            "deductible_fen": a.deductible_fen, "claimed_fen": a.claimed_fen,
            "payable_fen": a.payable_fen, "limit_fen": a.limit_fen,
            "difference_fen": difference_fen,
            "referrals": [r.as_data() for r in assessment.referrals]})

    def assessments(self, claim_id: int) -> list[AssessmentRecord]:
        t = tables.claim_assessments
        rows = self._c.execute(select(t).where(t.c.claim_id == claim_id).order_by(t.c.id))
        return [AssessmentRecord(
            r.reason, r.difference_fen, Assessment(
                r.assessed_on, tuple(Check.from_data(c) for c in r.checks), r.days_past_due,
                r.trigger_on, Amount(r.principal_fen, r.interest_fen, r.penalty_fen, r.share,
                                     r.gross_fen, r.deductible_fen, r.claimed_fen,
                                     r.payable_fen, r.limit_fen),
                tuple(Referral.from_data(x) for x in r.referrals))) for r in rows]

    def add_documents(self, claim_id: int, documents: Sequence[Document]) -> None:
        for d in documents:
            self._insert(tables.claim_documents, {"claim_id": claim_id,
                                                  "reference": d.reference,
                                                  "sha256": d.sha256.lower()})

    def documents(self, claim_id: int) -> list[Document]:
        t = tables.claim_documents
        rows = self._c.execute(select(t).where(t.c.claim_id == claim_id).order_by(t.c.id))
        return [Document(r.reference, r.sha256) for r in rows]

    def queue(self, *, funder_id: int | None, limit: int) -> list[Claim]:
        t = tables.claims
        q = (select(t).where(t.c.status == ClaimStatus.UNDER_REVIEW.value)
             .order_by(t.c.trigger_on.asc().nulls_last(), t.c.opened_on, t.c.id).limit(limit))
        if funder_id is not None:
            q = q.where(t.c.funder_id == funder_id)
        return [self._from_row(r) for r in self._c.execute(q)]

    def vintage(self, funder_id: int, start: date, end: date) -> tuple[int, int]:
        c, ln = tables.claims, loan_tables.loans
        loans = self._c.execute(select(func.count()).select_from(ln).where(
            ln.c.funder_id == funder_id, ln.c.start_date >= start, ln.c.start_date < end)
        ).scalar_one()
        claimed = self._c.execute(select(func.count()).select_from(
            c.join(ln, ln.c.id == c.c.loan_id)).where(
            c.c.funder_id == funder_id, c.c.status != ClaimStatus.DECLINED.value,
            ln.c.start_date >= start, ln.c.start_date < end)).scalar_one()
        return int(loans), int(claimed)

    def times(self, funder_id: int | None) -> list[ClaimTimes]:
        c, p = tables.claims, policy_tables.policies
        f = catalogue_tables.funders
        q = (select(f.c.code, p.c.product_code, c.c.trigger_on, c.c.decided_on, c.c.paid_on,
                    c.c.approvals)
             .select_from(c.join(p, p.c.id == c.c.policy_id).join(f, f.c.id == c.c.funder_id))
             .order_by(c.c.id))
        if funder_id is not None:
            q = q.where(c.c.funder_id == funder_id)
        return [ClaimTimes(r.code, r.product_code, r.trigger_on, r.decided_on, r.paid_on,
                           r.approvals == AUTOMATIC) for r in self._c.execute(q)]

    def approved_through(self, funder_id: int, through: date) -> list[Claim]:
        t = tables.claims
        rows = self._c.execute(select(t).where(
            t.c.funder_id == funder_id, t.c.status == ClaimStatus.APPROVED.value,
            t.c.decided_on <= through, t.c.settlement_id.is_(None)).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def paid_between(self, start: date, end: date) -> list[tuple[int, date]]:
        t = tables.claims
        rows = self._c.execute(select(t.c.amount_fen, t.c.paid_on).where(
            t.c.paid_on >= start, t.c.paid_on <= end).order_by(t.c.id))
        return [(r.amount_fen, r.paid_on) for r in rows]

    def get(self, claim_id: int) -> Claim | None:
        r = self._c.execute(select(tables.claims).where(tables.claims.c.id == claim_id)).first()
        return self._from_row(r) if r else None

    def for_policy(self, policy_id: int) -> list[Claim]:
        t = tables.claims
        rows = self._c.execute(select(t).where(t.c.policy_id == policy_id).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def for_policies(self, policy_ids: Iterable[int]) -> dict[int, list[Claim]]:
        found: dict[int, list[Claim]] = {pid: [] for pid in policy_ids}
        if found:
            for r in _by_policies().all(self._c, {"ids": list(found)}):
                found[r.policy_id].append(self._from_row(r))
        return found

    def page(self, *, status: ClaimStatus | None, funder_id: int | None, after_id: int,
             limit: int) -> list[Claim]:
        t = tables.claims
        q = select(t).where(t.c.id > after_id).order_by(t.c.id).limit(limit)
        if status is not None:
            q = q.where(t.c.status == status.value)
        if funder_id is not None:
            p = policy_tables.policies
            q = q.where(t.c.policy_id.in_(select(p.c.id).where(p.c.funder_id == funder_id)))
        return [self._from_row(r) for r in self._c.execute(q)]

    def search(self, filters: ClaimFilter, request: PageRequest) -> Page[ClaimRow]:
        t, p = tables.claims, policy_tables.policies
        joined = t.join(p, p.c.id == t.c.policy_id)
        where = _conditions(filters)
        total = self._c.execute(select(func.count()).select_from(joined).where(*where)
                                ).scalar_one()
        column = _sort_column(request.sort)
        order = ((column.desc(), t.c.id.desc()) if request.descending
                 else (column.asc(), t.c.id.asc()))
        rows = self._c.execute(select(t, p.c.funder_id).select_from(joined).where(*where)
                               .order_by(*order).limit(request.size).offset(request.offset))
        return Page([ClaimRow(self._from_row(r), r.funder_id) for r in rows], total, request)


def _conditions(f: ClaimFilter) -> list[Any]:
    """The WHERE terms of a claims list over claims joined with their policies."""
    t, p = tables.claims, policy_tables.policies
    terms: list[Any] = []
    if f.status is not None:
        terms.append(t.c.status == f.status.value)
    if f.funder_id is not None:
        terms.append(p.c.funder_id == f.funder_id)
    if f.opened_from is not None:
        terms.append(t.c.opened_on >= f.opened_from)
    if f.opened_to is not None:
        terms.append(t.c.opened_on <= f.opened_to)
    return terms


def _sort_column(key: str) -> Any:
    """The column of a sort key of ``CLAIM_SORTS`` (only those: never a name from outside)."""
    t = tables.claims
    columns = dict(zip(CLAIM_SORTS, (t.c.id, t.c.opened_on, t.c.amount_fen, t.c.status),
                       strict=True))
    if key not in columns:
        raise ValueError(f"claims do not sort by {key!r}")
    return columns[key]


class SqlRecoveryRepository(SqlRepository):
    @staticmethod
    def _from_row(r: Any) -> Recovery:
        return Recovery(claim_id=r.claim_id, received_on=r.received_on, amount_fen=r.amount_fen,
                        source=r.source, id=r.id)

    def add(self, recovery: Recovery, reference: str) -> Recovery:
        new_id = self._insert(tables.recoveries, {
            "claim_id": recovery.claim_id, "received_on": recovery.received_on,
            "amount_fen": recovery.amount_fen, "source": recovery.source,
            "reference": reference})
        return Recovery(claim_id=recovery.claim_id, received_on=recovery.received_on,
                        amount_fen=recovery.amount_fen, source=recovery.source, id=new_id)

    def for_claim(self, claim_id: int) -> list[Recovery]:
        t = tables.recoveries
        rows = self._c.execute(select(t).where(t.c.claim_id == claim_id).order_by(t.c.id))
        return [self._from_row(r) for r in rows]

    def get_by_reference(self, claim_id: int, reference: str) -> Recovery | None:
        t = tables.recoveries
        r = self._c.execute(select(t).where(t.c.claim_id == claim_id,
                                            t.c.reference == reference)).first()
        return self._from_row(r) if r else None

    @staticmethod
    def _right(r: Any) -> RecoveryRight:
        return RecoveryRight(r.claim_id, r.policy_id, r.loan_id, r.funder_id, r.application_id,
                             r.opened_on, r.amount_fen, r.principal_fen, r.interest_fen,
                             r.penalty_fen, RightStatus(r.status), r.closed_on, r.id)

    def add_right(self, right: RecoveryRight) -> RecoveryRight:
        right.id = self._insert(tables.recovery_rights, {
            "claim_id": right.claim_id, "policy_id": right.policy_id,
            "loan_id": right.loan_id, "funder_id": right.funder_id,
            "application_id": right.application_id, "opened_on": right.opened_on,
            "amount_fen": right.amount_fen, "principal_fen": right.principal_fen,
            "interest_fen": right.interest_fen, "penalty_fen": right.penalty_fen,
            "status": right.status.value, "closed_on": right.closed_on})
        self._drain(right)
        return right

    def save_right(self, right: RecoveryRight) -> None:
        t = tables.recovery_rights
        self._c.execute(update(t).where(t.c.id == right.id).values(
            status=right.status.value, closed_on=right.closed_on))
        self._drain(right)

    def right_for(self, claim_id: int) -> RecoveryRight | None:
        t = tables.recovery_rights
        r = self._c.execute(select(t).where(t.c.claim_id == claim_id)).first()
        return self._right(r) if r else None

    def rights(self, *, status: RightStatus | None, funder_id: int | None,
               limit: int) -> list[RightRow]:
        t, c = tables.recovery_rights, tables.claims
        q = (select(t, c.c.recovered_fen, loan_tables.loans.c.contract_no)
             .join(c, c.c.id == t.c.claim_id)
             .join(loan_tables.loans, loan_tables.loans.c.id == t.c.loan_id)
             .order_by(t.c.opened_on, t.c.id).limit(limit))
        if status is not None:
            q = q.where(t.c.status == status.value)
        if funder_id is not None:
            q = q.where(t.c.funder_id == funder_id)
        return [RightRow(self._right(r), r.recovered_fen, policy_number(r.policy_id),
                         r.contract_no) for r in self._c.execute(q)]


class SqlSettlementRepository(SqlRepository):
    @staticmethod
    def _from_row(r: Any) -> Settlement:
        return Settlement(r.funder_id, r.number, r.cycle_from, r.cycle_to, r.paid_on,
                          r.claims, r.total_fen, r.id)

    def add(self, settlement: Settlement) -> Settlement:
        new_id = self._insert(tables.claim_settlements, {
            "funder_id": settlement.funder_id, "number": settlement.number,
            "cycle_from": settlement.cycle_from, "cycle_to": settlement.cycle_to,
            "paid_on": settlement.paid_on, "claims": settlement.claims,
            "total_fen": settlement.total_fen})
        return Settlement(settlement.funder_id, settlement.number, settlement.cycle_from,
                          settlement.cycle_to, settlement.paid_on, settlement.claims,
                          settlement.total_fen, new_id)

    def get(self, settlement_id: int) -> Settlement | None:
        t = tables.claim_settlements
        r = self._c.execute(select(t).where(t.c.id == settlement_id)).first()
        return self._from_row(r) if r else None

    def for_cycle(self, funder_id: int, cycle_to: date) -> Settlement | None:
        t = tables.claim_settlements
        r = self._c.execute(select(t).where(t.c.funder_id == funder_id,
                                            t.c.cycle_to == cycle_to)).first()
        return self._from_row(r) if r else None

    def paid_between(self, funder_id: int, first: date, last: date) -> list[Settlement]:
        t = tables.claim_settlements
        q = (select(t).where(t.c.funder_id == funder_id, t.c.paid_on >= first,
                             t.c.paid_on <= last).order_by(t.c.paid_on, t.c.id))
        return [self._from_row(r) for r in self._c.execute(q)]

    def newest(self, funder_id: int | None, limit: int) -> list[Settlement]:
        t = tables.claim_settlements
        q = select(t).order_by(t.c.id.desc()).limit(limit)
        if funder_id is not None:
            q = q.where(t.c.funder_id == funder_id)
        return [self._from_row(r) for r in self._c.execute(q)]

    def lines(self, settlement_id: int) -> list[SettledClaim]:
        c, p, ln = tables.claims, policy_tables.policies, loan_tables.loans
        rows = self._c.execute(
            select(c, p.c.product_code, ln.c.contract_no)
            .select_from(c.join(p, p.c.id == c.c.policy_id).join(ln, ln.c.id == c.c.loan_id))
            .where(c.c.settlement_id == settlement_id).order_by(c.c.id))
        return [SettledClaim(SqlClaimRepository._from_row(r), policy_number(r.policy_id),
                             r.contract_no, r.product_code) for r in rows]
