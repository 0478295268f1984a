"""A person's review of a referral (DOMAIN §2): the note, who may review, and what follows.

``review_referral`` is pure: the use case loads the decision record and the application,
runs the four-eyes look-up against the audit trail (whoever keyed the application in never
reviews it), and then asks here what the verdict does:

- a decline concludes the application (REV-DECLINED);
- an approval needs the engine's amount and price; within the reviewer's authority
  (``iam/model/security.AUTHORITY``) it concludes the application (REV-APPROVED), as an
  approval or, when the amount was cut, an approval with changed terms;
- an approval beyond the reviewer's authority is recorded as a recommendation and waits for
  a second approver with the authority, who can never be the one who recommended it.

Refusals raise (the command is refused); what a review does is returned as a value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from xinbao.iam.model.security import Action, Forbidden, Principal
from xinbao.kernel.errors import Conflict, IllegalTransition, InvalidInput
from xinbao.kernel.events import Event
from xinbao.risk.model.decision import DecisionRecord, Outcome, Review
from xinbao.underwriting.model import ApplicationStatus

REVIEW_APPROVED = "REV-APPROVED"
REVIEW_DECLINED = "REV-DECLINED"
NOTE_MIN_CHARS = 5  # a verdict says why
NOTE_MAX_CHARS = 500  # what is stored of it


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    """What a review does: the decision record to store and, unless an approval waits for a
    second approver, the reason codes the application concludes with."""

    verdict: Literal["decline", "recommend", "approve"]
    record: DecisionRecord
    conclusion: tuple[str, ...] = ()  # the application's reason codes; () for "recommend"

    @property
    def awaiting_second_approver(self) -> bool:
        return self.verdict == "recommend"

    @property
    def approved(self) -> bool:
        return self.verdict == "approve"


def review_note(note: str) -> str:
    """The note as stored, or InvalidInput unless it says why."""
    if len(note.strip()) < NOTE_MIN_CHARS:
        raise InvalidInput.single("note", "REV-NOTE", "say why (at least 5 characters)")
    return note.strip()[:NOTE_MAX_CHARS]


def check_reviewable(record: DecisionRecord, status: ApplicationStatus, on: date) -> None:
    """Only a referral still waiting can be reviewed, and not before it was referred."""
    if record.final or status is not ApplicationStatus.REFERRED:
        raise IllegalTransition("application", record.application_id, status.value, "review")
    if on < record.decided_on:
        raise InvalidInput.single("on", "decision.date", "cannot review before the referral")


def review_referral(record: DecisionRecord, status: ApplicationStatus, reviewer: Principal, *,
                    approve: bool, on: date, note: str) -> ReviewDecision:
    """The reviewer's verdict on a referral (``record``, the application in ``status``).

    The use case calls ``review_note`` before it opens its unit of work and
    ``check_reviewable`` before the four-eyes look-up; both are checked here again, so that
    this function refuses every review the rules refuse."""
    note = review_note(note)
    check_reviewable(record, status, on)
    actor = reviewer.actor
    pending = record.pending_second_approval
    if pending is not None and pending.actor == actor:
        raise Forbidden(actor, Action.APPLICATION_APPROVE,
                        "the second approver must be another person (maker ≠ checker)")
    if not approve:
        return ReviewDecision("decline", _reviewed(record, Review(actor, "decline", on, note),
                                                   Outcome.DECLINE),
                              (*record.reason_codes, REVIEW_DECLINED))
    if record.approved_fen <= 0 or record.monthly_premium_rate is None:
        raise Conflict("the engine found no amount or price to approve; decline it "
                       "or ask the funder for a new application")
    if not reviewer.may(Action.APPLICATION_APPROVE, record.approved_fen):
        if pending is not None:
            raise Forbidden(actor, Action.APPLICATION_APPROVE,
                            "the amount is beyond this approver's authority")
        return ReviewDecision("recommend", replace(
            record, reviews=(*record.reviews, Review(actor, "recommend", on, note)),
            events=[Event("ReferralRecommended", "application", record.application_id, on,
                          {"approved_fen": record.approved_fen})]))
    outcome = (Outcome.APPROVE if record.approved_fen == record.requested_fen
               else Outcome.APPROVE_CHANGED)
    return ReviewDecision("approve", _reviewed(record, Review(actor, "approve", on, note),
                                               outcome),
                          (*record.reason_codes, REVIEW_APPROVED))


def _reviewed(record: DecisionRecord, review: Review, outcome: Outcome) -> DecisionRecord:
    """The concluded record: final, with the review's code, the review and its event."""
    return replace(record, outcome=outcome, final=True,
                   reason_codes=(*record.reason_codes,
                                 REVIEW_APPROVED if review.verdict == "approve"
                                 else REVIEW_DECLINED),
                   reviews=(*record.reviews, review),
                   events=[Event("ReferralReviewed", "application", record.application_id,
                                 review.on, {"verdict": review.verdict,
                                             "outcome": outcome.value})])
