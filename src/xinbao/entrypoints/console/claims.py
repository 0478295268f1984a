"""The console's claims pages (issues 20, 22): the list of claims with its filters, opening a
claim on a policy, a claim's file (its policy, each liability check with its evidence, the
amount's breakdown, approvals, payment and recoveries), the decisions on it (review, approve
by authority, decline with the exclusions found, recalculate), paying it and recording
recoveries.

Every read and write goes through the claims use cases, which authorize the signed-in
person, keep a funder's user to its own business and enforce four-eyes on payment; their
refusals become pages (``entrypoints/api/app.py``). Forms post back here, then redirect to
the claim's page with what was done (Post/Redirect/Get).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from xinbao.catalogue import queries as catalogue
from xinbao.claims import queries
from xinbao.claims import services as claims
from xinbao.claims.commands import (
    ApproveClaim,
    DeclineClaim,
    FileClaim,
    PayClaim,
    RecalculateClaim,
    RecordRecovery,
    ReviewClaim,
)
from xinbao.claims.model import (
    CHECKS,
    POLICY_CANCELLED,
    RATE_ABOVE_CAP,
    Claim,
    ClaimSource,
    ClaimStatus,
    Exclusion,
    RightStatus,
)
from xinbao.claims.repository import CLAIM_SORTS, ClaimFilter
from xinbao.claims.rules import shipped
from xinbao.entrypoints.console import web
from xinbao.entrypoints.console.web import N_, RecordId, Signed
from xinbao.iam.model.security import Action, Forbidden
from xinbao.kernel.errors import Conflict, InvalidInput
from xinbao.policy.model import policy_id_of
from xinbao.reporting.statements import (
    Statement,
    statement_csv,
    statement_of,
    statement_pdf,
)
from xinbao.servicing.claim_screen import ring_lookup

#: Included in the console's router (``routes.py``), which adds the ``/console`` prefix.
router = APIRouter(include_in_schema=False)
#: A claim's id in a URL: a positive id column value (anything else is a 422 page).
ClaimId = RecordId

STATUS_NAMES = {ClaimStatus.NOTIFIED: N_("Notified"), ClaimStatus.UNDER_REVIEW: N_("Under review"),
                ClaimStatus.APPROVED: N_("Approved"), ClaimStatus.DECLINED: N_("Declined"),
                ClaimStatus.PAID: N_("Paid"), ClaimStatus.RECOVERING: N_("Recovering"),
                ClaimStatus.CLOSED: N_("Closed")}
#: The badge of each status: waiting on someone, refused, or settled.
STATUS_BADGES = {ClaimStatus.NOTIFIED: "warn", ClaimStatus.UNDER_REVIEW: "warn",
                 ClaimStatus.APPROVED: "warn", ClaimStatus.DECLINED: "bad",
                 ClaimStatus.PAID: "good", ClaimStatus.RECOVERING: "good",
                 ClaimStatus.CLOSED: "good"}
SOURCE_NAMES = {ClaimSource.TRIGGER: N_("End-of-day trigger"),
                ClaimSource.NOTICE: N_("Funder's notice"), ClaimSource.MANUAL: N_("Claims staff")}
#: What each check of liability determination holds (``claims.model.CHECKS``; a declared
#: exclusion's code begins ``CLM-EXCLUSION-``).
CHECK_NAMES = {
    "CLM-NOT-IN-FORCE": N_("The policy is in force and the unpaid installment fell due "
                           "within cover"),
    "CLM-WAITING-PERIOD": N_("The first unpaid installment fell due after the waiting period"),
    "CLM-TRIGGER-NOT-REACHED": N_("Days past due reached the product's claim trigger"),
    "CLM-LOAN-NOT-AS-INSURED": N_("The loan's principal, term, rate and start are as insured"),
    "CLM-PREMIUM-UNPAID": N_("The premium due was paid, or is within the agreement's grace"),
    "CLM-NOTICE-LATE": N_("The notice came within the agreement's limit"),
    "CLM-DUPLICATE": N_("No other claim stands on the policy"),
    RATE_ABOVE_CAP: N_("The loan's rate is within the cap"),
    POLICY_CANCELLED: N_("The policy was not cancelled"),
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
        "waiting": N_("The claim is kept until its loan reaches the claim trigger; the "
                      "end-of-day batch checks it each day."),
        "exists": N_("This policy already has a claim standing; nothing new was opened."),
        "reviewed": N_("The claim is in review."),
        "approved": N_("The claim is approved."),
        "approval": N_("Your approval is recorded; above your authority a second approver "
                       "completes it."),
        "recalculated": N_("The claim was assessed again."),
        "paid": N_("The claim is paid."), "recovered": N_("The recovery is recorded.")}


@dataclass(frozen=True, slots=True)
class Check:
    """One check of liability determination as the claim's page shows it."""

    code: str
    name: str
    met: bool
    reason_codes: tuple[str, ...]
    message: str = ""
    evidence: str = ""


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
    """A policy's id from what a handler types: its id or its number (``XB``, ten digits and
    the check digit)."""
    found = policy_id_of(text)
    if found is None:
        raise InvalidInput.single("policy", "claim.policy",
                                  "a policy's number (XB, eleven digits, the last a check "
                                  "digit) or id")
    return found


