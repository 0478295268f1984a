"""Installment premium billing (issue 23), on SQLite and PostgreSQL: each policy keeps the
premium collected on it, so its premium receivable is its own (written less collected); the
wording's consequence of premium left unpaid: netted against the claim paid on the policy
(both shipped wordings) — the insured paid that much less, posted once — or, where a wording
says so, the policy lapses once the oldest unpaid premium is past the agreement's grace."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests import builders as b
from xinbao.bootstrap import Container
from xinbao.claims import services as claims
from xinbao.claims.commands import FileClaim, PayClaim
from xinbao.iam.model.security import Principal, Role
from xinbao.kernel.money import apply_rate
from xinbao.ledger import model as gl
from xinbao.ledger import services as ledger
from xinbao.policy.model import EndorsementKind, Policy, PolicyStatus
from xinbao.policy.rules import PolicyRules
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import RecordRepayment, RunEndOfDay

PAYER = Principal("user", "li.na", frozenset({Role.CLAIMS_APPROVER}))


@pytest.fixture
def c(decided_container: Container) -> Container:
    return decided_container


def _stored(c: Container, policy: Policy) -> Policy:
    with c.uow() as u:
        return u.policies.get(policy.id)


def _pay(c: Container, policy: Policy, number: int, *, premium: bool = True) -> None:
    with c.uow() as u:
        loan = u.loans.get(policy.loan_id)
    i = loan.installments[number - 1]
    servicing.record_repayment(RecordRepayment(
        loan.id, number, i.due_date, i.principal_fen, i.interest_fen, f"TX-{number}",
        premium_fen=policy.installment_with_vat_fen if premium else 0), c.uow())


def test_each_policy_keeps_the_premium_collected_on_it(c):
    policy = b.issued_policy(c.uow, b.consumer_application())
    for n in (1, 2, 3):
        _pay(c, policy, n)
    assert _stored(c, policy).premium_due_fen == 0
    _pay(c, policy, 4, premium=False)  # the installment reported without its premium

    stored = _stored(c, policy)
    # Collected and owed with the VAT on each premium, as the borrower pays it.
    p = policy.installment_premium_fen + policy.installment_vat_fen
    assert policy.installment_vat_fen == apply_rate(policy.installment_premium_fen,
                                                    Decimal("0.06"))
    assert (stored.installments_written, stored.installments_collected_fen) == (4, 3 * p)
    assert stored.premium_due_fen == p and stored.first_unpaid_premium() == 4
    tb = ledger.trial_balance(c.uow())
    assert tb.balance(gl.PREMIUM_RECEIVABLE) == p
    assert tb.balance(gl.OUTPUT_VAT) == -4 * policy.installment_vat_fen == -stored.output_vat_fen


def test_premium_left_unpaid_is_netted_against_the_claim_paid_on_the_policy(c):
    policy = b.issued_policy(c.uow, b.consumer_application())
    for n in (1, 2, 3):
        _pay(c, policy, n)
    with c.uow() as u:
        loan = u.loans.get(policy.loan_id)
        product = u.products.get(policy.product_code, policy.product_version)
    trigger = loan.installments[3].due_date + timedelta(days=product.claim_trigger_dpd)
    # The day before the trigger the batch has written the premiums fallen due meanwhile.
    servicing.run_end_of_day(RunEndOfDay(trigger - timedelta(days=1)), c.uow())
    claim = claims.file_claim(FileClaim(policy.id, trigger), c.uow())
    due = _stored(c, policy).premium_due_fen
    assert due > 0  # the installments the borrower stopped paying, and their premium
    bank_before = ledger.trial_balance(c.uow()).balance(gl.BANK)

    paid = claims.pay_claim(PayClaim(claim.id, trigger + timedelta(days=2)), c.uow(PAYER))

    tb = ledger.trial_balance(c.uow())
    assert tb.total == 0
    assert tb.balance(gl.PREMIUM_RECEIVABLE) == 0  # nothing left owed after the claim
    assert bank_before - tb.balance(gl.BANK) == paid.amount_fen - due
    stored = _stored(c, policy)
    assert stored.premium_due_fen == 0 and stored.status is PolicyStatus.CLAIMED
    with c.uow() as u:
        netted = [e for e in u.ledger.entries() if e.source_command == "NetPremium"]
        events = [e for e in u.events.list(aggregate="claim", aggregate_id=claim.id)
                  if e.name == "PremiumNetted"]
    assert len(netted) == 1 and events[0].data["netted_fen"] == due
    assert events[0].data["paid_fen"] == paid.amount_fen - due
    again = claims.pay_claim(PayClaim(claim.id, trigger + timedelta(days=3)), c.uow(PAYER))
    assert again.amount_fen == paid.amount_fen
    with c.uow() as u:
        assert len([e for e in u.ledger.entries() if e.source_command == "NetPremium"]) == 1


def test_where_the_wording_says_lapse_the_policy_lapses_after_the_grace(c):
    rules = PolicyRules("test", 15, unpaid_premium={"guarantee": "lapse"})
    policy = b.issued_policy(c.uow, b.consumer_application())
    _pay(c, policy, 1)
    _pay(c, policy, 2, premium=False)
    with c.uow() as u:
        due = u.loans.get(policy.loan_id).installments[1].due_date
    last_day = due + timedelta(days=30)  # BANK-A's agreement: 30 days' grace

    kept = servicing.run_end_of_day(RunEndOfDay(last_day), c.uow(), rules)
    shipped = servicing.run_end_of_day(RunEndOfDay(last_day + timedelta(days=1)), c.uow())
    assert kept.policies_lapsed == shipped.policies_lapsed == []  # shipped wordings net
    report = servicing.run_end_of_day(RunEndOfDay(last_day + timedelta(days=2)), c.uow(),
                                      rules)

    assert report.policies_lapsed == [policy.id]
    stored = _stored(c, policy)
    assert (stored.status, stored.version) == (PolicyStatus.CANCELLED, 2)
    # Still owed: the premium of installment 2 and of those fallen due since.
    written = stored.installment_premium_written_fen + stored.installment_vat_written_fen
    assert stored.premium_due_fen == written - policy.installment_with_vat_fen >= (
        policy.installment_with_vat_fen)
    with c.uow() as u:
        [lapse] = u.policies.endorsements(policy.id)
    assert (lapse.kind, lapse.details["installment"], lapse.details["grace_days"]) == (
        EndorsementKind.LAPSE, 2, 30)
    again = servicing.run_end_of_day(RunEndOfDay(last_day + timedelta(days=3)), c.uow(),
                                     rules)
    assert again.policies_lapsed == []
