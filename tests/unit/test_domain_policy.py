"""The policy state machine, premium schedule, earning and refund on prepayment."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import builders as b
from xinbao.catalogue.model.products import PremiumBasis, RefundMethod
from xinbao.kernel.errors import IllegalTransition
from xinbao.policy.model import (
    Policy,
    PolicyStatus,
    can_transition,
    installment_premium,
    parse_policy_number,
    policy_number,
    premium_schedule,
    unearned_share,
)

S = PolicyStatus
START = date(2025, 1, 15)
ON = date(2025, 1, 20)
policy = b.single_premium_policy


def issued(**changes: object) -> Policy:
    p = policy(**changes)
    p.issue(on=START, start=START, loan_id=3, interest_fen=0)
    p.events.clear()
    return p


def in_force(**changes: object) -> Policy:
    p = issued(**changes)
    p.come_into_force(START)
    p.events.clear()
    return p


# --- state machine ----------------------------------------------------------------------------

#: action name → (target state, how to call it, event name, event data)
ACTIONS = {
    "issue": (S.ISSUED, lambda p: p.issue(on=ON, start=START, loan_id=3, interest_fen=0),
              "PolicyIssued",
              {"start": "2025-01-15", "loan_id": 3}),
    "come_into_force": (S.IN_FORCE, lambda p: p.come_into_force(ON), "PolicyCameIntoForce", {}),
    "expire": (S.EXPIRED, lambda p: p.expire(ON), "PolicyExpired", {}),
    "cancel": (S.CANCELLED, lambda p: p.cancel(ON, "prepaid"), "PolicyCancelled",
               {"reason": "prepaid"}),
    "mark_claimed": (S.CLAIMED, lambda p: p.mark_claimed(ON, 42), "PolicyClaimed",
                     {"claim_id": 42}),
    "close": (S.CLOSED, lambda p: p.close(ON, "settled"), "PolicyClosed", {"reason": "settled"}),
}

#: quoted → issued → in force → expired | cancelled | claimed → closed; issued → cancelled.
ALLOWED = {
    (S.QUOTED, "issue"),
    (S.ISSUED, "come_into_force"),
    (S.ISSUED, "cancel"),
    (S.IN_FORCE, "expire"),
    (S.IN_FORCE, "cancel"),
    (S.IN_FORCE, "mark_claimed"),
    (S.EXPIRED, "close"),
    (S.CANCELLED, "close"),
    (S.CLAIMED, "close"),
}
ALL_PAIRS = [(state, action) for state in PolicyStatus for action in ACTIONS]
DISALLOWED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def snapshot(p: Policy) -> tuple:
    return (p.status, p.issued_on, p.start_date, p.end_date, p.loan_id, list(p.events))


@pytest.mark.parametrize(("state", "action"), sorted(ALLOWED))
def test_every_allowed_transition_moves_the_policy_and_records_one_event(state, action):
    p = policy(status=state)
    target, call, name, data = ACTIONS[action]
    call(p)
    assert p.status is target
    assert len(p.events) == 1
    event = p.events[0]
    assert (event.name, event.aggregate, event.aggregate_id, event.on) == (name, "policy", 7, ON)
    assert event.data == {"from": state.value, "to": target.value, **data}


@pytest.mark.parametrize(("state", "action"), DISALLOWED)
def test_every_disallowed_transition_is_refused_and_changes_nothing(state, action):
    p = policy(status=state)
    before = snapshot(p)
    with pytest.raises(IllegalTransition) as info:
        ACTIONS[action][1](p)
    assert snapshot(p) == before
    assert info.value.current == state.value
    assert info.value.kind == "policy"


def test_transition_table_enumeration_is_complete():
    assert len(ALL_PAIRS) == 42
    assert len(DISALLOWED) == 33
    for state in PolicyStatus:
        for target in PolicyStatus:
            expected = any(s is state and ACTIONS[a][0] is target for s, a in ALLOWED)
            assert can_transition(state, target) is expected


def test_closed_policy_accepts_nothing():
    assert not any(can_transition(S.CLOSED, target) for target in PolicyStatus)


def test_issuing_binds_cover_from_disbursement_to_maturity():
    p = policy(term_months=12)
    p.issue(on=date(2025, 1, 14), start=date(2025, 1, 31), loan_id=9, interest_fen=0)
    assert p.issued_on == date(2025, 1, 14)
    assert p.start_date == date(2025, 1, 31)
    assert p.end_date == date(2026, 1, 31)
    assert p.loan_id == 9


def test_issuing_a_policy_started_on_the_31st_ends_on_the_last_day_of_a_short_month():
    p = policy(term_months=1)
    p.issue(on=date(2025, 1, 31), start=date(2025, 1, 31), loan_id=9, interest_fen=0)
    assert p.end_date == date(2025, 2, 28)


def test_illegal_transition_message_names_the_policy_state_and_action():
    p = policy(status=S.CLOSED)
    with pytest.raises(IllegalTransition, match="policy 7 is closed: cannot expire"):
        p.expire(ON)


def test_policy_number_is_derived_from_its_id():
    assert policy(id=42).policy_no == "XB00000000422"
    assert policy(id=None).policy_no == "(unnumbered)"


@pytest.mark.parametrize("policy_id", [1, 42, 9_999_999_999])
def test_a_policy_number_reads_back_to_its_id(policy_id):
    number = policy_number(policy_id)
    assert len(number) == 13 and parse_policy_number(number) == policy_id
    assert parse_policy_number(f"  {number.lower()} ") == policy_id


@pytest.mark.parametrize("text", [
    "XB00000000423",  # the check digit wrong
    "XB00000000242",  # two digits swapped
    "XB0000000042",  # no check digit
    "42", "", "XB0000000042２", "YB00000000422", "XB-0000000042",
])
def test_a_mistyped_policy_number_names_no_policy(text):
    assert parse_policy_number(text) is None


@pytest.mark.parametrize(
    ("on", "covered"),
    [
        (START - timedelta(days=1), False),
        (START, True),
        (date(2025, 7, 1), True),
        (date(2026, 1, 15), True),  # the last day of cover
        (date(2026, 1, 16), False),
    ],
)
def test_in_force_policy_covers_exactly_its_period(on, covered):
    assert in_force().covers(on) is covered


@pytest.mark.parametrize("state", [S.ISSUED, S.EXPIRED, S.CANCELLED, S.CLAIMED, S.CLOSED])
def test_policy_not_in_force_covers_nothing(state):
    p = issued()
    p.status = state
    assert not p.covers(date(2025, 7, 1))


# --- premium ----------------------------------------------------------------------------------


def test_per_installment_premium_is_charged_with_each_installment():
    assert premium_schedule(PremiumBasis.PER_INSTALLMENT, 3_600_000, Decimal("0.003"), 12) == (
        0, (10_800,) * 12)


def test_single_premium_is_charged_at_issue_for_the_whole_term():
    assert premium_schedule(PremiumBasis.SINGLE, 3_600_000, Decimal("0.003"), 12) == (
        129_600, (0,) * 12)


def test_single_premium_is_rounded_once_not_per_month():
    # 12,345 × 0.0033 = 40.7385 a month: rounded monthly 41 × 12 = 492, rounded once 488.862
    single, _ = premium_schedule(PremiumBasis.SINGLE, 12_345, Decimal("0.0033"), 12)
    _, monthly = premium_schedule(PremiumBasis.PER_INSTALLMENT, 12_345, Decimal("0.0033"), 12)
    assert single == 489
    assert monthly == (41,) * 12


def test_installment_premium_rounds_half_up():
    assert installment_premium(500, Decimal("0.003")) == 2  # 1.5 fen
    assert installment_premium(100, Decimal("0.0045")) == 0  # 0.45 fen


def test_total_premium_adds_single_and_installment_premiums():
    assert policy().total_premium_fen == 78_000
    assert policy(single_premium_fen=0, installment_premium_fen=10_800).total_premium_fen == 129_600


# --- earning and refund -----------------------------------------------------------------------

END = date(2026, 1, 15)


def close(value: Decimal, exact: Fraction) -> bool:
    """Equal to the exact fraction within the 40-digit working precision."""
    return abs(Fraction(value) - exact) < Fraction(1, 10**38)


def share(method: RefundMethod, on: date, term: int = 12, end: date = END) -> Decimal:
    return unearned_share(method, start=START, end=end, term_months=term, on=on)


@pytest.mark.parametrize(
    ("on", "numerator"),
    [
        (date(2025, 2, 15), 66),  # one month: 11·12/2
        (date(2025, 3, 15), 55),
        (date(2025, 7, 15), 21),  # six months: 6·7/2
        (date(2025, 12, 15), 1),  # eleven months
    ],
)
def test_rule_of_78_unearned_share_at_a_months_start_counts_whole_months_left(on, numerator):
    assert close(share(RefundMethod.RULE_OF_78, on), Fraction(numerator, 78))


@pytest.mark.parametrize(
    ("on", "numerator"),
    [
        # The first month (31 days from 15 January) earns its 12/78 day by day.
        (date(2025, 1, 16), 78 - Fraction(12, 31)),
        (date(2025, 2, 14), 78 - Fraction(12 * 30, 31)),
        # March 15 to April 15 (31 days), the third month's 10/78: 10 days in.
        (date(2025, 3, 25), 55 - Fraction(10 * 10, 31)),
        # The last month (15 December to 15 January), its 1/78: 30 of 31 days in.
        (date(2026, 1, 14), Fraction(1, 31)),
    ],
)
def test_rule_of_78_earns_the_month_in_progress_day_by_day(on, numerator):
    assert share(RefundMethod.RULE_OF_78, on) == numerator / 78


def test_pro_rata_unearned_share_is_days_left_over_days_of_cover():
    assert close(share(RefundMethod.PRO_RATA, date(2025, 7, 15)), Fraction(184, 365))
    assert close(share(RefundMethod.PRO_RATA, date(2025, 1, 16)), Fraction(364, 365))
    # a leap-year cover has 366 days
    leap = unearned_share(RefundMethod.PRO_RATA, start=date(2024, 1, 15), end=date(2025, 1, 15),
                          term_months=12, on=date(2024, 7, 15))
    assert close(leap, Fraction(184, 366))


@pytest.mark.parametrize("method", list(RefundMethod))
def test_unearned_share_is_whole_before_cover_and_nil_after_it(method):
    assert share(method, START - timedelta(days=10)) == 1
    assert share(method, START) == 1
    assert share(method, END) == 0
    assert share(method, END + timedelta(days=10)) == 0


def test_rule_of_78_earns_faster_than_pro_rata_early_in_the_term():
    on = date(2025, 4, 15)
    assert share(RefundMethod.RULE_OF_78, on) < share(RefundMethod.PRO_RATA, on)


def test_single_premium_earned_after_one_month_under_rule_of_78():
    p = in_force(single_premium_fen=78_000, refund_method=RefundMethod.RULE_OF_78)
    assert p.earned_to(date(2025, 2, 15)) == 12_000  # 12/78 earned
    assert p.refund_on_prepayment(date(2025, 2, 15)) == 66_000  # 66/78 refunded


def test_single_premium_earned_pro_rata_by_days():
    p = in_force(single_premium_fen=36_500, refund_method=RefundMethod.PRO_RATA)
    assert p.earned_to(date(2025, 7, 15)) == 18_100  # 181 of 365 days
    assert p.refund_on_prepayment(date(2025, 7, 15)) == 18_400


def test_nothing_is_earned_before_cover_and_everything_after_it():
    p = in_force()
    assert p.earned_to(START) == 0
    assert p.refund_on_prepayment(START) == 78_000
    assert p.earned_to(END) == 78_000
    assert p.refund_on_prepayment(date(2027, 1, 1)) == 0


def test_installment_premium_policies_have_no_single_premium_to_earn_or_refund():
    p = in_force(single_premium_fen=0, installment_premium_fen=10_800,
                 premium_basis=PremiumBasis.PER_INSTALLMENT)
    assert p.earned_to(date(2025, 7, 15)) == 0
    assert p.refund_on_prepayment(date(2025, 7, 15)) == 0


def test_policy_not_yet_issued_has_earned_nothing():
    assert policy().earned_to(date(2025, 7, 15)) == 0


def test_rule_of_78_refund_of_exactly_half_a_fen_rounds_up():
    p = in_force(single_premium_fen=16_263, refund_method=RefundMethod.RULE_OF_78)
    assert p.refund_on_prepayment(date(2025, 7, 15)) == 4_379  # six months left of twelve


def test_rule_of_78_earns_in_the_first_partial_month():
    p = in_force(single_premium_fen=78_000, refund_method=RefundMethod.RULE_OF_78)
    assert p.earned_to(START + timedelta(days=1)) == 387  # 12/78 × 1/31 of 78,000
    assert p.earned_to(date(2025, 1, 31)) == 6_194  # 16 of the first month's 31 days


policies_with_single_premium = st.builds(
    lambda premium, term, method, start: (premium, term, method, start),
    st.integers(1, 10_000_000), st.integers(1, 60), st.sampled_from(list(RefundMethod)),
    st.dates(date(2020, 1, 1), date(2030, 12, 31)),
)


@settings(max_examples=200, deadline=None)
@given(terms=policies_with_single_premium, a=st.integers(-40, 1900), b=st.integers(-40, 1900))
def test_earned_premium_never_decreases_and_plus_refund_is_the_single_premium(terms, a, b):
    premium, term, method, start = terms
    p = policy(single_premium_fen=premium, term_months=term, refund_method=method)
    p.issue(on=start, start=start, loan_id=1, interest_fen=0)
    p.come_into_force(start)
    early, late = start + timedelta(days=min(a, b)), start + timedelta(days=max(a, b))
    assert 0 <= p.earned_to(early) <= p.earned_to(late) <= premium
    for on in (early, late):
        assert p.earned_to(on) + p.refund_on_prepayment(on) == premium
    assert p.earned_to(p.end_date) == premium
    assert p.earned_to(start) == 0


@settings(max_examples=300, deadline=None)
@given(terms=policies_with_single_premium,
       closes=st.lists(st.integers(0, 1900), max_size=6),
       cancel_day=st.integers(0, 1900), cooling_off_days=st.integers(0, 30))
def test_a_cancellation_keeps_written_equal_to_earned_plus_refunded(
        terms, closes, cancel_day, cooling_off_days):
    """Over random month-end closes and a cancellation at any day of cover, in or after the
    cooling-off period: earned never falls but by a cooling-off give-back, a refund never
    exceeds the premium, and written = earned + unearned + refunded at every step, to the
    fen."""
    premium, term, method, start = terms
    p = policy(single_premium_fen=premium, term_months=term, refund_method=method)
    p.issue(on=start, start=start, loan_id=1, interest_fen=0)
    p.come_into_force(start)
    assert p.end_date is not None
    on = min(start + timedelta(days=cancel_day), p.end_date - timedelta(days=1))
    if on < start:
        return
    for day in sorted(closes):
        close_on = start + timedelta(days=day)
        if close_on >= on:
            break
        before = p.earned_fen
        p.earn(close_on)
        assert before <= p.earned_fen <= premium
    earned_before = p.earned_fen
    cancelled = p.cancel_on_request(on, cooling_off_ends=start + timedelta(
        days=cooling_off_days), reason="asked")
    assert 0 <= cancelled.refunded_fen <= premium
    assert p.earned_fen + p.refunded_fen == premium  # nothing left unearned
    assert p.status is PolicyStatus.CANCELLED and p.version == 2
    if cancelled.cooling_off:
        assert (p.earned_fen, cancelled.earned_reversed_fen) == (0, earned_before)
        assert cancelled.refunded_fen == premium
    else:
        assert p.earned_fen == earned_before + cancelled.earned_fen >= earned_before
        assert cancelled.refunded_fen == premium - p.earned_to(on)
    with pytest.raises(IllegalTransition):
        p.cancel_on_request(on, cooling_off_ends=on, reason="again")


def test_exposure_follows_the_outstanding_principal_day_by_day():
    from datetime import date as day
    from fractions import Fraction

    from xinbao.loans.model import Installment
    from xinbao.policy.model import exposure_share

    # 300 outstanding through January, 200 through February, 100 through March.
    schedule = (Installment(1, day(2025, 2, 1), 100, 3), Installment(2, day(2025, 3, 1), 100, 2),
                Installment(3, day(2025, 4, 1), 100, 1))
    start = day(2025, 1, 1)
    total = 300 * 31 + 200 * 28 + 100 * 31
    assert exposure_share(schedule, start=start, on=start) == 1
    assert exposure_share(schedule, start=start, on=day(2025, 2, 15)) == Fraction(
        200 * 14 + 100 * 31, total)
    assert exposure_share(schedule, start=start, on=day(2025, 4, 1)) == 0
    # Interest first: the principal is outstanding to the end, so exposure is time.
    level = (Installment(1, day(2025, 2, 1), 0, 3), Installment(2, day(2025, 3, 1), 0, 3),
             Installment(3, day(2025, 4, 1), 300, 3))
    assert exposure_share(level, start=start, on=day(2025, 2, 15)) == Fraction(14 + 31, 90)
