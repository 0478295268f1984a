"""Referrals: the decisions waiting for an underwriter, and their review (authority and
four-eyes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from xinbao.catalogue.model.agreements import insurer_share
from xinbao.catalogue.model.products import Product
from xinbao.iam.access import authorize, four_eyes, own, tenant
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, InvalidInput, require
from xinbao.kernel.paging import Page, PageRequest
from xinbao.kernel.retries import retried
from xinbao.risk.identity_graph import IdentityGraph
from xinbao.risk.model import exposure, referral
from xinbao.risk.model.decision import DECISION_ERROR, DecisionRecord
from xinbao.risk.repository import REFERRAL_SORTS, UnitOfWork
from xinbao.risk.services import (
    LIMIT_CONTENDED,
    RiskEngine,
    counters_for,
    limit_basis,
    limit_keys_for,
    risk_share_of,
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
class WaitingReferrals:
    """How many referrals wait for a person, and how many of them are applications the
    engine failed to decide (referred ``DECISION_ERROR``: the error is in their record)."""

    waiting: int
    failed: int


def waiting_referrals(uow: UnitOfWork) -> WaitingReferrals:
    """The referral counts for an alert, by two COUNTs (the funder's own only, for a
    funder); cheap on any book, unlike reading the queue."""
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        funder_id = tenant(uow)
        return WaitingReferrals(
            waiting=uow.decisions.count_pending(funder_id=funder_id),
            failed=uow.decisions.count_pending(funder_id=funder_id, reason_code=DECISION_ERROR))


def decision_of(uow: UnitOfWork,
                application_id: int) -> tuple[Application, DecisionRecord | None]:
    """The application and its decision, None while it waits for one (a page shows both;
    ``get_decision`` refuses an application not decided yet)."""
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        application = require(uow.applications.get(application_id), "application",
                               application_id)
        own(uow, application.funder_id, "application", application_id)
        return application, uow.decisions.get(application_id)


def referral_page(uow: UnitOfWork, request: PageRequest) -> Page[DecisionRecord]:
    """A page of the referrals waiting for a person, sorted by one of ``REFERRAL_SORTS``,
    with how many wait in all (the funder's own only, for a funder)."""
    authorize(uow, Action.APPLICATION_READ)
    if request.sort not in REFERRAL_SORTS:
        raise InvalidInput.single("sort", "list.sort",
                                  f"sort by one of {', '.join(REFERRAL_SORTS)}")
    with uow:
        return uow.decisions.pending_page(funder_id=tenant(uow), request=request)


#: The most neighbours in an identity ring a page lists by id.
RING_SHOWN = 50


@dataclass(frozen=True, slots=True)
class RingView:
    """The identity ring of an application (``identity_graph``): how many applications it
    holds (this one included), the share of the others already past due, the fields that
    link them, and the others by id (the first ``RING_SHOWN``)."""

    size: int
    overdue_share: Decimal
    linked_by: tuple[str, ...]
    neighbours: tuple[int, ...]


def identity_ring(uow: UnitOfWork, application_id: int, on: date) -> RingView:
    """The ring the application belongs to on ``on``, as the anti-fraud rules see it. A
    funder's user is shown the ring among its own funder's applications only: another
    funder's business is not its to know, not even by count."""
    authorize(uow, Action.APPLICATION_READ)
    with uow:
        application = require(uow.applications.get(application_id), "application",
                              application_id)
        own(uow, application.funder_id, "application", application_id)
        nodes = uow.risk.neighbourhood([application_id], on)
        if tenant(uow) is not None:
            found = uow.applications.get_many(n.application_id for n in nodes)
            nodes = [n for n in nodes if n.application_id in found
                     and uow.actor.sees_funder(found[n.application_id].funder_id)]
    graph = IdentityGraph(nodes)
    if not graph.has(application_id):
        return RingView(1, Decimal(0), (), ())
    ring = graph.ring_of(application_id)
    members = next((r for r in graph.rings() if application_id in r), [])
    others = tuple(i for i in members if i != application_id)
    return RingView(ring.size, ring.overdue_share, ring.linked_by, others[:RING_SHOWN])


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
    in). ``quote(application, product, on, amount_fen, monthly_rate, vat_rate=)`` makes the
    policy quote of an approval."""
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
                                         review.record.monthly_premium_rate,
                                         vat_rate=engine.vat_rate)])
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
    share = insurer_share(product.coverage_share, risk_share_of(uow, funder.id or 0))
    if not uow.counters.reserve(keys, exposure.retained_fen(approved_fen, share)):
        raise Conflict("the portfolio limits have no room for this amount now "
                       f"({LIMIT_CONTENDED}); see `xinbao limits show`")
