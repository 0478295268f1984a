"""The console's applications pages (issue 20): the list with its filters, the search by a
borrower's ID number (a POST form: an ID number never travels in a URL), one application
with its decision explained (as ``xinbao decision explain`` shows it) and the audited
unmasking of its personal data, and the referral queue with the review of a referral.

Every read and write goes through the use cases of ``underwriting`` and ``risk``: they
authorize, scope a funder's user to its own business and refuse what the rules refuse; a
refusal becomes a page (``web.error_page``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from xinbao.catalogue import queries as catalogue
from xinbao.catalogue.model.parties import PartyKind
from xinbao.config import SIMULATED_BUREAU
from xinbao.entrypoints.console import web
from xinbao.entrypoints.console.web import N_, Listing, RecordId, Signed
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import FieldError, InvalidInput
from xinbao.kernel.identity import mask_bank_card, mask_id_number, mask_name, mask_phone
from xinbao.risk import approval, referrals
from xinbao.risk.model.decision import DecisionRecord
from xinbao.risk.repository import REFERRAL_SORTS
from xinbao.underwriting import queries
from xinbao.underwriting.model import Application, ApplicationStatus
from xinbao.underwriting.repository import APPLICATION_SORTS, ApplicationFilter

router = APIRouter(include_in_schema=False)  # mounted under /console by routes.py

#: What each status is called on a page, and its badge.
STATUSES = {
    ApplicationStatus.SUBMITTED: (N_("Submitted"), ""),
    ApplicationStatus.APPROVED: (N_("Approved"), "good"),
    ApplicationStatus.DECLINED: (N_("Declined"), "bad"),
    ApplicationStatus.REFERRED: (N_("Referred"), "warn"),
}
#: The notice shown after a successful form (``?done=``).
DONE = {
    "approved": N_("The referral is approved."),
    "declined": N_("The referral is declined."),
    "recommended": N_("Recommended for approval: waiting for a second approver with the "
                      "authority for this amount."),
}
#: What each outcome of a decision is called.
OUTCOMES = {"approve": N_("Approved"), "approve_changed": N_("Approved with changed terms"),
            "refer": N_("Referred"), "decline": N_("Declined")}
#: What each verdict of a review is called.
VERDICTS = {"approve": N_("approved"), "decline": N_("declined"),
            "recommend": N_("recommended for approval (beyond the reviewer's authority)")}
#: What the findings' actions are called, and their badge.
ACTIONS = {"decline": (N_("decline"), "bad"), "refer": (N_("refer"), "warn"),
           "pass": (N_("pass"), "good")}
_FIELD = Annotated[str, Form(max_length=500)]
_CSRF = Annotated[str, Form(max_length=100)]


@router.get("/applications")
def application_list(console: Signed) -> Response:
    """Applications, filtered by the GET form, sorted and paginated on the server."""
    return _list_page(console)


@router.get("/applications/borrower")
def borrower_search_again() -> Response:
    """The search's answer asked for again by address (a reload, the language switch): the
    ID number is not in the address, so back to the list."""
    return RedirectResponse("/console/applications", status_code=303)


@router.post("/applications/borrower")
def borrower_search(console: Signed, id_number: Annotated[str, Form(max_length=32)],
                    csrf_token: _CSRF) -> Response:
    """The applications of one borrower, by exact ID number (through the blind index); the
    number came in a POST body and is shown back only masked."""
    console.check_csrf(csrf_token)
    found = queries.find_applications(console.uow(), id_number=id_number.strip())
    return _list_page(console, matches=[_row(console, a) for a in found],
                      searched=mask_id_number(id_number.strip(), _masking(console)))


def _list_page(console: Signed, **extra: Any) -> Response:
    listing = Listing.of(console.request, APPLICATION_SORTS, default="id")
    query = console.request.query_params
    funders = catalogue.list_funders(console.uow())
    by_code = {f.funder.code: f.funder.id for f in funders}
    where = _filter(query, by_code)
    result = queries.list_applications(console.uow(), where, listing.page_request())
    names = {f.funder.id: f.funder.code for f in funders}
    return console.render(
        "applications/list.html", "applications", listing=listing, result=result,
        rows=[_row(console, a, names) for a in result.items],
        funders=sorted(by_code), products=sorted({p.code for p in
                                                  catalogue.list_products(console.uow())}),
        statuses=[(s.value, console.gettext(label)) for s, (label, _) in STATUSES.items()],
        chosen={k: query.get(k, "") for k in ("funder", "product", "status", "from", "to",
                                              "min", "max")},
        **extra)


def _filter(query: Any, funders: dict[str, int | None]) -> ApplicationFilter:
    """The list's GET form as a filter; InvalidInput names each value it cannot read."""
    errors: list[FieldError] = []
    funder = query.get("funder") or None
    status = query.get("status") or None
    if funder is not None and funder not in funders:
        errors.append(FieldError("funder", "filter.funder", "no such funder"))
    if status is not None and status not in {s.value for s in ApplicationStatus}:
        errors.append(FieldError("status", "filter.status", "no such status"))
    where = ApplicationFilter(
        funder_id=funders.get(funder) if funder else None,
        product_code=query.get("product") or None,
        status=ApplicationStatus(status) if status and not errors else None,
        applied_from=_date(query.get("from"), "from", errors),
        applied_to=_date(query.get("to"), "to", errors),
        min_fen=_fen(query.get("min"), "min", errors),
        max_fen=_fen(query.get("max"), "max", errors))
    if errors:
        raise InvalidInput(errors)
    return where


