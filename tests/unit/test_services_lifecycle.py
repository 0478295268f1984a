"""The thin lifecycle through the use cases on the in-memory unit of work (no database), and
on SQLite for the tests that run the end-of-day batch (marked ``end_of_day``): its set
questions are answered in SQL only."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from tests import builders as b
from tests.fakes.memory import InMemoryUnitOfWork, Store
from xinbao.catalogue.model.parties import PolicyRole
from xinbao.claims import services as claims
from xinbao.claims.commands import ApproveClaim, FileClaim, PayClaim, RecordRecovery
from xinbao.claims.model import ClaimStatus, Exclusion
from xinbao.kernel.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from xinbao.kernel.money import apply_rate
from xinbao.ledger import model as ledger
from xinbao.ledger import services as ledger_service
from xinbao.ledger.commands import ReverseEntry
from xinbao.loans.model import LoanStatus
from xinbao.policy import services as policies
from xinbao.policy.commands import IssuePolicy
from xinbao.policy.model import PolicyStatus
from xinbao.reporting import services as reporting
from xinbao.risk import approval
from xinbao.risk.commands import ApproveApplication
from xinbao.risk.model.decision import Outcome
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import (
    RecordMissedInstallment,
    RecordPrepayment,
    RecordRepayment,
    RunEndOfDay,
)
from xinbao.underwriting import services as applications
from xinbao.underwriting.model import ApplicationStatus, CollateralKind, CollateralOffer, Profile


@pytest.fixture
def uow(request):
    if request.node.get_closest_marker("end_of_day"):
        factory = request.getfixturevalue("sqlite_uow")
    else:
        store = Store()
        factory = lambda: InMemoryUnitOfWork(store)  # noqa: E731 - a factory per call, like the app
    b.seed(factory)
    return factory


def _snapshot(uow) -> tuple:
    with uow() as u:
        return (u.applications.count(), len(u.ledger.entries()), len(u.events.list()),
                u.policies.count_by_status())


def _loan(uow, policy):
    with uow() as u:
        return u.loans.get(policy.loan_id)


def _pay(uow, policy, loan, number: int, *, premium: bool = True, late_days: int = 0):
    inst = loan.installments[number - 1]
    return servicing.record_repayment(RecordRepayment(
        loan_id=loan.id, installment_number=number,
        paid_on=inst.due_date + timedelta(days=late_days), principal_fen=inst.principal_fen,
        interest_fen=inst.interest_fen,
        premium_fen=policy.installment_with_vat_fen if premium else 0,
        reference=f"TX-{loan.id}-{number}"), uow())


def _trial_balance(uow):
    return ledger_service.trial_balance(uow())


def test_guarantee_application_assigns_debtor_as_policyholder_and_creditor_as_insured(uow):
    app = applications.submit_application(b.consumer_application(), uow())
    assert app.status is ApplicationStatus.SUBMITTED
    assert (app.roles.policyholder, app.roles.insured) == (PolicyRole.DEBTOR, PolicyRole.CREDITOR)
    assert app.product_version == 1


def test_credit_insurance_makes_the_funder_policyholder_and_insured(uow):
    app = applications.submit_application(b.sme_application(), uow())
    assert (app.roles.policyholder, app.roles.insured) == (PolicyRole.CREDITOR,
                                                           PolicyRole.CREDITOR)


@pytest.mark.parametrize(("changes", "field", "rule"), [
    ({"borrower_id_number": "110105194912310021"}, "borrower_id_number", "resident_id.gb11643"),
    ({"amount_fen": 0}, "amount_fen", "loan.amount_positive"),
    ({"amount_fen": -100}, "amount_fen", "loan.amount_positive"),
    ({"product_code": "NOPE"}, "product_code", "product.known"),
    ({"term_months": 48}, "term_months", "product.term_range"),
    ({"term_months": 0}, "term_months", "loan.term_positive"),
    ({"policyholder_id": b.CREDIT_CODE_BANK}, "policyholder_id", "roles.guarantee.policyholder"),
    ({"insured_id": b.RESIDENT_ID}, "insured_id", "roles.guarantee.insured"),
    ({"funder_code": "NOBODY"}, "funder_code", "funder.known"),
    ({"borrower_phone": "12345"}, "borrower_phone", "phone.cn_mobile"),
    ({"borrower_bank_card": "6222021234567890120"}, "borrower_bank_card", "bank_card.luhn"),
    ({"annual_rate": Decimal("-0.01")}, "annual_rate", "loan.rate_range"),
    ({"applied_on": date(2023, 6, 1)}, "product_code", "product.known"),
])
def test_bad_applications_are_refused_naming_field_and_rule_and_nothing_is_written(
        uow, changes, field, rule):
    before = _snapshot(uow)
    with pytest.raises(InvalidInput) as refused:
        applications.submit_application(b.consumer_application(**changes), uow())
    assert (field, rule) in {(e.field, e.rule) for e in refused.value.errors}
    assert _snapshot(uow) == before


def test_credit_insurance_refuses_the_borrower_as_policyholder(uow):
    with pytest.raises(InvalidInput) as refused:
        applications.submit_application(
            b.sme_application(policyholder_id=b.CREDIT_CODE_SME), uow())
    assert refused.value.errors[0].rule == "roles.credit.policyholder"


def test_an_unlicensed_funder_cannot_be_covered(uow):
    from xinbao.catalogue import services as catalogue

    catalogue.register_funder(b.bank("SHADOW", licensed=False), uow())
    with pytest.raises(InvalidInput) as refused:
        applications.submit_application(b.consumer_application(funder_code="SHADOW"), uow())
    assert refused.value.errors[0].rule == "funder.licensed"


def test_a_product_outside_the_funders_agreement_is_refused(uow):
    from xinbao.catalogue import services as catalogue

    catalogue.register_funder(b.bank("CONSUMER-ONLY", products=("CONSUMER-G",)), uow())
    with pytest.raises(InvalidInput) as refused:
        applications.submit_application(b.sme_application(funder_code="CONSUMER-ONLY"), uow())
    assert ("product_code", "funder.agreement") in {
        (e.field, e.rule) for e in refused.value.errors}
    assert applications.submit_application(
        b.consumer_application(funder_code="CONSUMER-ONLY"), uow()).id


def test_an_enterprise_borrower_is_refused_for_a_consumer_product(uow):
    with pytest.raises(InvalidInput) as refused:
        applications.submit_application(b.sme_application(product_code="CONSUMER-G"), uow())
    assert "product.borrower_kind" in {e.rule for e in refused.value.errors}


def test_every_broken_rule_is_reported_at_once(uow):
    with pytest.raises(InvalidInput) as refused:
        applications.submit_application(b.consumer_application(
            borrower_id_number="123", borrower_phone="1", term_months=99), uow())
    assert {e.field for e in refused.value.errors} >= {
        "borrower_id_number", "borrower_phone", "term_months"}


def test_an_amount_beyond_the_product_is_cut_to_the_product_maximum(uow):
    app = applications.submit_application(b.consumer_application(
        amount_fen=50_000_000, profile=Profile(monthly_income_fen=50_000_000)), uow())
    result = b.approve(uow, app.id)
    assert result.application.status is ApplicationStatus.APPROVED
    assert result.decision.outcome is Outcome.APPROVE_CHANGED
    assert result.decision.approved_fen == 20_000_000  # the product's maximum
    assert "LIM-PRODUCT-MAX" in result.decision.reason_codes  # with the per-borrower cap
    assert result.policy.principal_insured_fen == 20_000_000


def test_an_amount_below_the_product_is_declined_with_a_reason_and_no_quote(uow):
    app = applications.submit_application(b.consumer_application(amount_fen=50_000), uow())
    result = b.approve(uow, app.id)
    assert result.application.status is ApplicationStatus.DECLINED
    assert result.application.reason_codes[0] == "UW-AMOUNT-RANGE"
    assert result.policy is None


def test_resubmitting_the_same_funder_reference_returns_the_stored_application(uow):
    first = applications.submit_application(b.consumer_application(), uow())
    again = applications.submit_application(b.consumer_application(), uow())
    assert again.id == first.id
    with pytest.raises(Conflict):
        applications.submit_application(b.consumer_application(amount_fen=4_000_000), uow())


def test_approval_quotes_installment_premium_on_the_sum_insured(uow):
    app = applications.submit_application(b.consumer_application(), uow())
    result = b.approve(uow, app.id)
    quote = result.policy
    assert quote is not None and quote.status is PolicyStatus.QUOTED
    # 36,000 yuan × 0.60 % a month = 216 yuan with each of 12 installments
    assert quote.installment_premium_fen == 21_600
    assert quote.single_premium_fen == 0
    assert quote.total_premium_fen == 21_600 * 12
    # VAT on top at the regulatory parameters' 6 %, kept by the quote.
    assert (quote.vat_rate, quote.installment_vat_fen) == (Decimal("0.06"), 1_296)
    assert quote.total_vat_fen == 1_296 * 12 and quote.installment_with_vat_fen == 22_896


def test_issuing_a_single_premium_policy_posts_written_deferred_commission_and_cash(uow):
    policy = b.issued_policy(uow, b.car_application())
    # 120,000 yuan × 0.25 % × 24 months
    assert policy.single_premium_fen == 720_000
    assert policy.status is PolicyStatus.IN_FORCE
    tb = _trial_balance(uow)
    assert tb.total == 0
    assert tb.balance(ledger.WRITTEN_PREMIUM) == -720_000
    assert tb.balance(ledger.UNEARNED_PREMIUM_RESERVE) == -720_000
    # The borrower pays the premium and its 6 % VAT, which is owed to the tax office.
    assert (policy.vat_rate, policy.single_vat_fen) == (Decimal("0.06"), 43_200)
    assert tb.balance(ledger.OUTPUT_VAT) == -43_200
    assert tb.balance(ledger.BANK) == b.CAPITAL_FEN + 720_000 + 43_200
    assert tb.balance(ledger.PREMIUM_RECEIVABLE) == 0
    assert tb.balance(ledger.COMMISSION_PAYABLE) == -72_000  # the bank's 10 %
    loan = _loan(uow, policy)
    assert sum(i.principal_fen for i in loan.installments) == 12_000_000
    assert policy.end_date == loan.maturity_date


def test_issuing_twice_with_the_same_contract_is_a_no_op_and_with_another_a_conflict(uow):
    policy = b.issued_policy(uow, b.car_application())
    entries = _snapshot(uow)
    again = policies.issue_policy(IssuePolicy(policy.id, "LN-APP-CAR-1", b.START, b.START),
                                  uow())
    assert again.id == policy.id and _snapshot(uow) == entries
    with pytest.raises(IllegalTransition):
        policies.issue_policy(IssuePolicy(policy.id, "LN-OTHER", b.START, b.START), uow())


def test_repayments_collect_installment_premium_and_a_retry_is_ignored(uow):
    policy = b.issued_policy(uow)
    loan = _loan(uow, policy)
    _pay(uow, policy, loan, 1)
    before = _snapshot(uow)
    _pay(uow, policy, loan, 1)  # the funder's file sent twice
    assert _snapshot(uow) == before
    tb = _trial_balance(uow)
    assert tb.balance(ledger.WRITTEN_PREMIUM) == -21_600
    assert tb.balance(ledger.OUTPUT_VAT) == -1_296  # 6 % on top, paid with the premium
    assert tb.balance(ledger.BANK) == b.CAPITAL_FEN + 21_600 + 1_296
    assert tb.balance(ledger.PREMIUM_RECEIVABLE) == 0


def test_an_overpayment_of_an_installment_is_refused(uow):
    policy = b.issued_policy(uow)
    loan = _loan(uow, policy)
    inst = loan.installments[0]
    with pytest.raises(InvalidInput) as refused:
        servicing.record_repayment(RecordRepayment(
            loan_id=loan.id, installment_number=1, paid_on=inst.due_date,
            principal_fen=inst.principal_fen + 1, interest_fen=inst.interest_fen,
            reference="TX-X"), uow())
    assert refused.value.errors[0].rule == "repayment.overpayment"


def test_a_missed_installment_is_recorded_only_after_its_due_date(uow):
    policy = b.issued_policy(uow)
    loan = _loan(uow, policy)
    due = loan.installments[0].due_date
    with pytest.raises(InvalidInput):
        servicing.record_missed_installment(RecordMissedInstallment(loan.id, 1, due), uow())
    event = servicing.record_missed_installment(
        RecordMissedInstallment(loan.id, 1, due + timedelta(days=5)), uow())
    assert event.name == "InstallmentMissed" and event.data["days_past_due"] == 5


def _default_after(uow, policy, paid: int):
    loan = _loan(uow, policy)
    for n in range(1, paid + 1):
        _pay(uow, policy, loan, n)
    return loan, loan.installments[paid].due_date


@pytest.mark.end_of_day
def test_end_of_day_opens_a_claim_once_days_past_due_reach_the_trigger(uow):
    policy = b.issued_policy(uow)
    # Three installments paid: no early default, so the claim is approved automatically.
    loan, missed_due = _default_after(uow, policy, paid=3)
    before_trigger = servicing.run_end_of_day(RunEndOfDay(missed_due + timedelta(days=79)), uow())
    assert before_trigger.claims_opened == []
    assert before_trigger.policies_overdue == 1
    assert _loan(uow, policy).days_past_due(missed_due + timedelta(days=79)) == 79
    report = servicing.run_end_of_day(RunEndOfDay(missed_due + timedelta(days=80)), uow())
    assert len(report.claims_opened) == 1
    with uow() as u:
        claim = u.claims.get(report.claims_opened[0])
        claimed = u.policies.get(policy.id)
    remaining = loan.installments[3:]
    overdue = [i for i in remaining if i.due_date < missed_due + timedelta(days=80)]
    assert claim.principal_fen == sum(i.principal_fen for i in remaining)
    assert claim.interest_fen == sum(i.interest_fen for i in overdue)
    assert claim.amount_fen == claim.principal_fen + claim.interest_fen  # 100 % coverage
    assert claimed.status is PolicyStatus.CLAIMED
    assert _trial_balance(uow).balance(ledger.CLAIM_RESERVE) == -claim.amount_fen
    again = servicing.run_end_of_day(RunEndOfDay(missed_due + timedelta(days=80)), uow())
    assert again.claims_opened == [] and again.policies_overdue == 0


@pytest.mark.end_of_day
def test_paying_and_recovering_a_claim_moves_the_money_and_closes_the_policy(uow):
    policy = b.issued_policy(uow)
    _, missed_due = _default_after(uow, policy, paid=1)
    report = servicing.run_end_of_day(RunEndOfDay(missed_due + timedelta(days=85)), uow())
    claim_id = report.claims_opened[0]
    paid_on = missed_due + timedelta(days=95)
    # A very early default (the second installment): claim anti-fraud refers it to a
    # person, who approves it before it is paid.
    with pytest.raises(IllegalTransition):
        claims.pay_claim(PayClaim(claim_id, paid_on), uow())
    claims.approve_claim(ApproveClaim(claim_id, paid_on, "reviewed"), uow())
    paid = claims.pay_claim(PayClaim(claim_id, paid_on), uow())
    assert paid.status is ClaimStatus.PAID
    assert claims.pay_claim(PayClaim(claim_id, paid_on), uow()).status is ClaimStatus.PAID
    tb = _trial_balance(uow)
    assert tb.balance(ledger.CLAIMS_PAID) == paid.amount_fen
    assert tb.balance(ledger.CLAIM_RESERVE) == 0
    with uow() as u:
        assert u.loans.get(paid.loan_id).status is LoanStatus.CLAIMED
    with pytest.raises(InvalidInput) as too_much:
        claims.record_recovery(RecordRecovery(claim_id, paid.amount_fen + 1,
                                              paid_on + timedelta(days=30), "borrower", "R1"),
                               uow())
    assert too_much.value.errors[0].rule == "recovery.scope"
    part = paid.amount_fen // 3
    claims.record_recovery(RecordRecovery(claim_id, part, paid_on + timedelta(days=30),
                                          "borrower", "R1"), uow())
    claims.record_recovery(RecordRecovery(claim_id, part, paid_on + timedelta(days=60),
                                          "collateral", "R2", final=True), uow())
    tb = _trial_balance(uow)
    assert tb.balance(ledger.RECOVERIES) == -2 * part
    assert tb.total == 0
    with uow() as u:
        assert u.claims.get(claim_id).status is ClaimStatus.CLOSED
        assert u.policies.get(policy.id).status is PolicyStatus.CLOSED
    st = reporting.portfolio_kpis(uow()).statement
    assert st.claims_incurred_fen == paid.amount_fen - 2 * part


@pytest.mark.end_of_day
def test_a_default_inside_the_waiting_period_is_declined_with_its_reason(uow):
    from xinbao.catalogue import services as catalogue

    mortgage = b.products()["MORTGAGE-C"]
    from dataclasses import replace

    catalogue.register_product(replace(mortgage, waiting_period_days=45), uow())
    policy = b.issued_policy(uow, b.consumer_application(
        external_ref="MTG-1", product_code="MORTGAGE-C", amount_fen=50_000_000,
        term_months=24, policyholder_id=b.CREDIT_CODE_BANK,
        profile=Profile(monthly_income_fen=10_000_000),
        collateral=CollateralOffer(CollateralKind.HOUSE, appraised_fen=300_000_000,
                                   city_tier=1)))
    loan = _loan(uow, policy)
    first_due = loan.installments[0].due_date  # 31 days after start: inside 45 days
    report = servicing.run_end_of_day(RunEndOfDay(first_due + timedelta(days=90)), uow())
    assert report.claims_opened == [] and len(report.claims_declined) == 1
    with uow() as u:
        claim = u.claims.get(report.claims_declined[0])
        assert u.policies.get(policy.id).status is PolicyStatus.IN_FORCE
    assert claim.status is ClaimStatus.DECLINED
    assert claim.reason_codes == ("CLM-WAITING-PERIOD",)
    assert claim.amount_fen == 0
    again = servicing.run_end_of_day(RunEndOfDay(first_due + timedelta(days=91)), uow())
    assert again.claims_declined == []  # a declined claim waits for a person, not a retry


def test_a_claim_notice_with_an_exclusion_is_declined(uow):
    policy = b.issued_policy(uow)
    _, missed_due = _default_after(uow, policy, paid=0)
    claim = claims.file_claim(FileClaim(policy.id, missed_due + timedelta(days=81),
                                        frozenset({Exclusion.INSURED_FRAUD})), uow())
    assert claim.status is ClaimStatus.DECLINED
    assert claim.reason_codes == ("CLM-EXCLUSION-INSURED_FRAUD",)
    with pytest.raises(IllegalTransition):
        claims.pay_claim(PayClaim(claim.id, missed_due + timedelta(days=90)), uow())


def test_a_claim_notice_before_the_trigger_is_declined(uow):
    policy = b.issued_policy(uow)
    _, missed_due = _default_after(uow, policy, paid=0)
    claim = claims.file_claim(FileClaim(policy.id, missed_due + timedelta(days=30)), uow())
    assert "CLM-TRIGGER-NOT-REACHED" in claim.reason_codes


@pytest.mark.end_of_day
def test_a_loan_repaid_to_maturity_expires_and_closes_its_policy(uow):
    policy = b.issued_policy(uow)
    loan = _loan(uow, policy)
    for n in range(1, 13):
        _pay(uow, policy, loan, n)
    report = servicing.run_end_of_day(RunEndOfDay(loan.maturity_date), uow())
    assert report.policies_expired == 1
    with uow() as u:
        assert u.policies.get(policy.id).status is PolicyStatus.CLOSED
        assert u.loans.get(loan.id).status is LoanStatus.PAID_OFF
        names = [e.name for e in u.events.list(aggregate="policy", aggregate_id=policy.id)]
    assert names == ["PolicyQuoted", "PolicyIssued", "PolicyCameIntoForce", "PolicyExpired",
                     "PolicyClosed"]
    st = reporting.portfolio_kpis(uow()).statement
    assert st.written_premium_fen == st.earned_premium_fen == 21_600 * 12


@pytest.mark.end_of_day
def test_single_premium_is_earned_over_the_cover_and_fully_by_maturity(uow):
    policy = b.issued_policy(uow, b.car_application())
    loan = _loan(uow, policy)
    servicing.run_end_of_day(RunEndOfDay(date(2025, 1, 31)), uow())
    with uow() as u:
        # Rule of 78: the first month's 24/300, 16 of its 31 days: 720,000 × 768 / 18,600
        assert u.policies.get(policy.id).earned_fen == 29_729
    servicing.run_end_of_day(RunEndOfDay(date(2025, 3, 31)), uow())
    with uow() as u:
        earned = u.policies.get(policy.id).earned_fen
    # two whole months of 24 and 16 of the third's 31 days:
    # unearned share (22 × 23 − 2 × 22 × 16/31) / (24 × 25), rounded half up
    unearned = Fraction(720_000 * (22 * 23 * 31 - 2 * 22 * 16), 31 * 24 * 25)
    assert earned == 720_000 - int(unearned + Fraction(1, 2))
    assert _trial_balance(uow).balance(ledger.UNEARNED_PREMIUM_RESERVE) == -(720_000 - earned)
    for n in range(1, 25):
        _pay(uow, policy, loan, n, premium=False)
    servicing.run_end_of_day(RunEndOfDay(loan.maturity_date), uow())
    tb = _trial_balance(uow)
    assert tb.balance(ledger.UNEARNED_PREMIUM_RESERVE) == 0
    st = reporting.portfolio_kpis(uow()).statement
    assert st.earned_premium_fen == policy.single_premium_fen


def test_prepayment_refunds_the_unearned_single_premium_by_rule_of_78(uow):
    policy = b.issued_policy(uow, b.car_application())  # CAR-G refunds by the Rule of 78
    loan = _loan(uow, policy)
    for n in range(1, 7):
        _pay(uow, policy, loan, n, premium=False)
    on = loan.installments[5].due_date  # six whole months of 24 elapsed
    outcome = servicing.record_prepayment(RecordPrepayment(loan.id, on, 0, "PP-1"), uow())
    # unearned share (18 × 19) / (24 × 25) = 0.57 of 720,000 fen
    assert outcome.refunded_fen == 410_400
    assert not outcome.expired
    tb = _trial_balance(uow)
    assert tb.balance(ledger.UNEARNED_PREMIUM_RESERVE) == 0
    assert tb.balance(ledger.WRITTEN_PREMIUM) == -(720_000 - 410_400)
    with uow() as u:
        assert u.policies.get(policy.id).status is PolicyStatus.CLOSED
        assert u.loans.get(loan.id).status is LoanStatus.PAID_OFF
    st = reporting.portfolio_kpis(uow()).statement
    assert st.earned_premium_fen == 720_000 - 410_400
    # The funder's commission on the refunded premium is clawed back at its rate.
    with uow() as u:
        rate = u.funders.get(policy.funder_id).commission_rate
    assert tb.balance(ledger.COMMISSION_EXPENSE) == apply_rate(720_000, rate) \
        - apply_rate(410_400, rate) == -tb.balance(ledger.COMMISSION_PAYABLE)


def test_prepayment_is_refused_while_installments_are_overdue(uow):
    policy = b.issued_policy(uow, b.car_application())
    loan = _loan(uow, policy)
    with pytest.raises(Conflict):
        servicing.record_prepayment(RecordPrepayment(
            loan.id, loan.installments[1].due_date, 0, "PP-1"), uow())


@pytest.mark.end_of_day
def test_a_repayment_after_the_claim_is_refused_as_it_is_a_recovery(uow):
    policy = b.issued_policy(uow)
    loan, missed_due = _default_after(uow, policy, paid=0)
    report = servicing.run_end_of_day(RunEndOfDay(missed_due + timedelta(days=81)), uow())
    claims.approve_claim(ApproveClaim(report.claims_opened[0], missed_due + timedelta(days=82),
                                      "first-payment default reviewed"), uow())
    claims.pay_claim(PayClaim(report.claims_opened[0], missed_due + timedelta(days=82)), uow())
    with pytest.raises(Conflict):
        _pay(uow, policy, loan, 2)


def test_a_reversal_undoes_an_entry_once_and_only_once(uow):
    b.issued_policy(uow, b.car_application())
    with uow() as u:
        original = u.ledger.entries()[1]  # the first after the capital paid in
    reversal = ledger_service.reverse_entry(
        ReverseEntry(original.id, b.START, "keyed twice", "REV-1"), uow())
    assert reversal.reverses_id == original.id
    capital_only = {ledger.BANK: b.CAPITAL_FEN, ledger.PAID_IN_CAPITAL: -b.CAPITAL_FEN}
    assert _trial_balance(uow).balances == {
        acct: capital_only.get(acct, 0) for acct in _trial_balance(uow).balances}
    assert ledger_service.reverse_entry(
        ReverseEntry(original.id, b.START, "keyed twice", "REV-1"), uow()).id == reversal.id
    with pytest.raises(Conflict):
        ledger_service.reverse_entry(ReverseEntry(original.id, b.START, "again", "REV-2"), uow())
    with pytest.raises(Conflict):
        ledger_service.reverse_entry(ReverseEntry(reversal.id, b.START, "undo", "REV-3"), uow())
    with pytest.raises(NotFound):
        ledger_service.reverse_entry(ReverseEntry(999, b.START, "x", "REV-4"), uow())


def test_a_repayment_file_records_good_lines_refuses_bad_ones_alone_and_ignores_repeats(uow):
    from xinbao.servicing.commands import IngestRepaymentFile, RepaymentRecord

    policy = b.issued_policy(uow)
    loan = _loan(uow, policy)
    first, second = loan.installments[0], loan.installments[1]

    def line(number, inst, reference, *, contract=loan.contract_no, extra=0):
        return RepaymentRecord(contract_no=contract, installment_number=number,
                               paid_on=inst.due_date, principal_fen=inst.principal_fen + extra,
                               interest_fen=inst.interest_fen, reference=reference,
                               premium_fen=policy.installment_with_vat_fen)

    records = (line(1, first, "T1"), line(2, second, "T2", contract="LN-NOBODY"),
               line(2, second, "T3", extra=1), line(1, first, "T1"))
    before = _snapshot(uow)
    result = servicing.ingest_repayment_file(IngestRepaymentFile(
        "BANK-A", "2025-02-15-1", first.due_date, records), uow())
    assert (result.accepted, result.repeated) == (1, 1)  # the line sent twice counts once
    assert [(r.index, type(r.error).__name__) for r in result.rejected] == [
        (1, "NotFound"), (2, "InvalidInput")]
    assert result.premium_collected_fen == policy.installment_with_vat_fen
    with uow() as u:
        assert len(u.repayments.for_loan(loan.id)) == 1
        assert u.loans.get(loan.id).first_unpaid_due_date == second.due_date
    assert _snapshot(uow) != before
    again = servicing.ingest_repayment_file(IngestRepaymentFile(
        "BANK-A", "2025-02-15-2", first.due_date, records[:1]), uow())
    assert (again.accepted, again.repeated, again.rejected) == (0, 1, ())
    tb = _trial_balance(uow)
    assert tb.balance(ledger.WRITTEN_PREMIUM) == -policy.installment_premium_fen
    assert tb.balance(ledger.PREMIUM_RECEIVABLE) == 0


def test_files_ingested_together_record_what_each_would_alone_and_all_or_nothing(uow):
    from xinbao.servicing.commands import IngestRepaymentFile, RepaymentRecord

    policy = b.issued_policy(uow)
    loan = _loan(uow, policy)
    first, second, third = loan.installments[:3]

    def line(inst, reference):
        return RepaymentRecord(contract_no=loan.contract_no, installment_number=inst.number,
                               paid_on=inst.due_date, principal_fen=inst.principal_fen,
                               interest_fen=inst.interest_fen, reference=reference,
                               premium_fen=policy.installment_with_vat_fen)

    before = _snapshot(uow)
    with pytest.raises(NotFound):  # a file of no known funder refuses the files with it
        servicing.ingest_repayment_files([
            IngestRepaymentFile("BANK-A", "F-1", first.due_date, (line(first, "T1"),)),
            IngestRepaymentFile("NOBODY", "F-X", first.due_date, (line(first, "T9"),))], uow())
    assert _snapshot(uow) == before
    results = servicing.ingest_repayment_files([
        IngestRepaymentFile("BANK-A", "F-1", first.due_date, (line(first, "T1"),)),
        IngestRepaymentFile("BANK-A", "F-2", second.due_date,
                            (line(second, "T2"), line(first, "T1")))], uow())
    assert [(r.accepted, r.repeated, r.rejected) for r in results] == [(1, 0, ()), (1, 1, ())]
    assert [r.premium_collected_fen for r in results] == [policy.installment_with_vat_fen] * 2
    with uow() as u:
        assert len(u.repayments.for_loan(loan.id)) == 2
        assert u.loans.get(loan.id).first_unpaid_due_date == third.due_date
    assert _trial_balance(uow).balance(ledger.WRITTEN_PREMIUM) == (
        -2 * policy.installment_premium_fen)


def test_an_application_file_stores_good_rows_and_refuses_bad_ones_alone(uow):
    from xinbao.underwriting.commands import SubmitApplicationFile

    rows = (b.consumer_application(external_ref="F-1"),
            b.consumer_application(external_ref="F-2", borrower_id_number="123"),
            b.consumer_application(external_ref="F-1"),  # a repeat of the first row
            b.consumer_application(external_ref="F-1", amount_fen=999_900))
    outcome = applications.submit_application_file(SubmitApplicationFile(rows), uow())
    assert [a.external_ref for a in outcome.accepted] == ["F-1", "F-1"]
    assert outcome.accepted[0].id == outcome.accepted[1].id
    assert [(r.index, type(r.error).__name__) for r in outcome.rejected] == [
        (1, "InvalidInput"), (3, "Conflict")]
    with uow() as u:
        assert u.applications.count() == 1


def test_a_disbursement_file_issues_each_loan_and_refuses_a_contract_twice(uow):
    from xinbao.policy.commands import IssuePolicies

    quotes = []
    for ref in ("D-1", "D-2"):
        app = applications.submit_application(b.car_application(external_ref=ref), uow())
        quotes.append(approval.approve_application(
            ApproveApplication(app.id, b.START), uow(), b.engine()).policy)
    outcome = policies.issue_policies(IssuePolicies((
        IssuePolicy(quotes[0].id, "LN-SAME", b.START, b.START),
        IssuePolicy(quotes[1].id, "LN-SAME", b.START, b.START),
        IssuePolicy(999, "LN-X", b.START, b.START))), uow())
    assert [i.loan.contract_no for i in outcome.accepted] == ["LN-SAME"]
    assert [(r.index, type(r.error).__name__) for r in outcome.rejected] == [
        (1, "Conflict"), (2, "NotFound")]
    tb = _trial_balance(uow)
    assert tb.balance(ledger.WRITTEN_PREMIUM) == -outcome.accepted[0].policy.single_premium_fen


@pytest.mark.end_of_day
def test_a_repayment_without_premium_still_writes_the_installment_premium_as_receivable(uow):
    policy = b.issued_policy(uow)
    loan = _loan(uow, policy)
    _pay(uow, policy, loan, 1, premium=False)
    tb = _trial_balance(uow)
    assert tb.balance(ledger.WRITTEN_PREMIUM) == -policy.installment_premium_fen
    assert tb.balance(ledger.PREMIUM_RECEIVABLE) == policy.installment_with_vat_fen
    report = servicing.run_end_of_day(RunEndOfDay(loan.installments[0].due_date), uow())
    assert report.premium_written_fen == 0  # nothing written twice
    missed = servicing.run_end_of_day(
        RunEndOfDay(loan.installments[1].due_date + timedelta(days=1)), uow())
    assert missed.premium_written_fen == policy.installment_premium_fen  # the unpaid one
