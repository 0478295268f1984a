"""Liability determination (责任认定) as checks with evidence, the amount, and a claim's life
through its states (issue 22)."""

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
    CHECKS,
    TRANSITIONS,
    Assessment,
    Check,
    Claim,
    ClaimRules,
    ClaimSource,
    ClaimStatus,
    ClaimTimes,
    Document,
    Exclusion,
    Notice,
    RecoveryRight,
    Referral,
    RightStatus,
    RingFacts,
    ScreenFacts,
    assess,
    check_notice,
    parse_claim_parameters,
    screen,
    service_levels,
    trigger_reached,
)
from xinbao.iam.model.security import Forbidden
from xinbao.kernel.errors import IllegalTransition, InvalidInput
from xinbao.loans.model import Installment, Loan, build_schedule
from xinbao.policy.model import Policy, PolicyStatus

START = date(2025, 1, 15)
FIRST_DUE = date(2025, 2, 15)
PRINCIPAL = 3_600_000
RULES = ClaimRules(automatic_limit_fen=5_000_000)


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


def loan(principal: int = PRINCIPAL, term: int = 12, rate: str = "0.12",
         start: date = START) -> Loan:
    return Loan(
        funder_id=1, contract_no="LN-1", principal_fen=principal, annual_rate=Decimal(rate),
        term_months=term, method=RepaymentMethod.EQUAL_INSTALLMENT, start_date=start,
        installments=build_schedule(principal_fen=principal, annual_rate=Decimal(rate),
                                    term_months=term, method=RepaymentMethod.EQUAL_INSTALLMENT,
                                    start=start),
        id=3,
    )


def in_force_policy(**changes: object) -> Policy:
    p = Policy(
        application_id=1, product_code="CONSUMER-G", product_version=1,
        mode=InsuranceMode.GUARANTEE, funder_id=1, borrower_id_number="11010519491231002X",
        policyholder=PolicyRole.DEBTOR, insured=PolicyRole.CREDITOR,
        principal_insured_fen=PRINCIPAL,
        coverage_share=Decimal("0.9"), premium_basis=PremiumBasis.PER_INSTALLMENT,
        monthly_premium_rate=Decimal("0.003"), refund_method=RefundMethod.PRO_RATA,
        term_months=12, single_premium_fen=0, installment_premium_fen=10_800, quoted_on=START,
        id=7,
    )
    p.issue(on=START, start=START, loan_id=3,
            interest_fen=sum(i.interest_fen for i in loan().installments))
    p.come_into_force(START)
    p.events.clear()
    for name, value in changes.items():
        setattr(p, name, value)
    return p


def on_day(days_past_due: int) -> date:
    return FIRST_DUE + timedelta(days=days_past_due)


def run(*, policy: Policy | None = None, prod: Product | None = None,
        the_loan: Loan | None = None, paid: dict[int, tuple[int, int]] | None = None,
        dpd: int = 90, notice: Notice | None = None, rules: ClaimRules = RULES,
        standing: tuple[int, ...] = (),
        exclusions: dict[Exclusion, str] | None = None) -> Assessment:
    on = on_day(dpd)
    return assess(policy=policy or in_force_policy(), product=prod or product(),
                  loan=the_loan or loan(), paid=paid or {}, on=on,
                  notice=notice or Notice(ClaimSource.TRIGGER, on), rules=rules,
                  standing_claims=standing, exclusions=exclusions)


def failing(a: Assessment) -> list[str]:
    return list(a.reason_codes)


def the_check(a: Assessment, code: str) -> Check:
    return next(c for c in a.checks if c.code == code)


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- liability determination: every check, each with its evidence -----------------------------


def test_a_default_past_the_trigger_on_an_in_force_policy_passes_every_check():
    a = run()
    assert a.covered and failing(a) == []
    assert [c.code for c in a.checks] == list(CHECKS)
    assert all(c.message and c.evidence for c in a.checks)
    assert a.trigger_on == FIRST_DUE + timedelta(days=90)
    overdue_interest = sum(i.interest_fen for i in loan().installments[:4])  # Feb–May 15
    assert (a.amount.principal_fen, a.amount.interest_fen) == (PRINCIPAL, overdue_interest)
    assert a.amount.payable_fen == half_up((PRINCIPAL + overdue_interest) * Decimal("0.9"))