def _date(value: str | None, name: str, errors: list[FieldError]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(name, "filter.date", "a date is YYYY-MM-DD"))
        return None


def _fen(value: str | None, name: str, errors: list[FieldError]) -> int | None:
    """An amount in yuan (at most two places) as fen."""
    if not value:
        return None
    try:
        fen = Decimal(value.replace(",", "")) * 100
    except InvalidOperation:
        fen = Decimal("NaN")
    if not fen.is_finite() or fen != fen.to_integral_value() or not 0 <= fen < 10 ** 15:
        errors.append(FieldError(name, "filter.amount",
                                 "an amount is yuan with at most two decimal places"))
        return None
    return int(fen)


def _row(console: Signed, a: Application, funders: dict[int | None, str] | None = None,
         ) -> dict[str, Any]:
    """An application as a list shows it: personal data masked."""
    label, badge = STATUSES[a.status]
    return {"id": a.id, "ref": a.external_ref, "funder": (funders or {}).get(a.funder_id, ""),
            "product": a.product_code, "borrower": _masked(a, _masking(console))["name"],
            "amount_fen": a.amount_fen, "applied_on": a.applied_on,
            "status": console.gettext(label), "badge": badge}


@router.get("/applications/{application_id}")
def application_page(console: Signed, application_id: RecordId) -> Response:
    """The application (personal data masked) and its decision explained."""
    return _detail_page(console, application_id)


@router.post("/applications/{application_id}/unmask")
def unmask(console: Signed, application_id: RecordId, reason: _FIELD, csrf_token: _CSRF,
           ) -> Response:
    """The application's personal data in full, in this answer only, for whoever has
    pii.unmask and says why (the use case records who, what and why)."""
    console.check_csrf(csrf_token)
    shown = queries.unmask_application(console.uow(), application_id, reason=reason,
                                       on=web.today())
    return _detail_page(console, application_id, unmasked=shown)


@router.get("/applications/{application_id}/unmask")
def unmasked_again(application_id: RecordId) -> Response:
    """The unmasked page asked for again by address: it is never kept, so the masked one."""
    return RedirectResponse(f"/console/applications/{application_id}", status_code=303)


def _detail_page(console: Signed, application_id: int, *,
                 unmasked: Application | None = None) -> Response:
    application, record = referrals.decision_of(console.uow(), application_id)
    ring = referrals.identity_ring(console.uow(), application_id, web.today())
    label, badge = STATUSES[application.status]
    done = console.request.query_params.get("done")
    borrower = (_masked(unmasked, None) if unmasked is not None
                else _masked(application, _masking(console)))
    return console.render(
        "applications/detail.html", "applications", a=application, borrower=borrower,
        unmasked=unmasked is not None, status=console.gettext(label), badge=badge,
        decision=_explained(console, record) if record else None, ring=ring,
        may_review=_reviewable(console, application, record),
        may_unmask=console.may(Action.PII_UNMASK),
        may_queue=console.may(Action.APPLICATION_APPROVE),
        notice=console.gettext(DONE[done]) if done in DONE else None)


def _masking(console: Signed) -> Any:
    return console.container.parameters.masking


