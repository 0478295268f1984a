"""Settling a repaid loan's policy (`Policy.settle`): refund and cancel before maturity, earn
the rest and expire at or after it, then close; and what the settlement posts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests import builders as b
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.catalogue.model.products import PremiumBasis, RefundMethod
from xinbao.kernel.errors import IllegalTransition
from xinbao.policy.model import Policy, PolicySettlement, PolicyStatus
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordPrepayment, RecordRepayment

START = date(2025, 1, 15)
MATURITY = date(2026, 1, 15)  # twelve months of cover


def in_force(**changes: object) -> Policy:
    """78,000 fen single premium over twelve months, refunded by the Rule of 78."""
    p = b.single_premium_policy(**changes)
    p.issue(on=START, start=START, loan_id=3, interest_fen=0)
    p.come_into_force(START)
    p.events.clear()
    return p


def moves(p: Policy) -> list[tuple[str, dict[str, object]]]:
    return [(e.name, dict(e.data)) for e in p.events]


# Before maturity: earn to date, refund the rest, cancel, close.


def test_a_prepaid_policy_earns_to_date_refunds_the_rest_by_rule_of_78_and_is_cancelled():
    p = in_force()
    settled = p.settle(date(2025, 7, 15), MATURITY)  # six whole months of twelve left
    # unearned share (6 × 7) / (12 × 13) of 78,000 = 21,000
    assert settled == PolicySettlement(expired=False, earned_fen=57_000,
                                       earned_through_fen=57_000, refunded_fen=21_000)
    assert (p.earned_fen, p.refunded_fen) == (57_000, 21_000)
    assert p.status is PolicyStatus.CLOSED
    assert moves(p) == [
        ("PolicyCancelled", {"from": "in_force", "to": "cancelled", "reason": "loan prepaid"}),
        ("PolicyClosed", {"from": "cancelled", "to": "closed", "reason": "loan repaid"}),
    ]


def test_a_prepayment_earns_only_what_the_month_end_closes_have_not_earned():
    p = in_force()
    # Two whole months and 16 of the third's 31 days: 1 − (10 × 11 − 2 × 10 × 16/31) / (12 × 13)
    assert p.earn(date(2025, 3, 31)) == 28_161
    settled = p.settle(date(2025, 7, 15), MATURITY)
    assert (settled.earned_fen, settled.earned_through_fen, settled.refunded_fen) == (
        57_000 - 28_161, 57_000, 21_000)
    assert p.earned_fen + p.refunded_fen == p.single_premium_fen


def test_a_prepayment_refunds_pro_rata_by_days_when_the_product_says_so():
    p = in_force(refund_method=RefundMethod.PRO_RATA)
    settled = p.settle(date(2025, 7, 15), MATURITY)
    # 184 days left of 365: 78,000 × 184 / 365 = 39,320.55 → 39,321 fen
    assert settled.refunded_fen == 39_321
    assert settled.earned_fen == 78_000 - 39_321


def test_the_day_before_maturity_is_still_a_prepayment():
    p = in_force()
    settled = p.settle(MATURITY - timedelta(days=1), MATURITY)
    assert not settled.expired
    # The last month's 1/78, less 30 of its 31 days: (1 × 2 − 2 × 30/31) / (12 × 13)
    assert settled.refunded_fen == 32
    assert [name for name, _ in moves(p)] == ["PolicyCancelled", "PolicyClosed"]


def test_a_prepaid_installment_premium_policy_has_nothing_to_earn_or_refund():
    p = in_force(premium_basis=PremiumBasis.PER_INSTALLMENT, single_premium_fen=0,
                 installment_premium_fen=6_500)
    settled = p.settle(date(2025, 7, 15), MATURITY)
    assert settled == PolicySettlement(expired=False, earned_fen=0, earned_through_fen=0,
                                       refunded_fen=0)
    assert (p.earned_fen, p.refunded_fen, p.status) == (0, 0, PolicyStatus.CLOSED)


# At or after maturity: earn the rest, expire, close.


@pytest.mark.parametrize("on", [MATURITY, MATURITY + timedelta(days=20)])
def test_a_policy_repaid_at_or_after_maturity_earns_the_rest_and_expires(on):
    p = in_force()
    p.earn(date(2025, 12, 31))  # eleven months and 16 of the last's 31 days: 77,516
    settled = p.settle(on, MATURITY)
    assert settled == PolicySettlement(expired=True, earned_fen=484,
                                       earned_through_fen=78_000, refunded_fen=0)
    assert (p.earned_fen, p.refunded_fen) == (78_000, 0)
    assert moves(p) == [
        ("PolicyExpired", {"from": "in_force", "to": "expired"}),
        ("PolicyClosed", {"from": "expired", "to": "closed", "reason": "loan repaid"}),
    ]


def test_the_loans_maturity_decides_the_branch_and_then_all_the_premium_is_earned():
    p = in_force()
    settled = p.settle(date(2025, 7, 15), date(2025, 7, 15))
    assert settled.expired and settled.refunded_fen == 0
    assert settled.earned_fen == p.earned_fen == 78_000


def test_a_policy_fully_earned_before_maturity_earns_nothing_more_when_it_expires():
    p = in_force()
    p.earn(MATURITY)
    settled = p.settle(MATURITY, MATURITY)
    assert (settled.earned_fen, settled.earned_through_fen) == (0, 78_000)


# Refused.


@pytest.mark.parametrize("on", [date(2025, 7, 15), MATURITY])
def test_a_policy_not_in_force_cannot_be_settled_and_is_left_as_it_was(on):
    p = in_force()
    p.mark_claimed(date(2025, 6, 1), 42)
    p.events.clear()
    with pytest.raises(IllegalTransition):
        p.settle(on, MATURITY)
    assert (p.status, p.earned_fen, p.refunded_fen, p.events) == (
        PolicyStatus.CLAIMED, 0, 0, [])


# Earning.


def test_earning_never_goes_back_and_all_of_it_earns_the_rest():
    p = in_force()
    assert p.earn(date(2025, 7, 15)) == 57_000
    assert p.earn(date(2025, 3, 31)) == 0  # a backdated close releases nothing
    assert p.earned_fen == 57_000
    assert p.earn(date(2025, 7, 20), all_of_it=True) == 21_000
    assert p.earned_fen == 78_000
    assert p.earn(MATURITY, all_of_it=True) == 0


# What the use case posts.


def test_a_prepayment_posts_the_earning_to_date_then_the_refund_keyed_by_the_policy():
    store = Store()

    def uow() -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(store)

    b.seed(uow)
    policy = b.issued_policy(uow, b.car_application())  # 720,000 fen, Rule of 78, 24 months
    with uow() as u:
        loan = u.loans.get(policy.loan_id)
    for inst in loan.installments[:6]:
        servicing.record_repayment(RecordRepayment(
            loan_id=loan.id, installment_number=inst.number, paid_on=inst.due_date,
            principal_fen=inst.principal_fen, interest_fen=inst.interest_fen, premium_fen=0,
            reference=f"TX-{inst.number}"), uow())
    on = loan.installments[5].due_date
    outcome = servicing.record_prepayment(RecordPrepayment(loan.id, on, 0, "PP-1"), uow())
    # the earning to date is posted but the settlement reports only the refund
    assert (outcome.expired, outcome.earned_fen, outcome.refunded_fen) == (False, 0, 410_400)
    with uow() as u:
        entries = u.ledger.entries(reference=f"policy:{policy.id}")
        stored = u.policies.get(policy.id)
    posted = [(e.source_command, e.idempotency_key) for e in entries]
    assert [source for source, _ in posted] == ["IssuePolicy", "EarnPremium", "RefundPremium"]
    assert posted[1:] == [("EarnPremium", f"policy:{policy.id}:309600"),
                          ("RefundPremium", f"policy:{policy.id}")]
    assert (stored.earned_fen, stored.refunded_fen) == (309_600, 410_400)
    assert stored.status is PolicyStatus.CLOSED