@router.post("/claims")
def open_claim(console: Signed, csrf_token: Annotated[str, Form(max_length=100)],
               policy: Annotated[str, Form(max_length=40)],
               on: Annotated[str, Form(max_length=10)],
               reference: Annotated[str, Form(max_length=64)] = "",
               claimed: Annotated[str, Form(max_length=20)] = "",
               shown_by: Annotated[str, Form(max_length=400)] = "",
               exclusion: Annotated[list[Exclusion] | None, Form()] = None) -> Response:
    """Open a claim on a policy: liability is determined at once, the claim approved
    automatically, queued for review, kept until its trigger or declined with its
    findings. A policy with a claim standing already is answered with that claim (a second
    submission of the form opens nothing)."""
    console.check_csrf(csrf_token)
    policy_id = _policy_id(policy)
    cmd = FileClaim(policy_id, web.form_date("on", on),
                    dict.fromkeys(exclusion or (), shown_by.strip()),
                    reference=reference.strip() or None,
                    claimed_fen=web.form_yuan("amount", claimed) if claimed.strip() else None)
    uow = console.uow()
    try:
        claim = claims.file_claim(cmd, uow, rings=ring_lookup(uow))
    except Conflict:
        standing = queries.claim_of_policy(console.uow(), policy_id)
        if standing is None:
            raise
        return _done(standing.id, "exists")
    done = {ClaimStatus.DECLINED: "declined", ClaimStatus.NOTIFIED: "waiting"}.get(
        claim.status, "opened")
    return _done(claim.id, done)


def _done(claim_id: int | None, what: str) -> Response:
    return RedirectResponse(f"/console/claims/{claim_id}?done={what}", status_code=303)


def _checks(file: queries.ClaimFile, gettext: Callable[[str], str]) -> list[Check]:
    """Each check of the claim's latest liability determination, with what it found and
    the evidence it read; for a claim assessed before checks were kept, each check with the
    reason codes recorded (an exclusion's code names the exclusion after its prefix)."""
    if file.assessments:
        return [Check(c.code, gettext(CHECK_NAMES.get(c.code, CHECK_NAMES["CLM-EXCLUSION-"])),
                      c.passed, () if c.passed else (c.code,), c.message,
                      "; ".join(f"{k}: {v}" for k, v in c.evidence.items()))
                for c in file.assessments[-1].assessment.checks]
    reason_codes = file.claim.reason_codes
    checks = []
    for code in (*CHECKS, "CLM-EXCLUSION-"):
        found = tuple(r for r in reason_codes
                      if (r.startswith(code) if code.endswith("-") else r == code))
        checks.append(Check(code, gettext(CHECK_NAMES[code]), not found, found))
    return checks


