"""A person's review of a referral, as pure rules: the note, who may review, and what a
decline, a recommendation and an approval do to the decision record."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from xinbao.iam.model.security import Forbidden, Principal, Role, system
from xinbao.kernel.errors import Conflict, IllegalTransition, InvalidInput
from xinbao.risk.model.decision import DecisionRecord, Outcome, Review
from xinbao.risk.model.referral import (
    check_reviewable,
    review_note,
    review_referral,
)
from xinbao.underwriting.model import ApplicationStatus

REFERRED_ON = date(2025, 3, 1)
ON = date(2025, 3, 3)
NOTE = "checked the payslips"
UNDERWRITER_CAP = 20_000_000  # 200,000 yuan: iam/model/security.AUTHORITY


def referral(**changes: object) -> DecisionRecord:
    """A referral waiting for review: the engine proposes 150,000 of the 150,000 asked."""
    record = DecisionRecord(
        application_id=7, outcome=Outcome.REFER, decided_on=REFERRED_ON, decided_by="system:risk",
        reason_codes=("SCR-PD-REFER",), requested_fen=15_000_000, approved_fen=15_000_000,
        annual_premium_rate=Decimal("0.072"), monthly_premium_rate=Decimal("0.006"),
        pd=Decimal("0.15"), score=None, model="fallback", rule_set_version="r1",
        params_version="p1", detail={}, final=False)
    return replace(record, **changes)


def recommended(by: str = "user:li.uw") -> DecisionRecord:
    """A large referral an underwriter recommended, waiting for a second approver."""
    return referral(requested_fen=40_000_000, approved_fen=40_000_000,
                    reviews=(Review(by, "recommend", ON, "recommend it"),))


def staff(name: str, *roles: Role) -> Principal:
    return Principal("user", name, frozenset(roles))


UW = staff("li.uw", Role.UNDERWRITER)
BOSS = staff("chen.boss", Role.UNDERWRITING_APPROVER)


def review(record: DecisionRecord, reviewer: Principal = UW, *, approve: bool = True,
           status: ApplicationStatus = ApplicationStatus.REFERRED, on: date = ON,
           note: str = NOTE):
    return review_referral(record, status, reviewer, approve=approve, on=on, note=note)


@pytest.mark.parametrize("note", ["", "no", "  ok  ", "four"])
def test_a_review_must_say_why_in_at_least_five_characters(note):
    with pytest.raises(InvalidInput) as refused:
        review(referral(), note=note)
    (error,) = refused.value.errors
    assert (error.field, error.rule) == ("note", "REV-NOTE")
    assert error.message == "say why (at least 5 characters)"


def test_the_note_is_stored_stripped_and_cut_to_500_characters():
    assert review_note("  fine!  ") == "fine!"
    assert review_note("x" * 600) == "x" * 500
    done = review(referral(), note="  " + "y" * 501)
    assert done.record.reviews[-1].note == "y" * 500


@pytest.mark.parametrize(("record", "status", "current"), [
    (referral(final=True), ApplicationStatus.REFERRED, "referred"),
    (referral(), ApplicationStatus.APPROVED, "approved"),
    (referral(), ApplicationStatus.DECLINED, "declined"),
    (referral(), ApplicationStatus.SUBMITTED, "submitted"),
])
def test_only_a_referral_still_waiting_can_be_reviewed(record, status, current):
    with pytest.raises(IllegalTransition,
                       match=f"^application 7 is {current}: cannot review$"):
        review(record, status=status)
    with pytest.raises(IllegalTransition):
        check_reviewable(record, status, ON)


def test_a_referral_cannot_be_reviewed_before_the_day_it_was_referred():
    with pytest.raises(InvalidInput) as refused:
        review(referral(), on=date(2025, 2, 28))
    (error,) = refused.value.errors
    assert (error.field, error.rule, error.message) == (
        "on", "decision.date", "cannot review before the referral")
    check_reviewable(referral(), ApplicationStatus.REFERRED, REFERRED_ON)  # the same day: fine


def test_a_decline_concludes_the_referral_with_its_reason_code():
    done = review(referral(), approve=False)
    assert done.verdict == "decline" and not done.approved
    assert not done.awaiting_second_approver
    assert done.conclusion == ("SCR-PD-REFER", "REV-DECLINED")
    record = done.record
    assert record.final and record.outcome is Outcome.DECLINE
    assert record.reason_codes == ("SCR-PD-REFER", "REV-DECLINED")
    assert record.reviews == (Review("user:li.uw", "decline", ON, NOTE),)
    (event,) = record.events
    assert (event.name, event.aggregate_id, event.on) == ("ReferralReviewed", 7, ON)
    assert event.data == {"verdict": "decline", "outcome": "decline"}


def test_a_decline_needs_no_amount_nor_price_from_the_engine():
    done = review(referral(approved_fen=0, monthly_premium_rate=None), approve=False)
    assert done.record.outcome is Outcome.DECLINE


def test_the_review_leaves_the_referral_it_was_given_as_it_was():
    before = referral()
    review(before)
    assert not before.final and before.reviews == () and before.outcome is Outcome.REFER


def test_an_approval_of_the_amount_asked_is_an_approval():
    done = review(referral())
    assert done.verdict == "approve" and done.approved
    assert done.conclusion == ("SCR-PD-REFER", "REV-APPROVED")
    record = done.record
    assert record.final and record.outcome is Outcome.APPROVE
    assert record.reason_codes == ("SCR-PD-REFER", "REV-APPROVED")
    assert record.reviews == (Review("user:li.uw", "approve", ON, NOTE),)
    assert [(e.name, e.data) for e in record.events] == [
        ("ReferralReviewed", {"verdict": "approve", "outcome": "approve"})]


def test_an_approval_of_less_than_asked_is_an_approval_with_changed_terms():
    done = review(referral(requested_fen=18_000_000))
    assert done.record.outcome is Outcome.APPROVE_CHANGED
    assert done.record.approved_fen == 15_000_000
    assert done.record.events[0].data == {"verdict": "approve",
                                             "outcome": "approve_changed"}


@pytest.mark.parametrize("changes", [{"approved_fen": 0},
                                     {"monthly_premium_rate": None}])
def test_an_approval_needs_the_engines_amount_and_price(changes):
    with pytest.raises(Conflict, match="^the engine found no amount or price to approve; "
                                       "decline it or ask the funder for a new application$"):
        review(referral(**changes))


def test_an_approval_up_to_the_reviewers_authority_concludes_and_a_fen_more_is_a_recommendation():
    at_cap = referral(requested_fen=UNDERWRITER_CAP, approved_fen=UNDERWRITER_CAP)
    assert review(at_cap).verdict == "approve"
    above = referral(requested_fen=UNDERWRITER_CAP + 1, approved_fen=UNDERWRITER_CAP + 1)
    assert review(above).verdict == "recommend"


def test_an_approval_beyond_the_reviewers_authority_is_a_recommendation_waiting_for_another():
    big = referral(requested_fen=40_000_000, approved_fen=40_000_000)
    done = review(big)
    assert done.verdict == "recommend" and done.awaiting_second_approver
    assert not done.approved and done.conclusion == ()
    record = done.record
    assert not record.final and record.outcome is Outcome.REFER
    assert record.reason_codes == ("SCR-PD-REFER",)
    assert record.reviews == (Review("user:li.uw", "recommend", ON, NOTE),)
    assert record.pending_second_approval == Review("user:li.uw", "recommend", ON, NOTE)
    (event,) = record.events
    assert (event.name, event.aggregate, event.aggregate_id, event.on) == (
        "ReferralRecommended", "application", 7, ON)
    assert event.data == {"approved_fen": 40_000_000}


def test_a_second_approver_with_the_authority_concludes_the_recommendation():
    done = review(recommended(), BOSS)
    assert done.verdict == "approve" and done.record.final
    assert done.record.outcome is Outcome.APPROVE
    assert [(r.actor, r.verdict) for r in done.record.reviews] == [
        ("user:li.uw", "recommend"), ("user:chen.boss", "approve")]


def test_the_one_who_recommended_cannot_be_the_second_approver_even_with_the_authority():
    himself = staff("li.uw", Role.UNDERWRITER, Role.UNDERWRITING_APPROVER)
    for approve in (True, False):
        with pytest.raises(Forbidden) as refused:
            review(recommended(), himself, approve=approve)
        assert str(refused.value) == ("user:li.uw may not application.approve: the second "
                                      "approver must be another person (maker ≠ checker)")


def test_a_second_reviewer_without_the_authority_cannot_recommend_again():
    with pytest.raises(Forbidden) as refused:
        review(recommended(), staff("zhao.uw", Role.UNDERWRITER))
    assert str(refused.value) == ("user:zhao.uw may not application.approve: the amount is "
                                  "beyond this approver's authority")


def test_a_second_reviewer_without_the_authority_may_still_decline():
    done = review(recommended(), staff("zhao.uw", Role.UNDERWRITER), approve=False)
    assert done.record.outcome is Outcome.DECLINE
    assert [r.verdict for r in done.record.reviews] == ["recommend", "decline"]


def test_the_system_has_every_authority():
    done = review(referral(requested_fen=900_000_000, approved_fen=900_000_000), system())
    assert done.verdict == "approve"
    assert done.record.reviews[-1].actor == "system:operator"
