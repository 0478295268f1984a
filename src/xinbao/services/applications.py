"""Submitting and approving applications."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from xinbao.domain import policy as policy_rules
from xinbao.domain import underwriting
from xinbao.domain.errors import Conflict, DomainError, FieldError, InvalidInput, require
from xinbao.domain.events import Event
from xinbao.domain.parties import Borrower, Funder, PartyKind, assign_roles
from xinbao.domain.policy import Policy
from xinbao.domain.products import Product, version_in_force
from xinbao.domain.underwriting import Application, ApplicationStatus, Decision
from xinbao.services.commands import (
    ApproveApplication,
    ApproveApplications,
    SubmitApplication,
    SubmitApplicationFile,
)
from xinbao.services.results import FileOutcome, Rejection
from xinbao.services.unit_of_work import UnitOfWork

#: Sanity bound on a contractual rate; the all-in cost cap is enforced by risk pricing.
MAX_ANNUAL_RATE = Decimal(1)


class _Lookups:
    """Funders and product versions read once per transaction (a file has many rows)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._funders: dict[str, Funder | None] = {}
        self._products: dict[str, list[Product]] = {}

    def funder(self, code: str) -> Funder | None:
        if code not in self._funders:
            self._funders[code] = self._uow.funders.get_by_code(code)
        return self._funders[code]

    def product_versions(self, code: str) -> list[Product]:
        if code not in self._products:
            self._products[code] = self._uow.products.versions(code)
        return self._products[code]


def submit_application(cmd: SubmitApplication, uow: UnitOfWork) -> Application:
    """Validate and store an application; refuse it whole, naming each broken rule.

    A repeat of the same funder reference returns the stored application unchanged.
    """
    with uow:
        application = _submit(uow, cmd, _Lookups(uow))
        uow.commit()
    return application


def submit_application_file(cmd: SubmitApplicationFile, uow: UnitOfWork) -> FileOutcome:
    """A funder's application file in one transaction: each good row stored, each bad row
    refused alone with its reasons (nothing of it written)."""
    accepted: list[Application] = []
    rejected: list[Rejection] = []
    with uow:
        lookups = _Lookups(uow)
        for index, row in enumerate(cmd.rows):
            try:
                accepted.append(_submit(uow, row, lookups))
            except DomainError as exc:
                rejected.append(Rejection(index, row.external_ref, exc))
        uow.commit()
    return FileOutcome(tuple(accepted), tuple(rejected))


def _submit(uow: UnitOfWork, cmd: SubmitApplication, lookups: _Lookups) -> Application:
    errors: list[FieldError] = []
    borrower: Borrower | None = None
    try:
        if cmd.borrower_kind is PartyKind.INDIVIDUAL:
            borrower = Borrower.individual(
                name=cmd.borrower_name, id_number=cmd.borrower_id_number,
                phone=cmd.borrower_phone, bank_card=cmd.borrower_bank_card)
        else:
            borrower = Borrower.enterprise(
                name=cmd.borrower_name, credit_code=cmd.borrower_id_number,
                phone=cmd.borrower_phone, bank_card=cmd.borrower_bank_card)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if not cmd.external_ref.strip():
        errors.append(FieldError("external_ref", "application.external_ref",
                                 "the funder's application number is required"))
    if not Decimal(0) <= cmd.annual_rate <= MAX_ANNUAL_RATE:
        errors.append(FieldError("annual_rate", "loan.rate_range",
                                 "annual rate must be between 0 and 1"))

    funder = lookups.funder(cmd.funder_code)
    if funder is None:
        errors.append(FieldError("funder_code", "funder.known",
                                 f"unknown funder {cmd.funder_code!r}"))
    elif not funder.licensed:
        errors.append(FieldError("funder_code", "funder.licensed",
                                 "only licensed funders may be covered (39号)"))
    product = version_in_force(lookups.product_versions(cmd.product_code), cmd.applied_on)
    if product is None:
        errors.append(FieldError("product_code", "product.known",
                                 f"no product {cmd.product_code!r} in force on "
                                 f"{cmd.applied_on}"))
    else:
        if cmd.borrower_kind is not product.borrower_kind:
            errors.append(FieldError(
                "borrower_kind", "product.borrower_kind",
                f"{product.family.value} loans are for {product.borrower_kind.value} "
                "borrowers"))
        errors.extend(f for f in product.check_loan_terms(
            amount_fen=cmd.amount_fen, term_months=cmd.term_months,
            repayment_method=cmd.repayment_method,
        ) if f.rule != "product.amount_range")  # out-of-range amounts are declined instead
        if funder is not None and borrower is not None:
            try:
                roles = assign_roles(
                    product.mode, debtor_id=borrower.id_number, creditor_id=funder.credit_code,
                    policyholder_id=cmd.policyholder_id, insured_id=cmd.insured_id)
            except InvalidInput as exc:
                errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors)
    assert funder is not None and product is not None and borrower is not None
    existing = uow.applications.get_by_external_ref(funder.id, cmd.external_ref)
    if existing is not None:
        if (existing.borrower.id_number, existing.amount_fen, existing.term_months) != (
            borrower.id_number, cmd.amount_fen, cmd.term_months):
            raise Conflict(f"application {cmd.external_ref!r} of {funder.code} exists "
                           "with other terms")
        return existing
    application = Application(
        funder_id=funder.id, product_code=product.code, product_version=product.version,
        mode=product.mode, borrower=borrower, roles=roles, amount_fen=cmd.amount_fen,
        term_months=cmd.term_months, annual_rate=cmd.annual_rate,
        repayment_method=cmd.repayment_method, applied_on=cmd.applied_on,
        external_ref=cmd.external_ref.strip(),
    )
    return uow.applications.add(application)


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    application: Application
    decision: Decision
    policy: Policy | None  # the quote, when approved