def test_the_amount_is_fixed_at_the_trigger_date_not_the_day_it_is_assessed():
    at_trigger = run(dpd=90)
    later = run(dpd=150)  # two more installments fell due since the trigger
    assert later.trigger_on == at_trigger.trigger_on
    assert later.amount == at_trigger.amount
    assert later.days_past_due == 150


def test_the_amount_is_outstanding_principal_plus_interest_due_times_the_share():
    the_loan = loan()
    paid = {i.number: (i.principal_fen, i.interest_fen) for i in the_loan.installments[:2]}
    a = assess(policy=in_force_policy(installments_written=2), product=product(),
               loan=the_loan, paid=paid, on=date(2025, 4, 15) + timedelta(days=95),
               notice=Notice(ClaimSource.TRIGGER, date(2025, 7, 19)), rules=RULES)
    assert a.covered
    outstanding = PRINCIPAL - sum(i.principal_fen for i in the_loan.installments[:2])
    interest = sum(i.interest_fen for i in the_loan.installments[2:5])  # Apr–Jun: trigger Jul 14
    assert (a.amount.principal_fen, a.amount.interest_fen) == (outstanding, interest)
    assert a.amount.payable_fen == half_up((outstanding + interest) * Decimal("0.9"))


def test_the_deductible_comes_off_the_gross_and_a_partial_claim_gets_at_most_its_ask():
    full = run()
    less = run(rules=replace(RULES, deductible_fen=50_000))
    assert less.amount.gross_fen == full.amount.gross_fen
    assert less.amount.payable_fen == full.amount.gross_fen - 50_000
    asked = run(notice=Notice(ClaimSource.NOTICE, on_day(90), "N-1", claimed_fen=1_000_000))
    assert asked.amount.payable_fen == 1_000_000
    assert asked.amount.claimed_fen == 1_000_000
    too_much = run(notice=Notice(ClaimSource.NOTICE, on_day(90), "N-1",
                                 claimed_fen=full.amount.gross_fen + 1))
    assert too_much.amount.payable_fen == full.amount.gross_fen


def test_what_is_payable_never_exceeds_the_sum_insured():
    # The sum insured is the limit (以保险金额为限): the principal and the scheduled interest
    # covered. A first-payment default at full cover owes the whole principal and three
    # months' interest, more than the principal but within the sum insured: all of it paid.
    scheduled = sum(i.interest_fen for i in loan().installments)
    full_cover = in_force_policy(coverage_share=Decimal("1"))
    a = run(policy=full_cover)
    assert a.covered
    owed = a.amount.principal_fen + a.amount.interest_fen
    assert PRINCIPAL < owed < PRINCIPAL + scheduled == a.amount.limit_fen
    assert a.amount.payable_fen == a.amount.gross_fen == owed and not a.amount.capped
    assert a.amount.as_data()["limit_fen"] == PRINCIPAL + scheduled
    # A cover that includes no interest is limited to its principal.
    principal_only = in_force_policy(coverage_share=Decimal("1"), interest_insured_fen=0)
    capped = run(policy=principal_only)
    assert capped.amount.limit_fen == PRINCIPAL < capped.amount.gross_fen == owed
    assert capped.amount.payable_fen == PRINCIPAL and capped.amount.capped
    # Below the limit nothing changes: 90% of what is owed is within the sum insured.
    share = run(policy=in_force_policy(interest_insured_fen=0))
    assert share.amount.payable_fen == share.amount.gross_fen < PRINCIPAL
    assert not share.amount.capped
    # A partial claim below the limit is what it asks; the deductible comes off first.
    asked = run(policy=principal_only, notice=Notice(ClaimSource.NOTICE, on_day(90), "N-1",
                                                     claimed_fen=PRINCIPAL - 1))
    assert asked.amount.payable_fen == PRINCIPAL - 1 and not asked.amount.capped
    less = run(policy=principal_only,
               rules=replace(RULES, deductible_fen=owed - PRINCIPAL + 7))
    assert less.amount.payable_fen == PRINCIPAL - 7 and not less.amount.capped