@dataclass(frozen=True, slots=True)
class Queued:
    """A claim in the queue as its page shows it: days since its trigger and what is left
    of the service level to decide it (negative: late)."""

    claim: Claim
    days_waiting: int | None
    days_left: int | None


@router.get("/claims/queue", response_class=HTMLResponse)
def claims_queue(console: Signed) -> Response:
    """The claims waiting for a person, the longest since their trigger first, with what is
    left of the service level to decide each."""
    found = queries.claims_queue(console.uow(), limit=500)
    today, level = web.today(), shipped().decision_days
    rows = []
    for claim in found:
        waiting = (today - claim.trigger_on).days if claim.trigger_on is not None else None
        rows.append(Queued(claim, waiting, None if waiting is None else level - waiting))
    return console.render("claims/queue.html", "claims", rows=rows, decision_days=level)


@router.get("/claims/settlements", response_class=HTMLResponse)
def payment_batches(console: Signed) -> Response:
    """The payment batches to the funders, the newest first, each with its statement."""
    return console.render("claims/settlements.html", "claims",
                          batches=queries.payment_batches(console.uow(), limit=200),
                          funders=_funders(console))


#: The recovery rights page's tabs: the status asked for -> its name.
RIGHT_TABS = {"open": N_("Open"), "closed": N_("Closed"), "all": N_("All")}


@router.get("/claims/recovery-rights", response_class=HTMLResponse)
def recovery_rights(console: Signed, status: str = "open") -> Response:
    """The recovery rights paid claims handed to collection, with what has come back."""
    status = status if status in RIGHT_TABS else "open"
    rows = queries.recovery_rights(console.uow(), status=None if status == "all"
                                   else RightStatus(status), limit=500)
    return console.render("claims/rights.html", "claims", rows=rows, status=status,
                          statuses=[(k, console.gettext(n)) for k, n in RIGHT_TABS.items()])


def _statement(console: web.Console, settlement_id: int) -> Statement:
    return statement_of(queries.settlement_batch(console.uow(), settlement_id))


