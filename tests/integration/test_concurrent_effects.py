"""Twenty callers send one command at once: one effect, one event, every caller the winner's
answer, never a 5xx, the ledger balanced (issue 19).

The commands are those that change state and post to the ledger (approve with its quote,
issue with its premium, a repayment with its premium, a prepayment with its refund, paid-in
capital, the end-of-day batch with premium earned); claim payments and recoveries are raced in
``test_concurrent_claims.py`` and applications in ``test_concurrent_retries.py``. Each caller
has its own client or unit of work, so its own connection and transaction. On PostgreSQL they
run at once (a unique index or a row lock makes the losers wait, then collide); SQLite has one
writer. The loser's transaction is rolled back and the use case runs again
(``kernel.retries``), finding the winner's change as a repeat.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests import builders as b
from tests import support
from xinbao.bootstrap import Container
from xinbao.ledger import model as accounts
from xinbao.ledger import services as ledger
from xinbao.ledger import tables as ledger_tables
from xinbao.ledger.commands import InjectCapital, ReverseEntry
from xinbao.loans import tables as loan_tables
from xinbao.policy.model import PolicyStatus
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.risk.model import exposure
from xinbao.underwriting import services as applications
from xinbao.underwriting.model import ApplicationStatus

CALLERS = 20
OPS = ["underwriting_approver", "finance", "risk_manager", "claims_adjuster", "collector",
       "auditor"]


@pytest.fixture
def container(decided_container: Container) -> Container:
    return decided_container


@pytest.fixture
def ops(container: Container) -> dict[str, str]:
    return support.bearer(support.api_token(container, "ops", OPS))


def posts(app: FastAPI, headers: dict[str, str], path: str, body: dict[str, Any]) -> list[Any]:
    """``CALLERS`` posts of one body at once, each from its own client."""

    def send(_: int) -> Any:
        client = TestClient(app, raise_server_exceptions=False)
        return client.post(path, json=body, headers=headers)

    return support.race(CALLERS, send)


def statuses(answers: list[Any]) -> list[int]:
    return sorted(a.status_code for a in answers)


def events(container: Container, name: str, aggregate: str, aggregate_id: int) -> int:
    with container.uow() as u:
        return sum(1 for r in u.events.records()
                   if r.name == name and r.aggregate == aggregate
                   and r.aggregate_id == aggregate_id)


def entries(container: Container, source_command: str) -> int:
    t = ledger_tables.journal_entries
    return rows(container, t.select().where(t.c.source_command == source_command).subquery())


def rows(container: Container, table: Any) -> int:
    with container.engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar_one()


def balanced(container: Container) -> bool:
    return ledger.trial_balance(container.uow()).total == 0


def test_racing_approvals_over_http_decide_once(decided_app, container, ops):
    application = applications.submit_application(b.consumer_application(), container.uow())

    answers = posts(decided_app, ops, f"/v1/applications/{application.id}/approve",
                    {"on": b.START.isoformat()})

    assert statuses(answers) == [200] * CALLERS
    assert len({(a.json()["application"]["status"], a.json()["policy"]["id"])
                for a in answers}) == 1
    assert events(container, "ApplicationApproved", "application", application.id) == 1
    assert events(container, "PolicyQuoted", "policy", answers[0].json()["policy"]["id"]) == 1


def test_racing_approvals_from_several_servers_decide_once_and_reserve_once(container):
    """Callers beside the API's in-process batcher (several server processes, the CLI)."""
    application = applications.submit_application(b.consumer_application(), container.uow())

    results = support.race(CALLERS, lambda _: approval.approve_application(
        ApproveApplication(application.id, b.START), container.uow(), container.risk))

    assert {r.application.status for r in results} == {ApplicationStatus.APPROVED}
    assert len({r.policy.id for r in results if r.policy is not None}) == 1
    assert events(container, "ApplicationApproved", "application", application.id) == 1
    total = (exposure.RETAINED, "all")
    with container.uow() as u:
        assert u.counters.get([total])[total].used_fen == results[0].decision.approved_fen


def test_racing_issues_of_one_loan_issue_it_once_and_post_its_premium_once(decided_app, container,
                                                                            ops):
    decided = b.approve(container.uow, applications.submit_application(
        b.car_application(), container.uow()).id)
    assert decided.policy is not None and decided.policy.single_premium_fen > 0
    policy_id = decided.policy.id

    answers = posts(decided_app, ops, f"/v1/policies/{policy_id}/issue",
                    {"contract_no": "LN-RACE", "disbursed_on": b.START.isoformat()})

    assert statuses(answers) == [200] * CALLERS
    assert len({(a.json()["id"], a.json()["loan_id"]) for a in answers}) == 1
    assert events(container, "PolicyIssued", "policy", policy_id) == 1
    assert events(container, "LoanDisbursed", "loan", answers[0].json()["loan_id"]) == 1
    assert rows(container, loan_tables.loans) == 1
    assert entries(container, "IssuePolicy") == 1
    assert balanced(container)


