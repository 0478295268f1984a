"""Liability determination (责任认定), the payout, and a claim's life through recovery."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from xinbao.catalogue.model.parties import InsuranceMode, PolicyRole
from xinbao.catalogue.model.products import (
    PremiumBasis,
    Product,
    ProductFamily,
    RefundMethod,
    RepaymentMethod,
)
from xinbao.claims.model import (
    Claim,
    ClaimStatus,
    Determination,
    Exclusion,
    determine_liability,
    trigger_reached,
)
from xinbao.kernel.errors import IllegalTransition
from xinbao.loans.model import Loan, Position, build_schedule, position
from xinbao.policy.model import Policy, PolicyStatus

START = date(2025, 1, 15)
FIRST_DUE = date(2025, 2, 15)
PRINCIPAL = 3_600_000


def product(**changes: object) -> Product:
    p = Product(
        code="CONSUMER-G", version=1, name="个人消费贷款保证保险", mode=InsuranceMode.GUARANTEE,
        family=ProductFamily.CONSUMER, min_amount_fen=100_000, max_amount_fen=20_000_000,
        min_term_months=3, max_term_months=36,
        repayment_methods=(RepaymentMethod.EQUAL_INSTALLMENT,), claim_trigger_dpd=90,
        waiting_period_days=30, coverage_share=Decimal("0.9"),
        premium_basis=PremiumBasis.PER_INSTALLMENT, monthly_premium_rate=Decimal("0.003"),
        refund_method=RefundMethod.PRO_RATA, effective_from=date(2025, 1, 1),
    )
    return replace(p, **changes)


def loan(principal: int = PRINCIPAL, term: int = 12) -> Loan:
    return Loan(
        funder_id=1, contract_no="LN-1", principal_fen=principal, annual_rate=Decimal("0.12"),
        term_months=term, method=RepaymentMethod.EQUAL_INSTALLMENT, start_date=START,
        installments=build_schedule(principal_fen=principal, annual_rate=Decimal("0.12"),
                                    term_months=term, method=RepaymentMethod.EQUAL_INSTALLMENT,
                                    start=START),
        id=3,
    )


def in_force_policy(**changes: object) -> Policy:
    p = Policy(
        application_id=1, product_code="CONSUMER-G", product_version=1,
        mode=InsuranceMode.GUARANTEE, funder_id=1, borrower_id_number="11010519491231002X",
        policyholder=PolicyRole.DEBTOR, insured=PolicyRole.CREDITOR, sum_insured_fen=PRINCIPAL,
        coverage_share=Decimal("0.9"), premium_basis=PremiumBasis.PER_INSTALLMENT,
        monthly_premium_rate=Decimal("0.003"), refund_method=RefundMethod.PRO_RATA,
        term_months=12, single_premium_fen=0, installment_premium_fen=10_800, quoted_on=START,
        id=7,
    )
    p.issue(on=START, start=START, loan_id=3)
    p.come_into_force(START)
    p.events.clear()
    for name, value in changes.items():
        setattr(p, name, value)
    return p


def unpaid_position(days_past_due: int = 90, the_loan: Loan | None = None) -> Position:
    """Nothing repaid; ``days_past_due`` days after the first due date."""
    the_loan = the_loan or loan()
    return position(the_loan.installments, {}, FIRST_DUE + timedelta(days=days_past_due))


def determine(*, policy: Policy | None = None, prod: Product | None = None,
              the_loan: Loan | None = None, pos: Position | None = None,
              exclusions: frozenset[Exclusion] = frozenset()) -> Determination:
    return determine_liability(policy=policy or in_force_policy(), product=prod or product(),
                               loan=the_loan or loan(), position=pos or unpaid_position(),
                               exclusions=exclusions)


def codes(d: Determination) -> list[str]:
    return [f.code for f in d.findings]


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- liability determination ------------------------------------------------------------------


def test_default_past_the_trigger_on_an_in_force_policy_is_covered():
    pos = unpaid_position(90)
    d = determine(pos=pos)
    assert d.covered
    assert d.findings == ()
    overdue_interest = sum(i.interest_fen for i in loan().installments[:4])  # Feb–May 15
    assert (d.principal_fen, d.interest_fen) == (PRINCIPAL, overdue_interest)
    assert d.amount_fen == half_up((PRINCIPAL + overdue_interest) * Decimal("0.9"))


def test_payout_is_outstanding_principal_plus_overdue_interest_times_the_share():
    # two installments repaid: principal outstanding falls, interest of the third is overdue
    the_loan = loan()
    paid = {i.number: (i.principal_fen, i.interest_fen) for i in the_loan.installments[:2]}
    pos = position(the_loan.installments, paid, date(2025, 4, 15) + timedelta(days=95))
    d = determine(pos=pos, the_loan=the_loan)
    assert d.covered
    outstanding = PRINCIPAL - sum(i.principal_fen for i in the_loan.installments[:2])
    overdue_interest = sum(i.interest_fen for i in the_loan.installments[2:6])  # Apr–Jul
    assert (d.principal_fen, d.interest_fen) == (outstanding, overdue_interest)
    assert d.amount_fen == half_up((outstanding + overdue_interest) * Decimal("0.9"))


@pytest.mark.parametrize(
    ("share", "principal", "interest", "amount"),
    [
        ("0.5", 1_000_001, 0, 500_001),  # 500,000.5 rounds up
        ("0.9", 1_000_000, 12_345, 911_111),  # 911,110.5 rounds up
        ("0.8", 1_000_000, 1, 800_001),  # 800,000.8
        ("1", 999_999, 1, 1_000_000),
    ],
)
def test_payout_rounds_half_up_to_the_fen(share, principal, interest, amount):
    pos = Position(as_of=date(2025, 6, 1), days_past_due=106, first_unpaid_due_date=FIRST_DUE,
                   outstanding_principal_fen=principal, overdue_principal_fen=0,
                   overdue_interest_fen=interest, paid_off=False)
    d = determine(policy=in_force_policy(coverage_share=Decimal(share)), pos=pos)
    assert d.covered
    assert d.amount_fen == amount


@pytest.mark.parametrize(
    "status", [PolicyStatus.ISSUED, PolicyStatus.EXPIRED, PolicyStatus.CANCELLED,
               PolicyStatus.CLAIMED, PolicyStatus.CLOSED],
)
def test_claim_is_declined_when_the_policy_is_not_in_force(status):
    d = determine(policy=in_force_policy(status=status))
    assert not d.covered
    assert codes(d) == ["CLM-NOT-IN-FORCE"]
    assert status.value in d.findings[0].message
    assert d.amount_fen == 0


def test_claim_is_declined_when_the_unpaid_installment_fell_due_after_cover_ended():
    d = determine(policy=in_force_policy(end_date=date(2025, 2, 14)))
    assert codes(d) == ["CLM-NOT-IN-FORCE"]
    assert "outside cover" in d.findings[0].message
    assert d.amount_fen == 0


def test_claim_is_declined_when_the_unpaid_installment_fell_due_before_cover_started():
    d = determine(policy=in_force_policy(start_date=date(2025, 3, 1)))
    assert "CLM-NOT-IN-FORCE" in codes(d)
    assert not d.covered


@pytest.mark.parametrize(("dpd", "covered"), [(1, False), (89, False), (90, True), (91, True)])
def test_claim_needs_the_product_trigger_in_days_past_due(dpd, covered):
    d = determine(pos=unpaid_position(dpd))
    assert d.covered is covered
    assert codes(d) == ([] if covered else ["CLM-TRIGGER-NOT-REACHED"])


def test_claim_with_a_shorter_product_trigger_is_covered_sooner():
    assert determine(prod=product(claim_trigger_dpd=60), pos=unpaid_position(60)).covered


@pytest.mark.parametrize(
    ("waiting_days", "covered"),
    [
        (0, True),
        (30, True),  # waiting ends 14 Feb, first unpaid due 15 Feb
        (31, False),  # waiting ends on the due date itself
        (90, False),
    ],
)
def test_claim_is_declined_when_the_first_unpaid_installment_fell_due_in_the_waiting_period(
    waiting_days, covered,
):
    d = determine(prod=product(waiting_period_days=waiting_days))
    assert d.covered is covered
    assert codes(d) == ([] if covered else ["CLM-WAITING-PERIOD"])


@pytest.mark.parametrize(("principal", "term"), [(PRINCIPAL + 1, 12), (PRINCIPAL, 24)])
def test_claim_is_declined_when_the_loan_is_not_as_insured(principal, term):
    the_loan = loan(principal=principal, term=term)
    d = determine(the_loan=the_loan, pos=unpaid_position(95, the_loan))
    assert codes(d) == ["CLM-LOAN-NOT-AS-INSURED"]
    assert d.amount_fen == 0


@pytest.mark.parametrize(
    ("exclusion", "code"),
    [
        (Exclusion.LENDING_RULES_BROKEN, "CLM-EXCLUSION-LENDING_RULES_BROKEN"),
        (Exclusion.TERMS_CHANGED_WITHOUT_CONSENT, "CLM-EXCLUSION-TERMS_CHANGED_WITHOUT_CONSENT"),
        (Exclusion.INSURED_FRAUD, "CLM-EXCLUSION-INSURED_FRAUD"),
        (Exclusion.FORCE_MAJEURE, "CLM-EXCLUSION-FORCE_MAJEURE"),
    ],
)
def test_claim_is_declined_when_an_exclusion_applies(exclusion, code):
    d = determine(exclusions=frozenset({exclusion}))
    assert codes(d) == [code]
    assert not d.covered and d.amount_fen == 0


def test_declined_claim_lists_every_failing_check_in_a_stable_order():
    the_loan = loan(principal=PRINCIPAL + 100)
    d = determine(
        policy=in_force_policy(status=PolicyStatus.EXPIRED),
        prod=product(waiting_period_days=60),
        the_loan=the_loan, pos=unpaid_position(10, the_loan),
        exclusions=frozenset({Exclusion.INSURED_FRAUD, Exclusion.FORCE_MAJEURE}),
    )
    assert codes(d) == [
        "CLM-NOT-IN-FORCE", "CLM-TRIGGER-NOT-REACHED", "CLM-WAITING-PERIOD",
        "CLM-LOAN-NOT-AS-INSURED", "CLM-EXCLUSION-FORCE_MAJEURE", "CLM-EXCLUSION-INSURED_FRAUD",
    ]
    assert d.amount_fen == 0
    assert d.principal_fen == PRINCIPAL + 100  # the figures are still reported


# --- the claim's life -------------------------------------------------------------------------

OPENED = date(2025, 5, 16)


def opened_claim(**determination_changes: object) -> Claim:
    d = replace(determine(), **determination_changes)
    return Claim.open(policy=in_force_policy(), loan=loan(), determination=d,
                      days_past_due=90, on=OPENED)


def paid_claim(amount_fen: int = 1_000_000) -> Claim:
    claim = opened_claim(amount_fen=amount_fen)
    claim.id = 5
    claim.pay(date(2025, 5, 20))
    claim.events.clear()
    return claim


def test_covered_determination_opens_a_claim_with_its_amount():
    d = determine()
    claim = Claim.open(policy=in_force_policy(), loan=loan(), determination=d, days_past_due=90,
                       on=OPENED)
    assert claim.status is ClaimStatus.OPEN
    assert (claim.policy_id, claim.loan_id, claim.opened_on) == (7, 3, OPENED)
    assert (claim.principal_fen, claim.interest_fen, claim.amount_fen) == (
        d.principal_fen, d.interest_fen, d.amount_fen)
    assert claim.reason_codes == ()
    assert [(e.name, e.data) for e in claim.events] == [
        ("ClaimOpened", {"to": "open", "policy_id": 7, "amount_fen": d.amount_fen,
                         "reason_codes": []})]


def test_declined_determination_records_a_declined_claim_with_its_reasons():
    d = determine(pos=unpaid_position(30))
    claim = Claim.open(policy=in_force_policy(), loan=loan(), determination=d, days_past_due=30,
                       on=OPENED)
    assert claim.status is ClaimStatus.DECLINED
    assert claim.reason_codes == ("CLM-TRIGGER-NOT-REACHED",)
    assert claim.amount_fen == 0
    assert [(e.name, e.data["reason_codes"]) for e in claim.events] == [
        ("ClaimDeclined", ["CLM-TRIGGER-NOT-REACHED"])]


def test_open_claim_is_paid_once_with_an_event():
    claim = opened_claim(amount_fen=1_000_000)
    claim.id = 5
    claim.events.clear()
    claim.pay(date(2025, 5, 20))
    assert claim.status is ClaimStatus.PAID
    assert claim.paid_on == date(2025, 5, 20)
    assert [(e.name, e.aggregate_id, e.on, e.data) for e in claim.events] == [
        ("ClaimPaid", 5, date(2025, 5, 20),
         {"from": "open", "to": "paid", "amount_fen": 1_000_000})]
    with pytest.raises(IllegalTransition):
        claim.pay(date(2025, 5, 21))
    assert claim.paid_on == date(2025, 5, 20)
    assert len(claim.events) == 1


def test_declined_claim_cannot_be_paid():
    claim = Claim.open(policy=in_force_policy(), loan=loan(),
                       determination=determine(pos=unpaid_position(10)), days_past_due=10,
                       on=OPENED)
    with pytest.raises(IllegalTransition, match="declined: cannot pay"):
        claim.pay(OPENED)
    assert claim.status is ClaimStatus.DECLINED
    assert claim.paid_on is None


def test_only_a_paid_claim_has_anything_to_recover():
    assert opened_claim(amount_fen=1_000).recoverable_fen == 0
    assert paid_claim(1_000).recoverable_fen == 1_000


def test_recovery_cannot_be_recorded_before_the_claim_is_paid():
    claim = opened_claim()
    with pytest.raises(IllegalTransition, match="record a recovery"):
        claim.record_recovery(100, OPENED, final=False)
    assert claim.recovered_fen == 0
    assert [e.name for e in claim.events] == ["ClaimOpened"]


def test_partial_recovery_keeps_the_claim_paid_and_reduces_what_is_recoverable():
    claim = paid_claim(1_000_000)
    claim.record_recovery(300_000, date(2025, 7, 1), final=False)
    assert claim.status is ClaimStatus.PAID
    assert claim.recovered_fen == 300_000
    assert claim.recoverable_fen == 700_000
    assert [(e.name, e.data) for e in claim.events] == [
        ("RecoveryRecorded", {"amount_fen": 300_000, "final": False})]


def test_final_recovery_closes_the_claim_even_when_short():
    claim = paid_claim(1_000_000)
    claim.record_recovery(300_000, date(2025, 7, 1), final=False)
    claim.record_recovery(100_000, date(2025, 8, 1), final=True)
    assert claim.status is ClaimStatus.CLOSED
    assert claim.recovered_fen == 400_000
    assert claim.recoverable_fen == 0
    assert [(e.name, e.on, e.data) for e in claim.events[1:]] == [
        ("RecoveryRecorded", date(2025, 8, 1), {"amount_fen": 100_000, "final": True}),
        ("ClaimClosed", date(2025, 8, 1),
         {"from": "paid", "to": "closed", "recovered_fen": 400_000}),
    ]


def test_recovering_the_whole_indemnity_closes_the_claim():
    claim = paid_claim(1_000_000)
    claim.record_recovery(600_000, date(2025, 7, 1), final=False)
    claim.record_recovery(400_000, date(2025, 8, 1), final=False)
    assert claim.status is ClaimStatus.CLOSED
    assert [e.name for e in claim.events] == [
        "RecoveryRecorded", "RecoveryRecorded", "ClaimClosed"]


def test_closed_claim_accepts_no_more_recoveries():
    claim = paid_claim(1_000)
    claim.record_recovery(1_000, date(2025, 7, 1), final=False)
    with pytest.raises(IllegalTransition):
        claim.record_recovery(1, date(2025, 8, 1), final=False)
    assert claim.recovered_fen == 1_000


@pytest.mark.parametrize("dpd, trigger, reached", [(79, 80, False), (80, 80, True),
                                                   (81, 80, True), (0, 1, False),
                                                   (90, 90, True)])
def test_the_claim_event_is_non_payment_for_the_products_trigger_days_or_more(
        dpd, trigger, reached) -> None:
    assert trigger_reached(dpd, trigger) is reached