def test_penalty_interest_is_paid_only_where_the_wording_includes_it():
    assert run().amount.penalty_fen == 0
    with_penalty = run(rules=replace(RULES, penalty_included=True,
                                     penalty_daily_rate=Decimal("0.0005")))
    first = loan().installments[0]
    # Each overdue installment's unpaid amount × rate × days from its due date to the trigger.
    trigger = FIRST_DUE + timedelta(days=90)
    expected = sum(half_up(Decimal(i.total_fen * (trigger - i.due_date).days)
                           * Decimal("0.0005"))
                   for i in loan().installments if i.due_date < trigger)
    assert with_penalty.amount.penalty_fen == expected > first.total_fen // 100
    assert with_penalty.amount.gross_fen == half_up(
        (with_penalty.amount.principal_fen + with_penalty.amount.interest_fen + expected)
        * Decimal("0.9"))


@pytest.mark.parametrize(
    ("share", "principal_fen", "payable"),
    [("0.5", 1_000_001, 500_001), ("0.9", 1_000_001, 900_001), ("1", 999_999, 999_999)],
)
def test_payout_rounds_half_up_to_the_fen(share, principal_fen, payable):
    policy = in_force_policy(coverage_share=Decimal(share), principal_insured_fen=principal_fen)
    the_loan = loan(principal=principal_fen)
    paid = {i.number: (0, i.interest_fen) for i in the_loan.installments}
    a = run(policy=policy, the_loan=the_loan, paid=paid)
    assert a.covered
    assert a.amount.interest_fen == 0
    assert a.amount.payable_fen == payable


@pytest.mark.parametrize(
    "status", [PolicyStatus.ISSUED, PolicyStatus.EXPIRED, PolicyStatus.CLAIMED,
               PolicyStatus.CLOSED],
)
def test_a_policy_not_in_force_fails_its_check_with_the_status_as_evidence(status):
    a = run(policy=in_force_policy(status=status))
    assert failing(a) == ["CLM-NOT-IN-FORCE"]
    check = the_check(a, "CLM-NOT-IN-FORCE")
    assert check.evidence["policy_status"] == status.value
    assert status.value in check.message


def test_a_cancelled_policy_is_an_exclusion_read_from_the_book():
    a = run(policy=in_force_policy(status=PolicyStatus.CANCELLED))
    assert failing(a) == ["CLM-NOT-IN-FORCE", "CLM-EXCLUSION-POLICY_CANCELLED"]
    assert the_check(a, "CLM-EXCLUSION-POLICY_CANCELLED").evidence == {
        "policy_status": "cancelled"}


def test_a_default_outside_cover_fails_the_in_force_check_with_the_dates():
    a = run(policy=in_force_policy(end_date=date(2025, 2, 14)))
    assert failing(a) == ["CLM-NOT-IN-FORCE"]
    check = the_check(a, "CLM-NOT-IN-FORCE")
    assert "outside cover" in check.message
    assert check.evidence["end_date"] == "2025-02-14"
    assert check.evidence["first_unpaid_due_date"] == "2025-02-15"


@pytest.mark.parametrize(("dpd", "covered"), [(1, False), (89, False), (90, True), (91, True)])
def test_the_trigger_check_needs_the_products_days_past_due(dpd, covered):
    a = run(dpd=dpd)
    assert a.covered is covered
    assert failing(a) == ([] if covered else ["CLM-TRIGGER-NOT-REACHED"])
    assert a.waiting_for_trigger is (not covered)
    assert the_check(a, "CLM-TRIGGER-NOT-REACHED").evidence["days_past_due"] == dpd


def test_a_notice_on_a_loan_not_in_default_waits_for_its_trigger_only():
    # Eight installments paid with their premiums; noticed before the ninth falls due: the
    # premiums due by the notice are written, so only the trigger is missing (kept, not
    # declined), and the ninth's premium is not yet owed.
    the_loan = loan()
    paid = {i.number: (i.principal_fen, i.interest_fen) for i in the_loan.installments[:8]}
    on = the_loan.installments[8].due_date - timedelta(days=1)
    a = assess(policy=in_force_policy(installments_written=8), product=product(),
               loan=the_loan, paid=paid, on=on, notice=Notice(ClaimSource.NOTICE, on, "N-1"),
               rules=RULES)
    assert failing(a) == ["CLM-TRIGGER-NOT-REACHED"] and a.waiting_for_trigger
    assert the_check(a, "CLM-PREMIUM-UNPAID").evidence["installments_due"] == 7


