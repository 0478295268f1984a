"""The console's claims pages (issue 20): the list of claims with its filters, opening a
claim on a policy, a claim's file (its policy, liability findings, payment and recoveries),
paying it and recording recoveries.

Every read and write goes through the claims use cases, which authorize the signed-in
person, keep a funder's user to its own business and enforce four-eyes on payment; their
refusals become pages (``entrypoints/api/app.py``). Forms post back here, then redirect to
the claim's page with what was done (Post/Redirect/Get).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xinbao.catalogue import queries as catalogue
from xinbao.claims import queries
from xinbao.claims import services as claims
from xinbao.claims.commands import FileClaim, PayClaim, RecordRecovery
from xinbao.claims.model import CHECKS, ClaimStatus, Exclusion
from xinbao.claims.repository import CLAIM_SORTS, ClaimFilter
from xinbao.entrypoints.console import web
from xinbao.entrypoints.console.web import N_, RecordId, Signed
from xinbao.iam.model.security import Action, Forbidden
from xinbao.kernel.errors import Conflict, InvalidInput

#: Included in the console's router (``routes.py``), which adds the ``/console`` prefix.
router = APIRouter(include_in_schema=False)
#: A claim's id in a URL: a positive id column value (anything else is a 422 page).
ClaimId = RecordId

STATUS_NAMES = {ClaimStatus.OPEN: N_("Open"), ClaimStatus.DECLINED: N_("Declined"),
                ClaimStatus.PAID: N_("Paid"), ClaimStatus.CLOSED: N_("Closed")}
#: The badge of each status: open waits for payment, declined was refused.
STATUS_BADGES = {ClaimStatus.OPEN: "warn", ClaimStatus.DECLINED: "bad",
                 ClaimStatus.PAID: "good", ClaimStatus.CLOSED: "good"}
#: What each check of liability determination holds (``claims.model.CHECKS``).
CHECK_NAMES = {
    "CLM-NOT-IN-FORCE": N_("The policy is in force and the unpaid installment fell due "
                           "within cover"),
    "CLM-TRIGGER-NOT-REACHED": N_("Days past due reached the product's claim trigger"),
    "CLM-WAITING-PERIOD": N_("The first unpaid installment fell due after the waiting period"),
    "CLM-LOAN-NOT-AS-INSURED": N_("The loan's principal and term are as insured"),
    "CLM-EXCLUSION-": N_("No exclusion of the wording applies"),
}
EXCLUSION_NAMES = {
    Exclusion.LENDING_RULES_BROKEN: N_("The lender broke lending rules"),
    Exclusion.TERMS_CHANGED_WITHOUT_CONSENT: N_("Loan terms changed without the insurer's "
                                                "consent"),
    Exclusion.INSURED_FRAUD: N_("Collusion or fraud by the insured"),
    Exclusion.FORCE_MAJEURE: N_("Force majeure"),
}
#: The flash of each redirect after a form (``?done=``).
DONE = {"opened": N_("The claim was opened."), "declined": N_("Liability was declined; the "
                                                               "findings say why."),
        "exists": N_("This policy already has a claim standing; nothing new was opened."),
        "paid": N_("The claim is paid."), "recovered": N_("The recovery is recorded.")}


@dataclass(frozen=True, slots=True)
class Check:
    """One check of liability determination as the claim's page shows it."""

    code: str
    name: str
    met: bool
    reason_codes: tuple[str, ...]


def _date(text: str | None) -> date | None:
    """A filter's date, or None when absent or not a date (a filter left out)."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 12 else None


def _filters(status: str | None, funder: str | None, opened_from: str | None,
             opened_to: str | None) -> ClaimFilter:
    """The list's filters from its query string; a value that does not parse is left out."""
    chosen = ClaimStatus(status) if status in set(ClaimStatus) else None
    return ClaimFilter(status=chosen, funder_id=_number(funder),
                       opened_from=_date(opened_from), opened_to=_date(opened_to))


def _funders(console: web.Console) -> dict[int, str]:
    """The funders the person may see, by id (none for who may not read the catalogue)."""
    try:
        views = catalogue.list_funders(console.uow())
    except Forbidden:
        return {}
    return {v.funder.id: v.funder.code for v in views if v.funder.id is not None}


@router.get("/claims", response_class=HTMLResponse)
def claim_list(console: Signed, status: str | None = None, funder: str | None = None,
               opened_from: str | None = None, opened_to: str | None = None) -> Response:
    """The claims, filtered, sorted and paginated on the server; the form to open one for
    who may file claims."""
    listing = web.Listing.of(console.request, CLAIM_SORTS)
    filters = _filters(status, funder, opened_from, opened_to)
    result = queries.search_claims(console.uow(), filters, listing.page_request())
    _ = console.gettext
    return console.render(
        "claims/list.html", "claims", listing=listing, result=result, filters=filters,
        funders=_funders(console),
        statuses=[(s.value, _(STATUS_NAMES[s])) for s in ClaimStatus],
        status_names={s: _(n) for s, n in STATUS_NAMES.items()}, badges=STATUS_BADGES,
        exclusions=[(e.value, _(n)) for e, n in EXCLUSION_NAMES.items()],
        may_file=console.may(Action.CLAIM_FILE), today=web.today())


