"""Referrals: the decisions waiting for an underwriter, and their review (authority and
four-eyes)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from xinbao.iam.access import authorize, four_eyes, own, tenant
from xinbao.iam.model.security import Action, Forbidden
from xinbao.kernel.errors import Conflict, IllegalTransition, InvalidInput, require
from xinbao.kernel.events import Event
from xinbao.risk.model import exposure
from xinbao.risk.model.decision import (
    DecisionRecord,
    Outcome,
    Review,
)
from xinbao.risk.repository import UnitOfWork
from xinbao.risk.services import LIMIT_CONTENDED, RiskEngine, _counters, _limit_basis, _limit_keys
from xinbao.underwriting.model import Application, ApplicationStatus

REVIEW_APPROVED = "REV-APPROVED"
REVIEW_DECLINED = "REV-DECLINED"


def get_decision(uow: UnitOfWork, application_id: int) -> tuple[Application, DecisionRecord]:
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        application = require(uow.applications.get(application_id), "application",
                              application_id)
        own(uow, application.funder_id, "application", application_id)
        record = require(uow.decisions.get(application_id), "decision", application_id)
    return application, record


def referral_queue(uow: UnitOfWork, *, after_id: int = 0,
                   limit: int = 100) -> list[DecisionRecord]:
    """Referrals waiting for a person, oldest first (the funder's own only, for a funder)."""
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        return uow.decisions.pending(funder_id=tenant(uow), after_id=after_id, limit=limit)


@dataclass(frozen=True, slots=True)
class ReviewApplication:
    application_id: int
    approve: bool
    on: date
    note: str


@dataclass(frozen=True, slots=True)
class Reviewed:
    application: Application
    record: DecisionRecord
    awaiting_second_approver: bool


def review_application(cmd: ReviewApplication, uow: UnitOfWork, engine: RiskEngine,
                       quote: Any) -> Reviewed:
    """A person's verdict on a referral. An approval beyond the reviewer's authority is
    recorded as a recommendation and waits for a second approver with the authority (never
    the same person, nor whoever keyed the application in). ``quote(application, product,
    on, amount_fen, monthly_rate)`` makes the policy quote of an approval."""
    authorize(uow, Action.APPLICATION_APPROVE)
    if len(cmd.note.strip()) < 5:
        raise InvalidInput.single("note", "REV-NOTE", "say why (at least 5 characters)")
    with uow:
        application = require(uow.applications.get(cmd.application_id), "application",
                              cmd.application_id)
        own(uow, application.funder_id, "application", cmd.application_id)
        record = require(uow.decisions.get(cmd.application_id), "decision",
                         cmd.application_id)
        if record.final or application.status is not ApplicationStatus.REFERRED:
            raise IllegalTransition("application", cmd.application_id,
                                    application.status.value, "review")
        if cmd.on < record.decided_on:
            raise InvalidInput.single("on", "decision.date", "cannot review before the referral")
        four_eyes(uow, Action.APPLICATION_APPROVE, "application", cmd.application_id,
                  ("ApplicationSubmitted",))
        actor = uow.actor.actor
        pending = record.pending_second_approval
        if pending is not None and pending.actor == actor:
            raise Forbidden(actor, Action.APPLICATION_APPROVE,
                            "the second approver must be another person (maker ≠ checker)")
        note = cmd.note.strip()[:500]
        policy = None
        if not cmd.approve:
            application.conclude_review(False, (*record.reason_codes, REVIEW_DECLINED), cmd.on)
            record = _reviewed(record, Review(actor, "decline", cmd.on, note), Outcome.DECLINE)
        else:
            if record.approved_fen <= 0 or record.monthly_premium_rate is None:
                raise Conflict("the engine found no amount or price to approve; decline it "
                               "or ask the funder for a new application")
            if not uow.actor.may(Action.APPLICATION_APPROVE, record.approved_fen):
                if pending is not None:
                    raise Forbidden(actor, Action.APPLICATION_APPROVE,
                                    "the amount is beyond this approver's authority")
                record = replace(record, reviews=(*record.reviews,
                                                  Review(actor, "recommend", cmd.on, note)),
                                 events=[Event("ReferralRecommended", "application",
                                               record.application_id, cmd.on,
                                               {"approved_fen": record.approved_fen})])
                uow.decisions.save(record)
                uow.commit()
                return Reviewed(application, record, True)
            product = require(uow.products.get(application.product_code,
                                               application.product_version),
                              "product", application.product_code)
            basis = _limit_basis(uow, engine.params.limits, cmd.on)
            funder = require(uow.funders.get(application.funder_id), "funder",
                             application.funder_id)
            wanted = _limit_keys(uow, application, product, funder.code, engine, basis,
                                 exposure.caps(engine.params.limits, basis))
            _, missing = _counters(uow, wanted)
            uow.counters.ensure(missing, basis_fen=basis, on=cmd.on)
            keys = [(c.dimension, c.key) for c in wanted]
            if not uow.counters.reserve(keys, exposure.retained_fen(record.approved_fen,
                                                                    product.coverage_share)):
                raise Conflict("the portfolio limits have no room for this amount now "
                               f"({LIMIT_CONTENDED}); see `xinbao limits show`")
            outcome = (Outcome.APPROVE if record.approved_fen == record.requested_fen
                       else Outcome.APPROVE_CHANGED)
            application.conclude_review(True, (*record.reason_codes, REVIEW_APPROVED), cmd.on)
            record = _reviewed(record, Review(actor, "approve", cmd.on, note), outcome)
            policy = quote(application, product, cmd.on, record.approved_fen,
                           record.monthly_premium_rate)
            uow.policies.add_many([policy])
        uow.applications.save(application)
        uow.decisions.save(record)
        uow.commit()
    return Reviewed(application, record, False)


def _reviewed(record: DecisionRecord, review: Review, outcome: Outcome) -> DecisionRecord:
    return replace(record, outcome=outcome, final=True,
                   reason_codes=(*record.reason_codes,
                                 REVIEW_APPROVED if review.verdict == "approve"
                                 else REVIEW_DECLINED),
                   reviews=(*record.reviews, review),
                   events=[Event("ReferralReviewed", "application", record.application_id,
                                 review.on, {"verdict": review.verdict,
                                             "outcome": outcome.value})])
