"""Approving applications: the engine's decisions, kept, and the quotes of approvals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from xinbao.catalogue.model.products import Product
from xinbao.iam.access import authorize, four_eyes_many, own, tenant
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import InvalidInput, require
from xinbao.kernel.events import Event
from xinbao.kernel.retries import retried
from xinbao.policy import model as policy_rules
from xinbao.policy.model import Policy
from xinbao.risk import services as decisions
from xinbao.risk.commands import ApproveApplication, ApproveApplications
from xinbao.risk.model.decision import DecisionRecord
from xinbao.risk.repository import UnitOfWork
from xinbao.risk.services import RiskEngine
from xinbao.underwriting.model import Application, ApplicationStatus


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    application: Application
    decision: DecisionRecord | None  # None for an application decided before 0005
    policy: Policy | None  # the quote, when approved

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return self.application.reason_codes


@retried
def approve_application(cmd: ApproveApplication, uow: UnitOfWork,
                        engine: RiskEngine) -> ApprovalResult:
    """Decide an application; an approval quotes its policy in the same transaction."""
    authorize(uow, Action.APPLICATION_APPROVE)
    with uow:
        result = _decide(uow, engine, [cmd.application_id], cmd.on)[0]
        uow.commit()
    return result


@retried
def approve_applications(cmd: ApproveApplications, uow: UnitOfWork,
                         engine: RiskEngine) -> list[ApprovalResult]:
    """Decide many applications in one transaction (the day's queue)."""
    authorize(uow, Action.APPLICATION_APPROVE)
    with uow:
        results = _decide(uow, engine, cmd.application_ids, cmd.on)
        uow.commit()
    return results


def waiting_for_decision(uow: UnitOfWork, *, applied_by: date,
                         funder_code: str | None = None) -> list[int]:
    """The applications still waiting for a decision, applied for on or before
    ``applied_by``: their ids, oldest first; those of one funder when ``funder_code`` is
    given, and only the principal's own funder's for a funder's client."""
    authorize(uow, Action.APPLICATION_APPROVE)
    with uow:
        funder_id = tenant(uow)
        if funder_code is not None:
            funder = require(uow.funders.get_by_code(funder_code), "funder", funder_code)
            own(uow, funder.id, "funder", funder_code)
            funder_id = funder.id
        return uow.applications.waiting(applied_by=applied_by, funder_id=funder_id)


def _decide(uow: UnitOfWork, engine: RiskEngine, application_ids: Sequence[int],
            on: date) -> list[ApprovalResult]:
    """Decide each submitted application (already decided ones report their decision);
    decisions and quotes are written in bulk."""
    found = uow.applications.get_many(application_ids)
    products: dict[tuple[str, int], Product] = {}
    earlier: dict[int, ApprovalResult] = {}
    batch: list[Application] = []
    for app_id in dict.fromkeys(application_ids):
        application = require(found.get(app_id), "application", app_id)
        own(uow, application.funder_id, "application", app_id)
        if application.status is not ApplicationStatus.SUBMITTED:
            earlier[app_id] = ApprovalResult(application, uow.decisions.get(app_id),
                                             uow.policies.get_by_application(app_id))
            continue
        if on < application.applied_on:
            raise InvalidInput.single("on", "decision.date", "cannot decide before application")
        authorize(uow, Action.APPLICATION_APPROVE, amount_fen=application.amount_fen)
        key = (application.product_code, application.product_version)
        if key not in products:
            products[key] = require(uow.products.get(*key), "product", key)
        batch.append(application)
    four_eyes_many(uow, Action.APPLICATION_APPROVE, "application",
                   [a.id for a in batch if a.id is not None],
                   ("ApplicationSubmitted",))
    decided = decisions.decide(uow, engine, batch, products, on)
    quotes: dict[int, Policy] = {}
    for d in decided:
        if d.application.status is ApplicationStatus.APPROVED:
            assert d.record.monthly_premium_rate is not None
            quotes[d.record.application_id] = quote(
                d.application, products[(d.application.product_code,
                                         d.application.product_version)],
                on, d.record.approved_fen, d.record.monthly_premium_rate,
                vat_rate=engine.vat_rate)
    uow.applications.save_many([d.application for d in decided])
    uow.policies.add_many(list(quotes.values()))
    by_id = {d.record.application_id: d for d in decided}
    results = []
    for app_id in application_ids:
        if app_id in by_id:
            d = by_id[app_id]
            results.append(ApprovalResult(d.application, d.record, quotes.get(app_id)))
        else:
            results.append(earlier[app_id])
    return results


def quote(application: Application, product: Product, on: date, principal_insured_fen: int,
          monthly_rate: Decimal, *, vat_rate: Decimal) -> Policy:
    """The policy quote of an approval: the approved amount at the risk-priced rate, VAT on
    the premium at ``vat_rate`` (the policy keeps it)."""
    single, per_installment = policy_rules.premium_schedule(
        product.premium_basis, principal_insured_fen, monthly_rate, application.term_months)
    assert application.id is not None
    policy = Policy(
        application_id=application.id, product_code=product.code,
        product_version=product.version, mode=product.mode, funder_id=application.funder_id,
        borrower_id_number=application.borrower.id_number,
        policyholder=application.roles.policyholder, insured=application.roles.insured,
        principal_insured_fen=principal_insured_fen, coverage_share=product.coverage_share,
        premium_basis=product.premium_basis, monthly_premium_rate=monthly_rate,
        refund_method=product.refund_method, term_months=application.term_months,
        single_premium_fen=single, installment_premium_fen=per_installment[0], quoted_on=on,
        vat_rate=vat_rate, installment_vat_fen=policy_rules.premium_vat(per_installment[0],
                                                                      vat_rate),
    )
    policy.events.append(Event("PolicyQuoted", "policy", None, on, {
        "application_id": application.id, "premium_fen": policy.total_premium_fen}))
    return policy