@router.get("/claim-settlements/{settlement_id}/statement.pdf")
def statement_pdf_file(console: Signed, settlement_id: RecordId) -> Response:
    """A payment batch's statement (PDF, Chinese and English) for download."""
    statement = _statement(console, settlement_id)
    return Response(statement_pdf(statement), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{statement.number}.pdf"'})


@router.get("/claim-settlements/{settlement_id}/statement.csv")
def statement_csv_file(console: Signed, settlement_id: RecordId) -> Response:
    """A payment batch's statement (CSV, UTF-8 with a byte-order mark) for download."""
    statement = _statement(console, settlement_id)
    return Response(statement_csv(statement), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{statement.number}.csv"'})


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(console: Signed, claim_id: ClaimId, done: str | None = None) -> Response:
    """A claim's file, with the forms to decide on it, pay it and record recoveries for
    who may."""
    file = queries.claim_file(console.uow(), claim_id)
    _ = console.gettext
    status = file.claim.status
    undecided = status in (ClaimStatus.NOTIFIED, ClaimStatus.UNDER_REVIEW)
    return console.render(
        "claims/detail.html", "claims", file=file, claim=file.claim,
        checks=_checks(file, _), amount=file.assessments[-1].assessment.amount
        if file.assessments else None,
        status_name=_(STATUS_NAMES[status]), badge=STATUS_BADGES[status],
        source_name=_(SOURCE_NAMES[file.claim.source]),
        notice=_(DONE[done]) if done in DONE else None, today=web.today(),
        exclusions=[(e.value, _(n)) for e, n in EXCLUSION_NAMES.items()],
        may_review=status in (ClaimStatus.NOTIFIED, ClaimStatus.DECLINED)
        and console.may(Action.CLAIM_REVIEW),
        may_approve=undecided and not file.claim.reason_codes
        and console.may(Action.CLAIM_APPROVE),
        may_decline=undecided and console.may(Action.CLAIM_REVIEW),
        may_recalculate=status in (ClaimStatus.NOTIFIED, ClaimStatus.UNDER_REVIEW,
                                   ClaimStatus.APPROVED) and console.may(Action.CLAIM_REVIEW),
        may_pay=status is ClaimStatus.APPROVED and console.may(Action.CLAIM_PAY),
        may_recover=status in (ClaimStatus.PAID, ClaimStatus.RECOVERING)
        and console.may(Action.RECOVERY_RECORD))


@router.post("/claims/{claim_id}/review")
def review_claim(console: Signed, claim_id: ClaimId,
                 csrf_token: Annotated[str, Form(max_length=100)],
                 on: Annotated[str, Form(max_length=10)],
                 why: Annotated[str, Form(max_length=400)] = "") -> Response:
    """Into review (a declined claim: reopened on appeal, assessed again)."""
    console.check_csrf(csrf_token)
    uow = console.uow()
    claims.review_claim(ReviewClaim(claim_id, web.form_date("on", on), why.strip()), uow,
                        rings=ring_lookup(uow))
    return _done(claim_id, "reviewed")


@router.post("/claims/{claim_id}/approve")
def approve_claim(console: Signed, claim_id: ClaimId,
                  csrf_token: Annotated[str, Form(max_length=100)],
                  on: Annotated[str, Form(max_length=10)],
                  why: Annotated[str, Form(max_length=400)] = "") -> Response:
    """Approve within the person's authority; above it, their approval waits for a second
    approver (never the same person)."""
    console.check_csrf(csrf_token)
    claim = claims.approve_claim(ApproveClaim(claim_id, web.form_date("on", on), why.strip()),
                                 console.uow())
    return _done(claim_id, "approved" if claim.status is ClaimStatus.APPROVED else "approval")


@router.post("/claims/{claim_id}/decline")
def decline_claim(console: Signed, claim_id: ClaimId,
                  csrf_token: Annotated[str, Form(max_length=100)],
                  on: Annotated[str, Form(max_length=10)],
                  why: Annotated[str, Form(max_length=400)] = "",
                  shown_by: Annotated[str, Form(max_length=400)] = "",
                  exclusion: Annotated[list[Exclusion] | None, Form()] = None) -> Response:
    """Decline with the exclusions found (each with what shows it), or on checks that fail
    already."""
    console.check_csrf(csrf_token)
    claims.decline_claim(DeclineClaim(claim_id, web.form_date("on", on), why.strip(),
                                      dict.fromkeys(exclusion or (), shown_by.strip())),
                         console.uow())
    return _done(claim_id, "declined")


@router.post("/claims/{claim_id}/recalculate")
def recalculate_claim(console: Signed, claim_id: ClaimId,
                      csrf_token: Annotated[str, Form(max_length=100)],
                      on: Annotated[str, Form(max_length=10)]) -> Response:
    """Assess the claim again (the funder corrected its data); the difference is shown."""
    console.check_csrf(csrf_token)
    uow = console.uow()
    claims.recalculate_claim(RecalculateClaim(claim_id, web.form_date("on", on)), uow,
                             rings=ring_lookup(uow))
    return _done(claim_id, "recalculated")


@router.post("/claims/{claim_id}/pay")
def pay_claim(console: Signed, claim_id: ClaimId,
              csrf_token: Annotated[str, Form(max_length=100)],
              on: Annotated[str, Form(max_length=10)]) -> Response:
    """Pay the claim: the use case checks the payer's authority for the amount and that
    whoever opened the claim does not pay it (four-eyes); a repeat pays nothing more."""
    console.check_csrf(csrf_token)
    claims.pay_claim(PayClaim(claim_id, web.form_date("on", on)), console.uow())
    return _done(claim_id, "paid")


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
        claim_id=claim_id, amount_fen=web.form_yuan("amount", amount),
        received_on=web.form_date("received_on", received_on), source=source.strip(),
        reference=reference.strip(), final=final), console.uow())
    return _done(claim_id, "recovered")