@pytest.mark.parametrize(("waiting_days", "covered"), [(0, True), (30, True), (31, False)])
def test_a_default_within_the_waiting_period_fails_its_check(waiting_days, covered):
    a = run(prod=product(waiting_period_days=waiting_days))
    assert failing(a) == ([] if covered else ["CLM-WAITING-PERIOD"])
    assert the_check(a, "CLM-WAITING-PERIOD").evidence["waiting_period_days"] == waiting_days


@pytest.mark.parametrize(
    ("the_loan", "words"),
    [(loan(principal=PRINCIPAL + 100), "principal"), (loan(term=24), "term"),
     (loan(start=date(2025, 1, 16)), "start")],
)
def test_a_loan_not_as_insured_fails_its_check(the_loan, words):
    a = run(the_loan=the_loan)
    assert "CLM-LOAN-NOT-AS-INSURED" in failing(a)
    assert words in the_check(a, "CLM-LOAN-NOT-AS-INSURED").message


def test_a_loan_whose_schedule_was_changed_is_not_as_insured():
    changed = loan()
    first = changed.installments[0]
    changed.installments = (Installment(first.number, first.due_date, first.principal_fen,
                                        first.interest_fen + 1), *changed.installments[1:])
    a = run(the_loan=changed)
    assert failing(a) == ["CLM-LOAN-NOT-AS-INSURED"]
    assert "schedule" in the_check(a, "CLM-LOAN-NOT-AS-INSURED").message


def test_installment_premium_unpaid_past_the_grace_fails_its_check():
    # The default is on the 4th installment: three premiums were due before it.
    the_loan = loan()
    paid = {i.number: (i.principal_fen, i.interest_fen) for i in the_loan.installments[:3]}
    default = the_loan.installments[3].due_date
    on = default + timedelta(days=90)

    def with_written(n: int, grace: int = 30) -> Assessment:
        return assess(policy=in_force_policy(installments_written=n), product=product(),
                      loan=the_loan, paid=paid, on=on,
                      notice=Notice(ClaimSource.TRIGGER, on),
                      rules=replace(RULES, premium_grace_days=grace))

    assert with_written(3).covered
    # Within 30 days' grace only the premiums due before default − 30 days count: two.
    assert with_written(2).covered
    short = with_written(1)
    assert failing(short) == ["CLM-PREMIUM-UNPAID"]
    assert the_check(short, "CLM-PREMIUM-UNPAID").evidence["installments_due"] == 2
    assert the_check(short, "CLM-PREMIUM-UNPAID").evidence["installments_paid"] == 1
    assert failing(with_written(2, grace=0)) == ["CLM-PREMIUM-UNPAID"]


def test_a_single_premium_never_collected_fails_the_premium_check():
    policy = in_force_policy(installment_premium_fen=0, single_premium_fen=90_000,
                             premium_basis=PremiumBasis.SINGLE, issued_on=None)
    assert failing(run(policy=policy)) == ["CLM-PREMIUM-UNPAID"]
    assert run(policy=in_force_policy(installment_premium_fen=0, single_premium_fen=90_000,
                                      premium_basis=PremiumBasis.SINGLE)).covered


def test_a_notice_later_than_the_agreement_allows_fails_its_check():
    trigger = FIRST_DUE + timedelta(days=90)
    in_time = run(dpd=120, notice=Notice(ClaimSource.NOTICE, trigger + timedelta(days=30), "N"))
    late = run(dpd=121, notice=Notice(ClaimSource.NOTICE, trigger + timedelta(days=31), "N"))
    assert in_time.covered
    assert failing(late) == ["CLM-NOTICE-LATE"]
    assert the_check(late, "CLM-NOTICE-LATE").evidence == {
        "source": "notice", "notified_on": (trigger + timedelta(days=31)).isoformat(),
        "trigger_on": trigger.isoformat(), "notice_days": 30}
    # The end-of-day trigger and staff are not late: no notice limit applies to them.
    assert run(dpd=200).covered


def test_a_second_claim_on_a_policy_is_a_duplicate():
    a = run(standing=(41,))
    assert failing(a) == ["CLM-DUPLICATE"]
    assert the_check(a, "CLM-DUPLICATE").evidence == {"standing_claims": "41"}


def test_a_loan_rate_above_the_cap_is_excluded():
    the_loan = loan(rate="0.25")
    a = run(the_loan=the_loan, policy=in_force_policy())
    assert failing(a) == ["CLM-EXCLUSION-RATE_ABOVE_CAP"]
    assert the_check(a, "CLM-EXCLUSION-RATE_ABOVE_CAP").evidence == {
        "annual_rate": "0.25", "cap": "0.24"}