def approve_application(cmd: ApproveApplication, uow: UnitOfWork) -> ApprovalResult:
    """Decide an application; an approval quotes its policy in the same transaction."""
    with uow:
        result = _approve(uow, cmd, {})
        uow.commit()
    return result


def approve_applications(cmd: ApproveApplications, uow: UnitOfWork) -> list[ApprovalResult]:
    """Decide many applications in one transaction (the day's queue)."""
    with uow:
        products: dict[tuple[str, int], Product | None] = {}
        results = [_approve(uow, ApproveApplication(app_id, cmd.on), products)
                   for app_id in cmd.application_ids]
        uow.commit()
    return results


def _approve(uow: UnitOfWork, cmd: ApproveApplication,
             products: dict[tuple[str, int], Product | None]) -> ApprovalResult:
    application = require(uow.applications.get(cmd.application_id), "application",
                          cmd.application_id)
    if application.status is not ApplicationStatus.SUBMITTED:
        quote = uow.policies.get_by_application(application.id)
        return ApprovalResult(application, Decision(
            application.status is ApplicationStatus.APPROVED, application.reason_codes, ()),
            quote)
    if cmd.on < application.applied_on:
        raise InvalidInput.single("on", "decision.date", "cannot decide before application")
    key = (application.product_code, application.product_version)
    if key not in products:
        products[key] = uow.products.get(*key)
    product = products[key]
    if product is None:  # pragma: no cover - products are never deleted
        raise Conflict(f"product {application.product_code} v{application.product_version} "
                       "missing")
    decision = underwriting.evaluate(application, product)
    application.decide(decision, cmd.on)
    uow.applications.save(application)
    quote = None
    if decision.approved:
        single, per_installment = policy_rules.premium_schedule(
            product.premium_basis, application.amount_fen, product.monthly_premium_rate,
            application.term_months)
        quote = Policy(
            application_id=application.id, product_code=product.code,
            product_version=product.version, mode=product.mode,
            funder_id=application.funder_id,
            borrower_id_number=application.borrower.id_number,
            policyholder=application.roles.policyholder, insured=application.roles.insured,
            sum_insured_fen=application.amount_fen, coverage_share=product.coverage_share,
            premium_basis=product.premium_basis,
            monthly_premium_rate=product.monthly_premium_rate,
            refund_method=product.refund_method, term_months=application.term_months,
            single_premium_fen=single, installment_premium_fen=per_installment[0],
            quoted_on=cmd.on,
        )
        quote.events.append(Event("PolicyQuoted", "policy", None, cmd.on, {
            "application_id": application.id, "premium_fen": quote.total_premium_fen}))
        quote = uow.policies.add(quote)
    return ApprovalResult(application, decision, quote)