def test_racing_repayments_with_premium_record_one_and_collect_its_premium_once(decided_app,
                                                                                container,
                                                                                ops):
    policy = b.issued_policy(container.uow)
    assert policy.installment_premium_fen > 0
    with container.uow() as u:
        first = u.loans.get(policy.loan_id).installments[0]

    answers = posts(decided_app, ops, f"/v1/loans/{policy.loan_id}/repayments", {
        "installment_number": 1, "paid_on": first.due_date.isoformat(),
        "principal_fen": first.principal_fen, "interest_fen": first.interest_fen,
        "premium_fen": policy.installment_with_vat_fen, "reference": "TX-RACE"})

    assert statuses(answers) == [201] * CALLERS
    assert len({a.json()["id"] for a in answers}) == 1
    with container.uow() as u:
        assert len(u.repayments.for_loan(policy.loan_id)) == 1
    assert entries(container, "CollectPremium") == 1
    assert entries(container, "WriteInstallmentPremium") == 1
    tb = ledger.trial_balance(container.uow())
    assert tb.total == 0
    assert tb.balance(accounts.BANK) > 0


def test_racing_prepayments_settle_once_and_refund_once(decided_app, container, ops):
    policy = b.issued_policy(container.uow, b.car_application())
    assert policy.single_premium_fen > 0
    paid_on = b.START + timedelta(days=20)

    answers = posts(decided_app, ops, f"/v1/loans/{policy.loan_id}/prepayment",
                    {"paid_on": paid_on.isoformat(), "interest_fen": 0,
                     "reference": "PP-RACE"})

    assert statuses(answers) == [200] * CALLERS
    (settlement,) = {tuple(sorted(a.json().items())) for a in answers}
    refunded = dict(settlement)["refunded_fen"]
    assert refunded > 0
    assert events(container, "LoanPrepaid", "loan", policy.loan_id) == 1
    assert entries(container, "RefundPremium") == 1
    with container.uow() as u:
        assert u.policies.get(policy.id).status is PolicyStatus.CLOSED
        assert u.policies.get(policy.id).refunded_fen == refunded
    assert balanced(container)


def test_a_prepayment_sent_again_later_gets_the_same_settlement(decided_app, container, ops):
    policy = b.issued_policy(container.uow, b.car_application())
    body = {"paid_on": (b.START + timedelta(days=20)).isoformat(), "reference": "PP-1"}
    client = TestClient(decided_app)

    first = client.post(f"/v1/loans/{policy.loan_id}/prepayment", json=body, headers=ops)
    again = client.post(f"/v1/loans/{policy.loan_id}/prepayment", json=body, headers=ops)
    other = client.post(f"/v1/loans/{policy.loan_id}/prepayment",
                        json={**body, "reference": "PP-2"}, headers=ops)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert other.status_code == 409  # a second prepayment of a settled loan
    assert events(container, "LoanPrepaid", "loan", policy.loan_id) == 1


def test_racing_capital_injections_of_one_payment_post_it_once(container):
    cmd = InjectCapital(on=b.START, amount_fen=500_000_000, reference="WIRE-RACE")

    results = support.race(CALLERS, lambda _: ledger.receive_capital(cmd, container.uow()))

    assert len({r.entry.id for r in results}) == 1
    assert sorted(r.repeat for r in results) == [False] + [True] * (CALLERS - 1)
    assert events(container, "CapitalInjected", "journal_entry", results[0].entry.id) == 1
    assert balanced(container)


def test_racing_reversals_of_one_entry_reverse_it_once(container):
    wire = ledger.receive_capital(InjectCapital(on=b.START, amount_fen=100_000_000,
                                                reference="WIRE-WRONG"), container.uow()).entry
    cmd = ReverseEntry(entry_id=wire.id, on=b.START, reason="sent twice by the bank",
                       idempotency_key="REV-1")

    results = support.race(CALLERS, lambda _: ledger.reverse_entry(cmd, container.uow()))

    assert len({r.id for r in results}) == 1
    assert events(container, "EntryReversed", "journal_entry", results[0].id) == 1
    assert balanced(container)


def test_racing_end_of_day_runs_earn_premium_once(decided_app, container, ops):
    policy = b.issued_policy(container.uow, b.car_application())
    month_end = date(2025, 2, 28)  # a month of cover run
    earned_before = entries(container, "EarnPremium")

    answers = posts(decided_app, ops, "/v1/batch/end-of-day", {"on": month_end.isoformat()})

    assert statuses(answers) == [200] * CALLERS
    assert sorted(a.json()["run"] for a in answers) == list(range(1, CALLERS + 1))
    first = next(a.json() for a in answers if a.json()["run"] == 1)
    assert first["premium_earned_fen"] > 0
    assert all(a.json()["premium_earned_fen"] == 0 for a in answers if a.json()["run"] > 1)
    assert entries(container, "EarnPremium") == earned_before + 1
    with container.uow() as u:
        assert u.policies.get(policy.id).earned_fen == first["premium_earned_fen"]
    assert balanced(container)