@pytest.mark.parametrize("exclusion", list(Exclusion))
def test_a_declared_exclusion_fails_with_its_code_and_what_shows_it(exclusion):
    a = run(exclusions={exclusion: "court ruling (2025) 京01民初123号"})
    code = f"CLM-EXCLUSION-{exclusion.value.upper()}"
    assert failing(a) == [code]
    assert the_check(a, code).evidence == {"declared": exclusion.value,
                                           "shown_by": "court ruling (2025) 京01民初123号"}


def test_every_failing_check_is_listed_in_a_stable_order():
    a = run(policy=in_force_policy(status=PolicyStatus.EXPIRED),
            prod=product(waiting_period_days=60), the_loan=loan(principal=PRINCIPAL + 100),
            dpd=10, standing=(3,),
            exclusions={Exclusion.INSURED_FRAUD: "x", Exclusion.FORCE_MAJEURE: "y"})
    assert failing(a) == [
        "CLM-NOT-IN-FORCE", "CLM-WAITING-PERIOD", "CLM-TRIGGER-NOT-REACHED",
        "CLM-LOAN-NOT-AS-INSURED", "CLM-DUPLICATE", "CLM-EXCLUSION-FORCE_MAJEURE",
        "CLM-EXCLUSION-INSURED_FRAUD"]
    assert not a.waiting_for_trigger


def test_a_check_survives_its_round_trip_as_data():
    for check in run(exclusions={Exclusion.FORCE_MAJEURE: "地震"}).checks:
        assert Check.from_data(check.as_data()) == check


# --- notices --------------------------------------------------------------------------------


def test_a_notice_is_refused_at_the_door_with_every_rule_it_breaks():
    with pytest.raises(InvalidInput) as refused:
        check_notice(reference=" ", claimed_fen=0,
                     documents=(Document("", "zz"), Document("a", "0" * 64),
                                Document("a", "0" * 64)), needs_reference=True)
    assert sorted(e.rule for e in refused.value.errors) == sorted([
        "claim.reference", "claim.claimed_amount", "claim.document_reference",
        "claim.document_hash", "claim.document_repeated"])
    check_notice(reference="N-1", claimed_fen=None, documents=(Document("a", "A" * 64),),
                 needs_reference=True)
    check_notice(reference=None, claimed_fen=None, documents=(), needs_reference=False)


# --- parameters -----------------------------------------------------------------------------


def test_claims_parameters_take_product_overrides_and_refuse_bad_values():
    p = parse_claim_parameters({"version": "1", "defaults": {"automatic_limit_fen": 10},
                                "products": {"SME-C": {"deductible_fen": 5}}},
                               rate_cap=Decimal("0.24"))
    assert p.for_product("CONSUMER-G").automatic_limit_fen == 10
    assert p.for_product("SME-C") == replace(p.defaults, deductible_fen=5)
    for bad in ({"deductible_fen": -1}, {"penalty_included": "yes"}, {"colour": 1},
                {"penalty_daily_rate": "0.5"}):
        with pytest.raises(ValueError):
            parse_claim_parameters({"version": "1", "defaults": bad}, rate_cap=Decimal(1))


# --- the claim's states ---------------------------------------------------------------------

NOTIFIED_ON = on_day(90)


def notified(**assessment: object) -> Claim:
    claim = Claim.notify(policy=in_force_policy(), loan=loan(),
                         notice=Notice(ClaimSource.NOTICE, NOTIFIED_ON, "N-1"))
    claim.id = 5
    claim.take(replace(run(), **assessment) if assessment else run(), reason="notice")
    claim.events.clear()
    return claim


def approved(amount_fen: int | None = None) -> Claim:
    claim = notified()
    if amount_fen is not None:
        claim.amount_fen = amount_fen
    claim.approve(by="user:li", authority_fen=None, on=NOTIFIED_ON, why="ok",
                  assessment_covered=True)
    claim.events.clear()
    return claim


def paid(amount_fen: int = 1_000_000) -> Claim:
    claim = approved(amount_fen)
    claim.pay(date(2025, 5, 20))
    claim.events.clear()
    return claim


