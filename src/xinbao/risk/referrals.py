"""Referrals: the decisions waiting for an underwriter, and their review (authority and
four-eyes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from xinbao.catalogue.model.products import Product
from xinbao.iam.access import authorize, four_eyes, own, tenant
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, require
from xinbao.kernel.retries import retried
from xinbao.risk.model import exposure, referral
from xinbao.risk.model.decision import DecisionRecord
from xinbao.risk.repository import UnitOfWork
from xinbao.risk.services import (
    LIMIT_CONTENDED,
    RiskEngine,
    counters_for,
    limit_basis,
    limit_keys_for,
)
from xinbao.underwriting.model import Application


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


@retried
def review_application(cmd: ReviewApplication, uow: UnitOfWork, engine: RiskEngine,
                       quote: Any) -> Reviewed:
    """A person's verdict on a referral (the rules: ``risk/model/referral.py``). An approval
    beyond the reviewer's authority is recorded as a recommendation and waits for a second
    approver with the authority (never the same person, nor whoever keyed the application
    in). ``quote(application, product, on, amount_fen, monthly_rate)`` makes the policy
    quote of an approval."""
    authorize(uow, Action.APPLICATION_APPROVE)
    referral.review_note(cmd.note)
    with uow:
        application = require(uow.applications.get(cmd.application_id), "application",
                              cmd.application_id)
        own(uow, application.funder_id, "application", cmd.application_id)
        record = require(uow.decisions.get(cmd.application_id), "decision",
                         cmd.application_id)
        referral.check_reviewable(record, application.status, cmd.on)
        four_eyes(uow, Action.APPLICATION_APPROVE, "application", cmd.application_id,
                  ("ApplicationSubmitted",))
        review = referral.review_referral(record, application.status, uow.actor,
                                          approve=cmd.approve, on=cmd.on, note=cmd.note)
        if review.awaiting_second_approver:
            uow.decisions.save(review.record)
            uow.commit()
            return Reviewed(application, review.record, True)
        if review.approved:
            product = require(uow.products.get(application.product_code,
                                               application.product_version),
                              "product", application.product_code)
            _reserve(uow, engine, application, product, review.record.approved_fen, cmd.on)
            application.conclude_review(True, review.conclusion, cmd.on)
            uow.policies.add_many([quote(application, product, cmd.on,
                                         review.record.approved_fen,
                                         review.record.monthly_premium_rate)])
        else:
            application.conclude_review(False, review.conclusion, cmd.on)
        uow.applications.save(application)
        uow.decisions.save(review.record)
        uow.commit()
    return Reviewed(application, review.record, False)


def _reserve(uow: UnitOfWork, engine: RiskEngine, application: Application, product: Product,
             approved_fen: int, on: date) -> None:
    """Room under every portfolio limit for the approved amount now, or Conflict."""
    basis = limit_basis(uow, engine.params.limits, on)
    funder = require(uow.funders.get(application.funder_id), "funder", application.funder_id)
    wanted = limit_keys_for(uow, application, product, funder.code, engine, basis,
                         exposure.caps(engine.params.limits, basis))
    _, missing = counters_for(uow, wanted)
    uow.counters.ensure(missing, basis_fen=basis, on=on)
    keys = [(c.dimension, c.key) for c in wanted]
    if not uow.counters.reserve(keys, exposure.retained_fen(approved_fen,
                                                            product.coverage_share)):
        raise Conflict("the portfolio limits have no room for this amount now "
                       f"({LIMIT_CONTENDED}); see `xinbao limits show`")
