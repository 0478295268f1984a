"""Submitting applications: one, or a funder's file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from xinbao.catalogue.model.parties import (
    Borrower,
    Funder,
    PartyKind,
    assign_roles,
    has_control_characters,
)
from xinbao.catalogue.model.products import Product, version_in_force
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import Conflict, DomainError, FieldError, InvalidInput
from xinbao.kernel.events import Event
from xinbao.kernel.results import FileOutcome, Rejection
from xinbao.kernel.retries import retried
from xinbao.underwriting.commands import SubmitApplication, SubmitApplicationFile
from xinbao.underwriting.model import Application, Profile, intake_bounds
from xinbao.underwriting.repository import UnitOfWork


class _Lookups:
    """Funders and product versions read once per transaction (a file has many rows)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._funders: dict[str, Funder | None] = {}
        self._products: dict[str, list[Product]] = {}

    def funder(self, code: str) -> Funder | None:
        """The funder with this code, if the principal may act for it."""
        if code not in self._funders:
            funder = self._uow.funders.get_by_code(code)
            visible = funder is not None and self._uow.actor.sees_funder(funder.id)
            self._funders[code] = funder if visible else None
        return self._funders[code]

    def product_versions(self, code: str) -> list[Product]:
        if code not in self._products:
            self._products[code] = self._uow.products.versions(code)
        return self._products[code]


@retried
def submit_application(cmd: SubmitApplication, uow: UnitOfWork, *,
                       before_commit: Callable[[Application], None] | None = None,
                       ) -> Application:
    """Validate and store an application; refuse it whole, naming each broken rule.

    A repeat of the same funder reference returns the stored application unchanged.
    ``before_commit`` sees the application inside the transaction, before the commit: what
    it writes commits with the application, and what it raises rolls the application back
    (an idempotency key's record, claimed with the write).
    """
    authorize(uow, Action.APPLICATION_SUBMIT)
    with uow:
        outcome = _store(uow, [cmd], _Lookups(uow))
        if outcome.rejected:
            raise outcome.rejected[0].error
        if before_commit is not None:
            before_commit(outcome.accepted[0])
        uow.commit()
    return outcome.accepted[0]


@retried
def submit_application_file(cmd: SubmitApplicationFile,
                            uow: UnitOfWork) -> FileOutcome[Application]:
    """A funder's application file in one transaction: each good row stored, each bad row
    refused alone with its reasons (nothing of it written)."""
    authorize(uow, Action.APPLICATION_SUBMIT)
    with uow:
        outcome = _store(uow, cmd.rows, _Lookups(uow))
        uow.commit()
    return outcome


def _store(uow: UnitOfWork, rows: Sequence[SubmitApplication],
           lookups: _Lookups) -> FileOutcome[Application]:
    """Validate every row, then store the new ones in one bulk insert.

    A row repeating a stored (or earlier) funder reference with the same terms gives the
    stored application back; with other terms it is refused as a conflict.
    """
    rejected: list[Rejection] = []
    built: list[tuple[int, Application]] = []
    for index, row in enumerate(rows):
        try:
            built.append((index, _build(row, lookups)))
        except DomainError as exc:
            rejected.append(Rejection(index, row.external_ref, exc))
    by_funder: dict[int, list[str]] = {}
    for _, app in built:
        by_funder.setdefault(app.funder_id, []).append(app.external_ref)
    known: dict[tuple[int, str], int] = {}
    for funder_id, refs in by_funder.items():
        known.update(((funder_id, ref), app_id)
                     for ref, app_id in uow.applications.known_refs(funder_id, refs).items())
    stored = uow.applications.get_many(known.values()) if known else {}
    result: dict[int, Application] = {}
    fresh: list[tuple[int, Application]] = []
    seen: dict[tuple[int, str], Application] = {}
    for index, app in built:
        key = (app.funder_id, app.external_ref)
        earlier = stored.get(known[key]) if key in known else seen.get(key)
        if earlier is None:
            seen[key] = app
            fresh.append((index, app))
        elif _same_terms(earlier, app):
            result[index] = earlier
        else:
            rejected.append(Rejection(index, app.external_ref, Conflict(
                f"application {app.external_ref!r} exists with other terms")))
    uow.applications.add_many([app for _, app in fresh])
    uow.events.add([Event("ApplicationSubmitted", "application", app.id, app.applied_on, {
        "funder_id": app.funder_id, "external_ref": app.external_ref,
        "product": f"{app.product_code} v{app.product_version}",
        "amount_fen": app.amount_fen}) for _, app in fresh])
    result.update(fresh)
    return FileOutcome(tuple(result[i] for i in sorted(result)),
                       tuple(sorted(rejected, key=lambda r: r.index)))


def _same_terms(a: Application, b: Application) -> bool:
    return ((a.borrower.id_number, a.amount_fen, a.term_months, a.profile, a.collateral,
             a.evidence)
            == (b.borrower.id_number, b.amount_fen, b.term_months, b.profile, b.collateral,
                b.evidence))


#: Longest declared values (characters).
_TEXT_LIMITS = {"employment": 30, "industry": 40, "device_id": 200, "address": 500,
                "employer": 200}


def _check_declared(cmd: SubmitApplication) -> list[FieldError]:
    errors: list[FieldError] = []
    p = cmd.profile
    if p.monthly_income_fen is not None and p.monthly_income_fen < 0:
        errors.append(FieldError("monthly_income_fen", "profile.income",
                                 "income cannot be negative"))
    for name, limit in _TEXT_LIMITS.items():
        value = getattr(p, name)
        if value is not None and (not value.strip() or len(value) > limit
                                  or has_control_characters(value)):
            errors.append(FieldError(name, "profile.text",
                                     f"{name} is 1 to {limit} printable characters when "
                                     "given"))
    if cmd.collateral is not None:
        errors.extend(cmd.collateral.check())
    for i, e in enumerate(cmd.evidence):
        errors.extend(e.check(f"evidence[{i}]"))
    return errors


def _build(cmd: SubmitApplication, lookups: _Lookups) -> Application:
    """The application a row describes, or InvalidInput naming every broken rule."""
    errors: list[FieldError] = _check_declared(cmd)
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
    errors.extend(intake_bounds(
        amount_fen=cmd.amount_fen, annual_rate=cmd.annual_rate, applied_on=cmd.applied_on,
        external_ref=cmd.external_ref, income_fen=cmd.profile.monthly_income_fen,
        received_on=cmd.received_on))

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
        if funder is not None and product.code not in funder.products:
            errors.append(FieldError(
                "product_code", "funder.agreement",
                f"{funder.code}'s cooperation agreement does not cover {product.code}"))
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
    assert funder.id is not None
    return Application(
        funder_id=funder.id, product_code=product.code, product_version=product.version,
        mode=product.mode, borrower=borrower, roles=roles, amount_fen=cmd.amount_fen,
        term_months=cmd.term_months, annual_rate=cmd.annual_rate,
        repayment_method=cmd.repayment_method, applied_on=cmd.applied_on,
        external_ref=cmd.external_ref.strip(), profile=_stripped(cmd.profile),
        collateral=cmd.collateral,
        evidence=tuple(replace(e, reference=e.reference.strip(), sha256=e.sha256.lower())
                       for e in cmd.evidence),
    )


def _stripped(p: Profile) -> Profile:
    return replace(p, **{name: getattr(p, name).strip() for name in _TEXT_LIMITS
                         if getattr(p, name) is not None})