def test_a_notice_makes_a_notified_claim_with_its_source_and_reference():
    claim = Claim.notify(policy=in_force_policy(), loan=loan(),
                         notice=Notice(ClaimSource.NOTICE, NOTIFIED_ON, "N-1", 900_000))
    assert (claim.status, claim.source, claim.reference, claim.claimed_fen, claim.funder_id) == (
        ClaimStatus.NOTIFIED, ClaimSource.NOTICE, "N-1", 900_000, 1)
    assert [(e.name, e.data["source"], e.data["reference"]) for e in claim.events] == [
        ("ClaimNotified", "notice", "N-1")]


def test_an_assessment_sets_the_claims_figures_and_says_how_much_it_changed():
    claim = notified()
    before = claim.amount_fen
    smaller = replace(run(), amount=replace(run().amount, payable_fen=before - 100))
    assert claim.take(smaller, reason="recalculation") == -100
    assert claim.amount_fen == before - 100
    assert claim.events[-1].data["difference_fen"] == -100


def test_only_the_transitions_of_the_table_are_allowed():
    assert TRANSITIONS[ClaimStatus.CLOSED] == frozenset()
    claim = paid()
    with pytest.raises(IllegalTransition):
        claim.review(date(2025, 6, 1), "again")
    with pytest.raises(IllegalTransition):
        claim.decline(on=date(2025, 6, 1), why="no", reason_codes=("X",))
    assert claim.status is ClaimStatus.PAID and claim.events == []


def test_approval_within_authority_approves_with_who_and_why():
    claim = notified()
    assert claim.approve(by="user:li", authority_fen=claim.amount_fen, on=NOTIFIED_ON,
                         why="documents complete", assessment_covered=True)
    assert claim.status is ClaimStatus.APPROVED and claim.decided_on == NOTIFIED_ON
    event = claim.events[-1]
    assert (event.name, event.data["by"], event.data["why"], event.data["from"]) == (
        "ClaimApproved", "user:li", "documents complete", "notified")


def test_above_authority_a_second_different_approver_completes_the_approval():
    claim = notified()
    assert not claim.approve(by="user:li", authority_fen=claim.amount_fen - 1, on=NOTIFIED_ON,
                             why="first", assessment_covered=True)
    assert claim.status is ClaimStatus.NOTIFIED and claim.approvals == ("user:li",)
    with pytest.raises(Forbidden, match="four-eyes"):
        claim.approve(by="user:li", authority_fen=None, on=NOTIFIED_ON, why="again",
                      assessment_covered=True)
    with pytest.raises(Forbidden, match="authority"):
        claim.approve(by="user:wang", authority_fen=claim.amount_fen - 1, on=NOTIFIED_ON,
                      why="second", assessment_covered=True)
    assert claim.approve(by="user:zhao", authority_fen=claim.amount_fen, on=NOTIFIED_ON,
                         why="second", assessment_covered=True)
    assert claim.status is ClaimStatus.APPROVED
    assert claim.approvals == ("user:li", "user:zhao")


def test_a_claim_with_a_failing_check_cannot_be_approved():
    claim = notified()
    with pytest.raises(InvalidInput, match="every check passes"):
        claim.approve(by="user:li", authority_fen=None, on=NOTIFIED_ON, why="",
                      assessment_covered=False)
    assert claim.status is ClaimStatus.NOTIFIED


def test_a_declined_claim_is_reopened_on_appeal_into_review():
    claim = notified()
    claim.decline(on=NOTIFIED_ON, why="fraud", reason_codes=("CLM-EXCLUSION-INSURED_FRAUD",))
    assert claim.status is ClaimStatus.DECLINED
    with pytest.raises(IllegalTransition, match="declined: cannot pay"):
        claim.pay(NOTIFIED_ON)
    claim.review(NOTIFIED_ON + timedelta(days=3), "the funder appealed with new documents")
    assert claim.status is ClaimStatus.UNDER_REVIEW
    assert [e.name for e in claim.events] == ["ClaimDeclined", "ClaimReopened"]


def test_an_approved_claim_is_paid_once_with_an_event():
    claim = approved(1_000_000)
    claim.pay(date(2025, 5, 20))
    assert claim.status is ClaimStatus.PAID and claim.paid_on == date(2025, 5, 20)
    assert [(e.name, e.data) for e in claim.events] == [
        ("ClaimPaid", {"from": "approved", "to": "paid", "amount_fen": 1_000_000})]
    with pytest.raises(IllegalTransition):
        claim.pay(date(2025, 5, 21))