def _masked(a: Application, masking: Any) -> dict[str, str | None]:
    """The borrower's personal data as the API shows it: masked unless ``masking`` is None
    (an audited unmasking); an enterprise's name is not personal data."""
    b = a.borrower
    if masking is None:
        return {"name": b.name, "id_number": b.id_number, "phone": b.phone,
                "bank_card": b.bank_card}
    person = b.kind is PartyKind.INDIVIDUAL
    return {"name": mask_name(b.name) if person else b.name,
            "id_number": mask_id_number(b.id_number, masking),
            "phone": mask_phone(b.phone, masking),
            "bank_card": mask_bank_card(b.bank_card, masking) if b.bank_card else None}


def _reviewable(console: Signed, a: Application, record: DecisionRecord | None) -> bool:
    """Whether to show the review form: a referral still waiting, to whoever may approve
    (the use case still decides whether this person may conclude it)."""
    return (record is not None and not record.final
            and a.status is ApplicationStatus.REFERRED
            and console.may(Action.APPLICATION_APPROVE))


def _explained(console: Signed, d: DecisionRecord) -> dict[str, Any]:
    """The stored decision as the page shows it: the same content as the CLI's
    ``decision explain`` (findings, limit, score, price, bureau, collateral, reviews) and
    the failure of a decision the engine could not make."""
    rank = {"decline": 0, "refer": 1, "pass": 2}
    findings = sorted(d.detail.get("findings", []), key=lambda f: rank.get(f["action"], 3))
    return {
        "record": d, "outcome": console.gettext(OUTCOMES.get(d.outcome.value,
                                                             d.outcome.value)),
        "findings": [{**f, "action_name": console.gettext(ACTIONS.get(
            f["action"], (f["action"], ""))[0]), "badge": ACTIONS.get(
                f["action"], ("", ""))[1]} for f in findings],
        "limit": d.detail.get("limit"), "score": d.detail.get("score"),
        "pd": _percent(d.detail["score"]["pd"], 2) if d.detail.get("score") else None,
        "monthly_rate": (_percent(str(d.monthly_premium_rate))
                         if d.monthly_premium_rate is not None else None),
        "price": _rates(d.detail.get("price")), "bureau": d.detail.get("bureau"),
        "collateral": d.detail.get("collateral"), "error": d.detail.get("error"),
        "pending": d.pending_second_approval,
        "simulated_bureau": d.bureau_source.partition("/")[0] == SIMULATED_BUREAU,
        "verdicts": {r.verdict: console.gettext(VERDICTS.get(r.verdict, r.verdict))
                     for r in d.reviews},
    }


def _rates(price: dict[str, Any] | None) -> dict[str, Any] | None:
    """The price breakdown's rates (stored as text) as percentages to 0.0001 %."""
    if not price:
        return None
    return {k: _percent(v) for k, v in price.items() if k != "reason_codes"} | {
        "reason_codes": price.get("reason_codes", [])}


def _percent(value: str | None, places: int = 4) -> str:
    return "—" if value is None else f"{Decimal(value):.{places}%}"


@router.get("/referrals")
def referral_queue(console: Signed) -> Response:
    """Referrals waiting for a person, sorted and paginated, each with its review form."""
    listing = Listing.of(console.request, REFERRAL_SORTS, default="id", descending=False)
    result = referrals.referral_page(console.uow(), listing.page_request())
    rows = [{"record": d, "deciding": [f["code"] for f in d.detail.get("findings", [])
                                       if f["action"] != "pass"],
             "pending": d.pending_second_approval} for d in result.items]
    return console.render("applications/referrals.html", "referrals", listing=listing,
                          result=result, rows=rows,
                          may_review=console.may(Action.APPLICATION_APPROVE))


@router.post("/applications/{application_id}/review")
def review(console: Signed, application_id: RecordId,
           verdict: Annotated[str, Form(pattern="^(approve|decline)$")], note: _FIELD,
           csrf_token: _CSRF) -> Response:
    """A person's verdict on a referral; an approval beyond the reviewer's authority waits
    for a second approver. Then back to the application's page with what happened."""
    console.check_csrf(csrf_token)
    reviewed = referrals.review_application(referrals.ReviewApplication(
        application_id, verdict == "approve", web.today(), note), console.uow(),
        console.container.risk, approval.quote)
    done = ("recommended" if reviewed.awaiting_second_approver
            else "approved" if reviewed.application.status is ApplicationStatus.APPROVED
            else "declined")
    return RedirectResponse(f"/console/applications/{application_id}?done={done}",
                            status_code=303)