def _policy_id(text: str) -> int:
    """A policy's id from what a handler types: its id or its number (``XB`` and the id)."""
    digits = text.strip().upper().removeprefix("XB")
    if not digits.isdigit() or len(digits) > 12:
        raise InvalidInput.single("policy", "claim.policy",
                                  "a policy's number (XB…) or id")
    return int(digits)


def _form_date(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput.single(field, "date.format", "a date as YYYY-MM-DD") from None


@router.post("/claims")
def open_claim(console: Signed, csrf_token: Annotated[str, Form(max_length=100)],
               policy: Annotated[str, Form(max_length=40)],
               on: Annotated[str, Form(max_length=10)],
               exclusion: Annotated[list[Exclusion] | None, Form()] = None) -> Response:
    """Open a claim on a policy: liability is determined at once, the claim opened or
    declined with its findings. A policy with a claim standing already is answered with
    that claim (a second submission of the form opens nothing)."""
    console.check_csrf(csrf_token)
    policy_id = _policy_id(policy)
    cmd = FileClaim(policy_id, _form_date("on", on), frozenset(exclusion or ()))
    try:
        claim = claims.file_claim(cmd, console.uow())
    except Conflict:
        standing = queries.claim_of_policy(console.uow(), policy_id)
        if standing is None:
            raise
        return _done(standing.id, "exists")
    done = "declined" if claim.status is ClaimStatus.DECLINED else "opened"
    return _done(claim.id, done)


def _done(claim_id: int | None, what: str) -> Response:
    return RedirectResponse(f"/console/claims/{claim_id}?done={what}", status_code=303)


def _checks(reason_codes: tuple[str, ...], gettext: Callable[[str], str]) -> list[Check]:
    """Each check of liability determination with the findings it recorded, if any (an
    exclusion's code names the exclusion after its prefix)."""
    checks = []
    for code in CHECKS:
        found = tuple(r for r in reason_codes
                      if (r.startswith(code) if code.endswith("-") else r == code))
        checks.append(Check(code, gettext(CHECK_NAMES[code]), not found, found))
    return checks


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(console: Signed, claim_id: ClaimId, done: str | None = None) -> Response:
    """A claim's file, with the forms to pay it and record recoveries for who may."""
    file = queries.claim_file(console.uow(), claim_id)
    _ = console.gettext
    status = file.claim.status
    return console.render(
        "claims/detail.html", "claims", file=file, claim=file.claim,
        checks=_checks(file.claim.reason_codes, _),
        status_name=_(STATUS_NAMES[status]), badge=STATUS_BADGES[status],
        notice=_(DONE[done]) if done in DONE else None, today=web.today(),
        may_pay=status is ClaimStatus.OPEN and console.may(Action.CLAIM_PAY),
        may_recover=status is ClaimStatus.PAID and console.may(Action.RECOVERY_RECORD))


@router.post("/claims/{claim_id}/pay")
def pay_claim(console: Signed, claim_id: ClaimId,
              csrf_token: Annotated[str, Form(max_length=100)],
              on: Annotated[str, Form(max_length=10)]) -> Response:
    """Pay the claim: the use case checks the payer's authority for the amount and that
    whoever opened the claim does not pay it (four-eyes); a repeat pays nothing more."""
    console.check_csrf(csrf_token)
    claims.pay_claim(PayClaim(claim_id, _form_date("on", on)), console.uow())
    return _done(claim_id, "paid")


def _fen(text: str) -> int:
    """An amount typed in yuan (up to two decimals) as integer fen."""
    try:
        yuan = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        yuan = Decimal("NaN")
    if not yuan.is_finite() or yuan != yuan.quantize(Decimal("0.01")) or yuan <= 0:
        raise InvalidInput.single("amount", "amount.yuan",
                                  "a positive amount in yuan with at most two decimals")
    return int(yuan * 100)


@router.post("/claims/{claim_id}/recoveries")
def record_recovery(console: Signed, claim_id: ClaimId,
                    csrf_token: Annotated[str, Form(max_length=100)],
                    amount: Annotated[str, Form(max_length=20)],
                    received_on: Annotated[str, Form(max_length=10)],
                    source: Annotated[str, Form(min_length=1, max_length=40)],
                    reference: Annotated[str, Form(min_length=1, max_length=64)],
                    final: Annotated[bool, Form()] = False) -> Response:
    """Record money recovered after payment; the same receipt reference again is the same
    recovery (recorded once)."""
    console.check_csrf(csrf_token)
    claims.record_recovery(RecordRecovery(
        claim_id=claim_id, amount_fen=_fen(amount),
        received_on=_form_date("received_on", received_on), source=source.strip(),
        reference=reference.strip(), final=final), console.uow())
    return _done(claim_id, "recovered")