def test_the_reserve_records_each_move():
    claim = notified()
    assert claim.reserve(1_000, NOTIFIED_ON) == 1_000
    assert claim.reserve(800, NOTIFIED_ON) == -200
    assert claim.reserve(800, NOTIFIED_ON) == 0
    assert [e.data["change_fen"] for e in claim.events] == [1_000, -200]


def test_only_a_paid_claim_has_anything_to_recover():
    assert approved(1_000).recoverable_fen == 0
    assert paid(1_000).recoverable_fen == 1_000


def test_a_partial_recovery_moves_the_claim_to_recovering():
    claim = paid(1_000_000)
    claim.record_recovery(300_000, date(2025, 7, 1), final=False)
    assert claim.status is ClaimStatus.RECOVERING
    assert claim.recoverable_fen == 700_000
    claim.record_recovery(100_000, date(2025, 8, 1), final=False)
    assert claim.status is ClaimStatus.RECOVERING
    assert [e.name for e in claim.events] == ["RecoveryRecorded", "ClaimRecovering",
                                              "RecoveryRecorded"]


def test_a_final_recovery_closes_the_claim_even_when_short():
    claim = paid(1_000_000)
    claim.record_recovery(300_000, date(2025, 7, 1), final=False)
    claim.record_recovery(100_000, date(2025, 8, 1), final=True)
    assert claim.status is ClaimStatus.CLOSED and claim.recovered_fen == 400_000
    assert claim.events[-1].data == {"from": "recovering", "to": "closed",
                                     "recovered_fen": 400_000}


def test_recovering_the_whole_indemnity_closes_the_claim_and_takes_no_more():
    claim = paid(1_000)
    claim.record_recovery(1_000, date(2025, 7, 1), final=False)
    assert claim.status is ClaimStatus.CLOSED
    with pytest.raises(IllegalTransition):
        claim.record_recovery(1, date(2025, 8, 1), final=False)


def test_a_recovery_before_payment_is_refused():
    claim = approved()
    with pytest.raises(IllegalTransition, match="record a recovery"):
        claim.record_recovery(100, NOTIFIED_ON, final=False)


def test_a_paid_claim_hands_its_recovery_right_to_collection_once():
    claim = paid(1_000_000)
    claim.id, claim.principal_fen, claim.interest_fen = 9, 1_050_000, 60_000
    right = RecoveryRight.of(claim, application_id=4, on=date(2025, 5, 20))
    assert (right.claim_id, right.policy_id, right.loan_id, right.application_id) == (
        9, claim.policy_id, claim.loan_id, 4)
    assert (right.amount_fen, right.principal_fen, right.interest_fen) == (
        1_000_000, 1_050_000, 60_000)
    assert right.status is RightStatus.OPEN and right.opened_on == date(2025, 5, 20)
    assert [(e.name, e.aggregate_id, e.data["amount_fen"]) for e in right.events] == [
        ("RecoveryRightCreated", 9, 1_000_000)]
    right.close(date(2025, 9, 1), recovered_fen=400_000)
    assert right.status is RightStatus.CLOSED and right.closed_on == date(2025, 9, 1)
    assert right.events[-1].data == {"recovered_fen": 400_000, "amount_fen": 1_000_000}
    with pytest.raises(IllegalTransition):
        right.close(date(2025, 9, 2), recovered_fen=400_000)


def test_only_a_paid_claim_gives_a_recovery_right():
    claim = approved(1_000)
    claim.id = 9
    with pytest.raises(IllegalTransition, match="recovery right"):
        RecoveryRight.of(claim, application_id=4, on=NOTIFIED_ON)


@pytest.mark.parametrize("dpd, trigger, reached", [(79, 80, False), (80, 80, True),
                                                   (81, 80, True), (0, 1, False)])
def test_the_claim_event_is_non_payment_for_the_products_trigger_days_or_more(
        dpd, trigger, reached) -> None:
    assert trigger_reached(dpd, trigger) is reached


# --- claim anti-fraud -------------------------------------------------------------------------


def facts(**changes: object) -> ScreenFacts:
    return replace(ScreenFacts(notices=1, vintage="2025-01", vintage_loans=100,
                               vintage_claims=1), **changes)


