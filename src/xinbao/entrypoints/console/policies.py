"""The console's policies pages (issue 20): the list of issued policies (filtered, sorted
and paged on the server), the search by the borrower's ID number (a POST form: the number
never goes into an address), and one policy with its parties, premium, loan, claims and
ledger entries.

Every read goes through the contexts' use cases, which check the permission and keep a
funder's user to its own business (another funder's policy is not found).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xinbao.catalogue import queries as catalogue
from xinbao.catalogue.model.parties import PartyKind
from xinbao.entrypoints.console import web
from xinbao.entrypoints.console.web import N_, Listing, RecordId, Signed, today
from xinbao.iam.model.security import Action, Forbidden
from xinbao.kernel.errors import InvalidInput
from xinbao.kernel.identity import mask_id_number, mask_name
from xinbao.ledger.model import ACCOUNTS
from xinbao.loans.model import Installment, installment_settled, paid_by_installment
from xinbao.policy import endorsements
from xinbao.policy import queries as policies
from xinbao.policy.commands import CancelPolicy, PrepayInPart, RestructureLoan, TransferPolicy
from xinbao.policy.model import EndorsementKind, Policy, PolicyStatus, policy_id_of
from xinbao.policy.repository import POLICY_SORTS, PolicyFilter
from xinbao.reporting.documents import epolicies_issued, issue_epolicy
from xinbao.servicing import queries as servicing
from xinbao.underwriting import queries as underwriting

#: Included in the console's router (``routes.py``), which adds the ``/console`` prefix.
router = APIRouter(include_in_schema=False)

#: What the pages call each state of a policy, and the badge it wears.
STATUS_NAMES = {
    PolicyStatus.QUOTED: N_("Quoted"), PolicyStatus.ISSUED: N_("Issued"),
    PolicyStatus.IN_FORCE: N_("In force"), PolicyStatus.EXPIRED: N_("Expired"),
    PolicyStatus.CANCELLED: N_("Cancelled"), PolicyStatus.CLAIMED: N_("Claimed"),
    PolicyStatus.CLOSED: N_("Closed"),
}
BADGES = {PolicyStatus.IN_FORCE: "good", PolicyStatus.ISSUED: "good",
          PolicyStatus.CLAIMED: "bad", PolicyStatus.CANCELLED: "warn"}
MODE_NAMES = {"credit": N_("Credit insurance"), "guarantee": N_("Guarantee insurance")}
ROLE_NAMES = {"debtor": N_("Borrower (debtor)"), "creditor": N_("Funder (creditor)")}
BASIS_NAMES = {"single": N_("Single premium"), "per_installment": N_("Per installment")}
REFUND_NAMES = {"pro_rata": N_("Pro rata"), "rule_of_78": N_("Rule of 78")}
CLAIM_STATUS_NAMES = {"notified": N_("Notified"), "under_review": N_("Under review"),
                      "approved": N_("Approved"), "declined": N_("Declined"),
                      "paid": N_("Paid"), "recovering": N_("Recovering"),
                      "closed": N_("Closed")}


def _funders(me: Signed) -> dict[int, str]:
    """Funder id → "code name" for the funders the reader may see (none without the
    catalogue's read permission)."""
    try:
        views = catalogue.list_funders(me.uow())
    except Forbidden:
        return {}
    return {v.funder.id: f"{v.funder.code} {v.funder.name}" for v in views
            if v.funder.id is not None}


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _status_or_none(text: str | None) -> PolicyStatus | None:
    try:
        return PolicyStatus(text) if text else None
    except ValueError:
        return None


@router.get("/policies", response_class=HTMLResponse)
def policy_list(request: Request, me: Signed) -> Response:
    """Issued policies, filtered by number, funder and status, a page at a time."""
    q = request.query_params
    number = q.get("number", "").strip()[:40]
    # A number that names no policy (0: no id) finds nothing rather than everything.
    where = PolicyFilter(funder_id=_int_or_none(q.get("funder")),
                         status=_status_or_none(q.get("status")),
                         policy_id=(policy_id_of(number) or 0) if number else None)
    listing = Listing.of(request, tuple(POLICY_SORTS), default="id", descending=True)
    result = policies.search_policies(me.uow(), where, listing.page_request())
    return me.render("policies/list.html", "policies", listing=listing, result=result,
                     funders=_funders(me), filters={"number": number, "where": where},
                     **_names(me))


def _names(me: Signed) -> dict[str, Any]:
    """The translated names of states, modes, roles and premium bases the pages show."""
    def translated(names: dict[Any, str]) -> dict[str, str]:
        return {str(k): me.gettext(v) for k, v in names.items()}
    return {"statuses": translated(STATUS_NAMES), "badges": {str(k): v for k, v in
                                                            BADGES.items()},
            "modes": translated(MODE_NAMES), "roles": translated(ROLE_NAMES),
            "bases": translated(BASIS_NAMES), "refunds": translated(REFUND_NAMES),
            "claim_statuses": translated(CLAIM_STATUS_NAMES),
            "listed_statuses": [s.value for s in PolicyStatus if s is not PolicyStatus.QUOTED]}


@router.post("/policies/borrower", response_class=HTMLResponse)
def borrower_search(me: Signed, id_number: Annotated[str, Form(max_length=40)],
                    csrf_token: Annotated[str, Form(max_length=100)]) -> Response:
    """The policies of one borrower by exact ID number. A POST, so that the number stays
    out of addresses, logs and history; the page shows it masked only."""
    me.check_csrf(csrf_token)
    found = policies.find_policies(me.uow(), id_number=id_number.strip(), on=today())
    masked = mask_id_number(id_number, me.container.parameters.masking) if id_number else ""
    return me.render("policies/borrower.html", "policies", found=found, masked=masked,
                     funders=_funders(me), **_names(me))


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One installment of the loan as the policy page shows it."""

    installment: Installment
    paid_principal_fen: int
    paid_interest_fen: int
    settled: bool
    overdue: bool


def _schedule(view: servicing.LoanView, as_of: date) -> list[ScheduleRow]:
    paid = paid_by_installment(view.repayments)
    rows = []
    for i in view.loan.installments:
        p, r = paid.get(i.number, (0, 0))
        settled = installment_settled(i, paid)
        rows.append(ScheduleRow(i, p, r, settled, not settled and i.due_date < as_of))
    return rows


def _borrower(me: Signed, policy: Policy) -> dict[str, str | None]:
    """The borrower as the API shows it: a person's name and every ID number masked."""
    masking = me.container.parameters.masking
    name: str | None = None
    try:
        application = underwriting.get_application(me.uow(), policy.application_id)
    except Forbidden:
        application = None
    if application is not None:
        b = application.borrower
        name = mask_name(b.name) if b.kind is PartyKind.INDIVIDUAL else b.name
    return {"name": name, "id_number": mask_id_number(policy.borrower_id_number, masking)}


#: An endorsement's kind in the reader's language.
ENDORSEMENT_NAMES = {EndorsementKind.CANCELLATION: N_("Cancellation"),
                     EndorsementKind.TRANSFER: N_("Change of insured"),
                     EndorsementKind.PARTIAL_PREPAYMENT: N_("Partial prepayment"),
                     EndorsementKind.RESTRUCTURE: N_("Restructuring")}
#: The flash of each redirect after an endorsement form (``?done=``).
DONE = {"cancelled": N_("The policy is cancelled; its refund is posted."),
        "transferred": N_("The insured is changed: the loan is the buyer's."),
        "prepaid": N_("The partial prepayment is recorded: the installments left and the "
                      "cover are smaller, the refund is posted."),
        "restructured": N_("The restructuring is recorded.")}


@router.post("/policies/{policy_id}/cancel")
def cancel(policy_id: RecordId, me: Signed, csrf_token: Annotated[str, Form(max_length=100)],
           on: Annotated[str, Form(max_length=10)],
           reason: Annotated[str, Form(max_length=200)] = "",
           insured_consent: Annotated[bool, Form()] = False) -> Response:
    """Cancel the policy at the policyholder's request (``policy.endorsements``)."""
    me.check_csrf(csrf_token)
    endorsements.cancel_policy(CancelPolicy(policy_id, web.form_date("on", on), reason,
                                            insured_consent), me.uow())
    return RedirectResponse(f"/console/policies/{policy_id}?done=cancelled", status_code=303)


@router.post("/policies/{policy_id}/transfer")
def transfer(policy_id: RecordId, me: Signed, csrf_token: Annotated[str, Form(max_length=100)],
             on: Annotated[str, Form(max_length=10)],
             to_funder: Annotated[str, Form(max_length=40)] = "",
             contract_no: Annotated[str, Form(max_length=64)] = "",
             reason: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The loan sold to another funder: it becomes the insured."""
    me.check_csrf(csrf_token)
    endorsements.transfer_policy(TransferPolicy(policy_id, to_funder.strip(), contract_no,
                                                web.form_date("on", on), reason), me.uow())
    return RedirectResponse(f"/console/policies/{policy_id}?done=transferred",
                            status_code=303)


@router.post("/policies/{policy_id}/prepay-part")
def prepay_part(policy_id: RecordId, me: Signed,
                csrf_token: Annotated[str, Form(max_length=100)],
                on: Annotated[str, Form(max_length=10)],
                principal: Annotated[str, Form(max_length=20)] = "",
                interest: Annotated[str, Form(max_length=20)] = "0",
                reference: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Part of the loan's principal repaid early, as the funder reports it."""
    me.check_csrf(csrf_token)
    policy = policies.get_policy(me.uow(), policy_id)
    if policy.loan_id is None:
        raise InvalidInput.single("policy", "policy.loan", "the policy was never issued")
    endorsements.prepay_in_part(PrepayInPart(
        policy.loan_id, web.form_date("on", on), web.form_yuan("principal", principal),
        web.form_yuan("interest", interest or "0", zero=True), reference), me.uow())
    return RedirectResponse(f"/console/policies/{policy_id}?done=prepaid", status_code=303)


@router.post("/policies/{policy_id}/restructure")
def restructure(policy_id: RecordId, me: Signed,
                csrf_token: Annotated[str, Form(max_length=100)],
                on: Annotated[str, Form(max_length=10)],
                installments: Annotated[str, Form(max_length=4)] = "",
                rate: Annotated[str, Form(max_length=12)] = "",
                reference: Annotated[str, Form(max_length=64)] = "",
                reason: Annotated[str, Form(max_length=200)] = "",
                consent: Annotated[bool, Form()] = False) -> Response:
    """The funder's restructuring of the loan, with the insurer's consent or without."""
    me.check_csrf(csrf_token)
    if not installments.strip().isdigit():
        raise InvalidInput.single("installments", "restructure.installments",
                                  "a whole number of new installments, 1 to 360")
    try:
        annual_rate = Decimal(rate.strip().rstrip("%")) / (100 if "%" in rate else 1) \
            if rate.strip() else None
    except InvalidOperation:
        raise InvalidInput.single("rate", "restructure.rate",
                                  "the annual rate as a share (0.05) or per cent (5%)") \
            from None
    endorsements.restructure_loan(RestructureLoan(
        policy_id, web.form_date("on", on), int(installments), reference, reason, consent,
        annual_rate), me.uow())
    return RedirectResponse(f"/console/policies/{policy_id}?done=restructured",
                            status_code=303)


@router.get("/policies/{policy_id}/epolicy.pdf")
def epolicy_file(policy_id: RecordId, me: Signed) -> Response:
    """The policy's e-policy (PDF) for download; its SHA-256 is kept when first issued."""
    issued = issue_epolicy(me.uow(), policy_id, on=today())
    return Response(issued.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{issued.epolicy.policy_no}.pdf"',
        "X-Document-SHA256": issued.sha256})


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
def policy_page(policy_id: RecordId, me: Signed, done: str | None = None) -> Response:
    """One policy: parties, cover, premium, the loan's schedule and payments, days past
    due today, the claims made on it and (for who may read the ledger) its entries."""
    policy = policies.get_policy(me.uow(), policy_id)
    as_of = today()
    loan = (servicing.get_loan(me.uow(), policy.loan_id, as_of=as_of)
            if policy.loan_id is not None and me.may(Action.LOAN_READ) else None)
    claims = (servicing.claims_of_policy(me.uow(), policy_id)
              if me.may(Action.CLAIM_READ) else [])
    entries = (policies.policy_entries(me.uow(), policy_id)
               if me.may(Action.LEDGER_READ) else None)
    accounts = {code: a.name_zh if me.locale == "zh_CN" else a.name_en
                for code, a in ACCOUNTS.items()}
    documents = epolicies_issued(me.uow(), policy_id) if policy.issued_on else []
    return me.render("policies/detail.html", "policies", policy=policy, as_of=as_of,
                     documents=documents,
                     endorsements=policies.endorsements_of(me.uow(), policy_id),
                     endorsement_kinds={k.value: me.gettext(n)
                                        for k, n in ENDORSEMENT_NAMES.items()},
                     may_endorse=policy.status is PolicyStatus.IN_FORCE
                     and me.may(Action.POLICY_ENDORSE),
                     may_prepay=policy.status is PolicyStatus.IN_FORCE
                     and me.may(Action.REPAYMENT_RECORD),
                     may_consent=me.session.principal.funder_id is None,
                     notice=me.gettext(DONE[done]) if done in DONE else None,
                     today=today(),
                     borrower=_borrower(me, policy),
                     funder=_funders(me).get(policy.funder_id, str(policy.funder_id)),
                     monthly_rate=f"{(policy.monthly_premium_rate * 100).normalize():f}%",
                     loan=loan, schedule=_schedule(loan, as_of) if loan else [],
                     claims=claims, entries=entries, accounts=accounts,
                     may_read_overrides=me.may(Action.REPORT_READ), **_names(me))
