"""Concurrent payments and recoveries of one claim record one state change.

Twenty-four callers pay the same open claim at once, each from its own thread, connection and
transaction; then twenty-four record the same recovery (one receipt reference). On PostgreSQL
they really run at once (the claim's conditional UPDATE waits on the row lock, then matches
nothing); SQLite serializes writers. Whatever the interleaving: every caller gets the stored
result, the ledger holds one entry and the audit trail one event per change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests import builders as b
from xinbao.bootstrap import Container
from xinbao.claims import postings as claims_postings
from xinbao.claims import services as claims
from xinbao.claims.commands import ApproveClaim, PayClaim, RecordRecovery
from xinbao.claims.model import ClaimStatus
from xinbao.ledger import model as accounts
from xinbao.ledger import services as ledger
from xinbao.ledger import tables as ledger_tables
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment, RunEndOfDay

THREADS = 24


@pytest.fixture
def container(decided_container: Container) -> Container:
    return decided_container


def _open_claim(container: Container) -> tuple[int, Any]:
    """A claim opened by the end of day on a loan in default after one repayment."""
    policy = b.issued_policy(container.uow)
    with container.uow() as u:
        loan = u.loans.get(policy.loan_id)
    first = loan.installments[0]
    servicing.record_repayment(RecordRepayment(
        loan_id=loan.id, installment_number=1, paid_on=first.due_date,
        principal_fen=first.principal_fen, interest_fen=first.interest_fen,
        premium_fen=policy.installment_with_vat_fen, reference=f"TX-{loan.id}-1"),
        container.uow())
    missed_due = loan.installments[1].due_date
    report = servicing.run_end_of_day(RunEndOfDay(missed_due + timedelta(days=85)),
                                      container.uow())
    # A very early default: referred to a person, approved before it is paid.
    claim_id = report.claims_opened[0]
    claims.approve_claim(ApproveClaim(claim_id, missed_due + timedelta(days=86), "reviewed"),
                         container.uow())
    return claim_id, missed_due + timedelta(days=95)


def _race(call: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    start = threading.Barrier(THREADS)
    results: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            results.append(call())
        except Exception as exc:  # noqa: BLE001 - any failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results, errors


def _events(container: Container, name: str, claim_id: int) -> int:
    with container.uow() as u:
        return sum(1 for r in u.events.records()
                   if r.name == name and r.aggregate == "claim" and r.aggregate_id == claim_id)


def _entries(container: Container, source_command: str) -> int:
    t = ledger_tables.journal_entries
    with container.engine.connect() as c:
        return c.execute(select(func.count()).select_from(t)
                         .where(t.c.source_command == source_command)).scalar_one()


def test_racing_payments_of_one_claim_pay_it_once_and_record_one_event(container):
    claim_id, paid_on = _open_claim(container)

    results, errors = _race(lambda: claims.pay_claim(PayClaim(claim_id, paid_on),
                                                     container.uow()))

    assert errors == []
    assert len(results) == THREADS
    assert all(c.status is ClaimStatus.PAID and c.paid_on == paid_on for c in results)
    assert _events(container, "ClaimPaid", claim_id) == 1
    assert _entries(container, "PayClaim") == 1
    tb = ledger.trial_balance(container.uow())
    assert tb.total == 0
    assert tb.balance(accounts.CLAIMS_PAID) == results[0].amount_fen


def test_racing_repeats_of_one_recovery_record_it_once(container):
    claim_id, paid_on = _open_claim(container)
    paid = claims.pay_claim(PayClaim(claim_id, paid_on), container.uow())
    part = paid.amount_fen // 3
    cmd = RecordRecovery(claim_id, part, paid_on + timedelta(days=30), "borrower", "R-1")

    results, errors = _race(lambda: claims.record_recovery(cmd, container.uow()))

    assert errors == []
    assert len(results) == THREADS
    assert len({r.id for r in results}) == 1
    with container.uow() as u:
        assert len(u.recoveries.for_claim(claim_id)) == 1
        assert u.claims.get(claim_id).recovered_fen == part
    assert _events(container, "RecoveryRecorded", claim_id) == 1
    assert _entries(container, "RecordRecovery") == 1
    tb = ledger.trial_balance(container.uow())
    assert tb.total == 0
    assert tb.balance(accounts.RECOVERIES) == -part


def test_a_payment_refused_in_a_batch_leaves_its_claim_open_and_pays_the_others(container):
    """A day's payments in one transaction: one whose indemnity cannot be posted (its key
    holds other lines) is refused before its claim is touched; the others are paid."""
    claim_id, paid_on = _open_claim(container)
    other = b.consumer_application(external_ref="APP-0002", borrower_phone="13900000002",
                                   borrower_id_number=b.RESIDENT_ID_2)
    policy = b.issued_policy(container.uow, other)
    with container.uow() as u:
        loan = u.loans.get(policy.loan_id)
    report = servicing.run_end_of_day(
        RunEndOfDay(loan.installments[0].due_date + timedelta(days=85)), container.uow())
    second = next(c for c in report.claims_opened if c != claim_id)
    claims.approve_claim(ApproveClaim(second, paid_on, "reviewed"), container.uow())
    with container.uow() as u:  # an entry under the first claim's key, with other lines
        clash = claims_postings.indemnity_paid(on=paid_on, claim_id=claim_id, amount_fen=1,
                                               reserve_fen=1)
        u.ledger.add(clash)
        u.commit()

    outcome = claims.pay_claims([PayClaim(claim_id, paid_on), PayClaim(second, paid_on)],
                                container.uow())

    assert [r.index for r in outcome.rejected] == [0]
    assert [c.id for c in outcome.accepted] == [second]
    with container.uow() as u:
        assert u.claims.get(claim_id).status is ClaimStatus.APPROVED
        assert u.claims.get(second).status is ClaimStatus.PAID
    assert _events(container, "ClaimPaid", claim_id) == 0
    assert ledger.trial_balance(container.uow()).total == 0