def referred(the_loan: Loan | None = None, default_installment: int = 5,
             **changes: object) -> list[str]:
    the_loan = the_loan or loan()
    default_on = the_loan.installments[default_installment - 1].due_date
    return [r.code for r in screen(loan=the_loan, default_on=default_on,
                                   facts=facts(**changes), rules=RULES)]


def test_a_claim_with_nothing_unusual_is_referred_to_nobody():
    assert referred() == []


def test_a_first_payment_or_very_early_default_is_referred():
    assert referred(default_installment=1) == ["CLM-FRAUD-FPD"]
    assert referred(default_installment=3) == ["CLM-FRAUD-EARLY-DEFAULT"]
    assert referred(default_installment=4) == []
    (found,) = screen(loan=loan(), default_on=loan().installments[1].due_date, facts=facts(),
                      rules=RULES)
    assert found.evidence == {"installment": 2, "due_date": "2025-03-15",
                              "early_installments": 3}


def test_a_borrower_in_an_identity_ring_is_referred_with_the_ring():
    ring = RingFacts(4, Decimal("0.5"), ("phone", "device_id"))
    assert referred(ring=ring) == ["CLM-FRAUD-RING"]
    assert referred(ring=replace(ring, size=2)) == []  # below the ring size referred
    (found,) = screen(loan=loan(), default_on=loan().installments[4].due_date,
                      facts=facts(ring=ring), rules=RULES)
    assert found.evidence["linked_by"] == "phone,device_id"


def test_claims_concentrated_on_a_funders_month_of_loans_are_referred():
    assert referred(vintage_loans=100, vintage_claims=5) == ["CLM-FRAUD-VINTAGE"]
    assert referred(vintage_loans=100, vintage_claims=4) == []
    assert referred(vintage_loans=19, vintage_claims=19) == []  # too few loans to tell


def test_repeated_notices_on_a_policy_are_referred():
    assert referred(notices=2) == ["CLM-FRAUD-NOTICES"]
    assert referred(default_installment=1, notices=3) == ["CLM-FRAUD-FPD", "CLM-FRAUD-NOTICES"]


def test_a_referral_survives_its_round_trip_as_data():
    for found in screen(loan=loan(), default_on=FIRST_DUE, facts=facts(notices=5),
                        rules=RULES):
        assert Referral.from_data(found.as_data()) == found


# --- service levels ---------------------------------------------------------------------------


def test_service_levels_count_days_from_the_trigger_per_funder_and_product():
    t = date(2025, 5, 1)
    times = [
        ClaimTimes("BANK-A", "CONSUMER-G", t, t, t + timedelta(days=4), True),
        ClaimTimes("BANK-A", "CONSUMER-G", t, t + timedelta(days=7), t + timedelta(days=12),
                   False),
        ClaimTimes("BANK-A", "CONSUMER-G", t, t + timedelta(days=2), None, False),
        ClaimTimes("BANK-A", "CONSUMER-G", None, None, None, False),  # a notice waiting
        ClaimTimes("BANK-A", "CAR-G", t, None, None, False),
    ]
    car, consumer = service_levels(times, decision_days=5, payment_days=10)
    assert (car.funder, car.product, car.claims, car.decided, car.paid) == (
        "BANK-A", "CAR-G", 1, 0, 0)
    assert car.decision_days_mean is None and car.decision_days_max is None
    assert (consumer.claims, consumer.automatic, consumer.decided, consumer.paid) == (4, 1, 3, 2)
    assert consumer.decision_days_mean == Decimal("3.0")  # (0 + 7 + 2) / 3
    assert (consumer.decision_days_max, consumer.decided_in_time) == (7, 2)
    assert consumer.payment_days_mean == Decimal("8.0")  # (4 + 12) / 2
    assert (consumer.payment_days_max, consumer.paid_in_time) == (12, 1)


def test_the_funder_keeps_its_risk_share_of_each_loss():
    # 风险共担: with a 20 % risk share the insurer pays 90 % × 80 % = 72 % of what is owed.
    full = run()
    shared = run(rules=replace(RULES, risk_share=Decimal("0.2")))
    owed = full.amount.principal_fen + full.amount.interest_fen
    assert shared.amount.share == Decimal("0.72")
    assert shared.amount.gross_fen == half_up(Decimal(owed) * Decimal("0.72"))
    assert shared.amount.gross_fen < full.amount.gross_fen
    assert shared.covered and shared.amount.payable_fen == shared.amount.gross_fen
