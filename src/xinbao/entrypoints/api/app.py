"""The FastAPI application: routes call use cases; domain errors become HTTP statuses.

Every ``/v1`` route needs a principal: a funder's API client with a bearer token from
``POST /oauth/token`` (OAuth2 client credentials), or a console user with a session cookie
(and the ``X-CSRF-Token`` header on anything that is not a read). The use cases check the
principal's permissions and tenant themselves; routes only pass it on.

InvalidInput → 422 with field-level details (the same shape as FastAPI's own validation
errors); Unauthenticated → 401; Forbidden → 403 (and an ``AccessDenied`` audit record);
NotFound, and any object outside the caller's tenant → 404; Conflict and IllegalTransition →
409; too many requests → 429; anything else → 500 with an error id and nothing more.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TextIO

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    Form,
    Header,
    Path,
    Query,
    Request,
    Security,
    status,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from xinbao import __version__
from xinbao.bootstrap import Container, bootstrap
from xinbao.catalogue import queries as catalogue_queries
from xinbao.catalogue import services as catalogue
from xinbao.catalogue.commands import RegisterFunder
from xinbao.claims import queries as claim_queries
from xinbao.claims import services as claims
from xinbao.claims.commands import FileClaim, PayClaim, RecordRecovery
from xinbao.compliance import services as audit
from xinbao.config import Settings
from xinbao.entrypoints.api import schemas as s
from xinbao.entrypoints.api.batching import DecisionBatcher
from xinbao.entrypoints.api.hardening import (
    AccessLog,
    BodySizeLimit,
    IpRateLimit,
    RateLimited,
    RateLimiter,
    SecurityHeaders,
    install_error_handlers,
)
from xinbao.entrypoints.api.lane import RATE_TAKEN, DecisionLane
from xinbao.entrypoints.console import routes as console
from xinbao.entrypoints.console.routes import SESSION_COOKIE
from xinbao.iam import services as accounts
from xinbao.iam.model.security import Action, Forbidden, Principal, Unauthenticated
from xinbao.kernel.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from xinbao.kernel.identity import MaskingRules
from xinbao.ledger import services as ledger
from xinbao.ledger.model import underwriting_statement
from xinbao.platform import idempotency
from xinbao.platform.log_writer import AccessLogWriter
from xinbao.policy import queries as policy_queries
from xinbao.policy import services as policies
from xinbao.policy.commands import IssuePolicy
from xinbao.reporting import services as reporting
from xinbao.risk import approval, referrals
from xinbao.risk.approval import ApprovalResult
from xinbao.risk.commands import ApproveApplications
from xinbao.risk.model_store import ReloadingScorer
from xinbao.servicing import queries
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import (
    RecordMissedInstallment,
    RecordPrepayment,
    RecordRepayment,
    RunEndOfDay,
)
from xinbao.sql_unit_of_work import SqlUnitOfWork
from xinbao.underwriting import queries as application_queries
from xinbao.underwriting import services as applications
from xinbao.underwriting.commands import SubmitApplicationFile
from xinbao.underwriting.model import ApplicationStatus

CSRF_HEADER = "X-CSRF-Token"
#: Text parameters may not hold NUL characters (PostgreSQL text and JSON cannot).
NO_NUL = "^[^\\x00]*$"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="access token from POST /oauth/token")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="console session (send X-CSRF-Token on writes)")


def utcnow() -> datetime:
    """Wall-clock time as naive UTC, as accounts and sessions store it."""
    return datetime.now(UTC).replace(tzinfo=None)


class CsrfRejected(Exception):
    """A write with a session cookie but without the session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal of one request, and units of work acting for it."""

    container: Container
    principal: Principal

    def uow(self) -> SqlUnitOfWork:
        return self.container.uow(self.principal)

    @property
    def masking(self) -> MaskingRules:
        return self.container.parameters.masking


async def _caller(request: Request,
                  bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
                  session: Annotated[str | None, Security(_cookie)]) -> Caller:
    container: Container = request.app.state.container
    now = utcnow()
    if bearer is not None:
        # A remembered signature and one indexed read of the client, in a worker thread: the
        # read never waits for a writer, but it may wait for a pooled connection.
        principal = await run_in_threadpool(accounts.resolve_token, bearer.credentials,
                                            container.uow(), container.credentials, now=now)
    elif session:
        # Resolving a session writes (its idle clock), which may wait for the database.
        active = await run_in_threadpool(accounts.resolve_session, session, container.uow(),
                                         now=now)
        principal = active.principal
        if request.method not in _SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, ""), active.csrf_token):
            raise CsrfRejected("CSRF token missing or wrong: send the session's token in "
                               f"the {CSRF_HEADER} header")
    else:
        raise Unauthenticated("authentication required: a bearer token or a console session")
    # A request the decision lane hands on has spent its token there (lane.py).
    wait = None if request.scope.get(RATE_TAKEN) else request.app.state.limiter.check(
        principal.actor)
    if wait is not None:
        raise RateLimited(wait)
    request.state.principal = principal
    return Caller(container, principal)


Me = Annotated[Caller, Depends(_caller)]
PathId = Annotated[int, Path(ge=1, le=s.BIGINT_MAX)]


def _today() -> date:
    return date.today()


def _ratio(value: Decimal | None) -> Decimal | None:
    return value.quantize(Decimal("0.0001")) if value is not None else None


_ERRORS: dict[int | str, dict] = {
    401: {"model": s.ErrorOut, "description": "not authenticated"},
    403: {"model": s.ErrorOut, "description": "not permitted"},
    404: {"model": s.ErrorOut, "description": "not found (or not yours)"},
    409: {"model": s.ErrorOut, "description": "conflicts with the current state"},
    429: {"model": s.ErrorOut, "description": "too many requests"},
}

router = APIRouter(prefix="/v1", responses=_ERRORS)


@router.get("/products", response_model=list[s.ProductOut], tags=["catalogue"])
def list_products(me: Me) -> list[s.ProductOut]:
    return [s.ProductOut.of(p) for p in catalogue_queries.list_products(me.uow())]


@router.post("/funders", response_model=s.FunderOut, status_code=201, tags=["catalogue"])
def register_funder(body: s.FunderIn, me: Me) -> s.FunderOut:
    f = catalogue.register_funder(RegisterFunder(**{**body.model_dump(),
                                                      "products": tuple(body.products)}),
                                  me.uow())
    return s.FunderOut(id=f.id, code=f.code, name=f.name, kind=f.kind, licensed=f.licensed,
                       commission_rate=f.commission_rate, products=list(f.products))


@router.post("/applications", response_model=s.ApplicationOut, status_code=201,
             tags=["applications"])
def submit_application(
    body: s.ApplicationIn, me: Me,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=idempotency.MAX_KEY_LENGTH,
        description="a retry with the same key and body gets the first answer again; the "
                    "same key with another body is a 409")] = None,
) -> s.ApplicationOut | JSONResponse:
    if idempotency_key is None:
        a = applications.submit_application(body.command(), me.uow())
        return s.ApplicationOut.of(a, me.masking)
    digest = idempotency.request_hash(body.model_dump(mode="json"))
    earlier = idempotency.replay(me.uow(), idempotency_key, digest)
    if earlier is None:
        a = applications.submit_application(body.command(), me.uow())
        answer = s.ApplicationOut.of(a, me.masking).model_dump(mode="json")
        earlier = idempotency.remember(me.uow(), idempotency_key, digest, 201, answer,
                                       now=utcnow())
        replayed = earlier.body != answer
    else:
        replayed = True
    return JSONResponse(status_code=earlier.status_code, content=earlier.body,
                        headers={"Idempotent-Replayed": "true" if replayed else "false"})


@router.post("/applications/batch", response_model=s.ApplicationBatchOut,
             tags=["applications"])
def submit_application_batch(body: s.ApplicationBatchIn, me: Me) -> s.ApplicationBatchOut:
    """A funder's batch of applications (up to 1,000) in one transaction: good rows stored,
    bad rows refused one by one with their field errors (200 either way)."""
    outcome = applications.submit_application_file(
        SubmitApplicationFile(tuple(a.command() for a in body.applications)), me.uow())
    return s.ApplicationBatchOut(
        accepted=[s.ApplicationOut.of(a, me.masking) for a in outcome.accepted],
        rejected=[s.RejectedRowOut(index=r.index, external_ref=r.reference,
                                   errors=_field_errors(r.error))
                  for r in outcome.rejected])


def _field_errors(error: Exception) -> list[s.FieldErrorOut]:
    if isinstance(error, InvalidInput):
        return [s.FieldErrorOut(loc=_loc(e.field), msg=e.message, type=e.rule)
                for e in error.errors]
    return [s.FieldErrorOut(loc=[], msg=str(error), type=type(error).__name__)]


@router.get("/applications/{application_id}", response_model=s.ApplicationOut,
            tags=["applications"])
def get_application(
    application_id: PathId, me: Me,
    unmask: Annotated[bool, Query(description="show personal data in full (needs "
                                              "pii.unmask; audited)")] = False,
    reason: Annotated[str | None, Query(max_length=200, pattern=NO_NUL,
                                        description="why, when unmasking")] = None,
) -> s.ApplicationOut:
    if unmask:
        a = application_queries.unmask_application(me.uow(), application_id, reason=reason or "",
                                       on=_today())
        return s.ApplicationOut.of(a, me.masking, unmasked=True)
    return s.ApplicationOut.of(application_queries.get_application(me.uow(), application_id),
                               me.masking)


@router.post("/applications/search", response_model=list[s.ApplicationOut],
             tags=["applications"])
def find_applications(body: s.BorrowerSearchIn, me: Me) -> list[s.ApplicationOut]:
    """Applications of one borrower by exact ID number. A POST, so that the number never
    appears in a URL (URLs end up in access logs and proxies)."""
    return [s.ApplicationOut.of(a, me.masking)
            for a in application_queries.find_applications(me.uow(), id_number=body.id_number)]


@router.post("/applications/{application_id}/approve", response_model=s.DecisionOut,
             tags=["applications"])
async def approve_application(application_id: PathId, body: s.OnDate, me: Me,
                              request: Request) -> Response:
    """Run the risk approval engine on a submitted application (an application decided
    before gets its decision back). Concurrent requests are decided together, one commit
    for the lot (``batching.py``); each answer is its own decision, committed."""
    r = await asyncio.wrap_future(request.app.state.batcher.submit(
        me.principal, application_id, body.on or _today()))
    # Built and checked here; serialized once (returning the model would validate it again).
    return Response(s.dump_json(decision_fields(r, me.masking)),
                    media_type="application/json")


@router.post("/applications/approve", response_model=s.DecisionBatchOut,
             tags=["applications"])
def approve_applications(body: s.ApproveBatchIn, me: Me, request: Request) -> Response:
    """Run the risk approval engine on up to 500 submitted applications in one transaction
    (the insurer's operations deciding a funder's batch): one bureau round, one scoring
    call, one commit. The batch is decided whole or refused whole (one application not
    found, not permitted or decided before the application date refuses it)."""
    with request.app.state.batcher.exclusive():  # one writer at a time in this process
        results = approval.approve_applications(
            ApproveApplications(tuple(body.application_ids), body.on or _today()), me.uow(),
            me.container.risk)
    return Response(s.dump_json({"decisions": [decision_fields(r, me.masking)
                                               for r in results]}),
                    media_type="application/json")


def decision_fields(r: ApprovalResult, masking: MaskingRules) -> dict[str, Any]:
    """``DecisionOut``'s fields, nested, in its order (``s.dump_json`` writes them)."""
    findings = r.decision.detail.get("findings", []) if r.decision else []
    return {
        "application": s.application_fields(r.application, masking),
        "outcome": r.decision.outcome.value if r.decision else r.application.status.value,
        "approved": r.application.status is ApplicationStatus.APPROVED,
        "reason_codes": list(r.application.reason_codes),
        "messages": [f["detail"] for f in findings if f["action"] != "pass"],
        "policy": s.policy_fields(r.policy) if r.policy else None}


@router.get("/applications/{application_id}/decision", response_model=s.DecisionRecordOut,
            tags=["applications"])
def get_decision(application_id: PathId, me: Me) -> s.DecisionRecordOut:
    """The stored decision with its inputs, reasons, limit and price breakdown."""
    _, record = referrals.get_decision(me.uow(), application_id)
    return s.DecisionRecordOut.of(record)


@router.post("/applications/{application_id}/review", response_model=s.DecisionRecordOut,
             tags=["applications"])
def review_application(application_id: PathId, body: s.ReviewIn,
                       me: Me) -> s.DecisionRecordOut:
    """A person's verdict on a referral; an approval beyond the reviewer's authority waits
    for a second approver."""
    r = referrals.review_application(referrals.ReviewApplication(
        application_id, body.approve, body.on or _today(), body.note), me.uow(),
        me.container.risk, approval.quote)
    return s.DecisionRecordOut.of(r.record)


@router.get("/referrals", response_model=list[s.DecisionRecordOut], tags=["applications"])
def referral_queue(me: Me, after_id: Annotated[int, Query(ge=0, le=s.BIGINT_MAX)] = 0,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100,
                   ) -> list[s.DecisionRecordOut]:
    """Referrals waiting for review, oldest first."""
    return [s.DecisionRecordOut.of(d)
            for d in referrals.referral_queue(me.uow(), after_id=after_id, limit=limit)]


@router.post("/policies/{policy_id}/issue", response_model=s.PolicyOut, tags=["policies"])
def issue_policy(policy_id: PathId, body: s.IssueIn, me: Me) -> s.PolicyOut:
    p = policies.issue_policy(IssuePolicy(
        policy_id=policy_id, contract_no=body.contract_no, disbursed_on=body.disbursed_on,
        on=body.on or body.disbursed_on, premium_paid=body.premium_paid), me.uow())
    return s.PolicyOut.of(p)


@router.get("/policies", response_model=s.PolicyPageOut, tags=["policies"])
def list_policies(me: Me, after_id: Annotated[int, Query(ge=0, le=s.BIGINT_MAX)] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> s.PolicyPageOut:
    found = policy_queries.list_policies(me.uow(), after_id=after_id, limit=limit)
    return s.PolicyPageOut(items=[s.PolicyOut.of(p) for p in found],
                           next_after_id=found[-1].id if len(found) == limit else None)


@router.get("/policies/{policy_id}", response_model=s.PolicyOut, tags=["policies"])
def get_policy(policy_id: PathId, me: Me) -> s.PolicyOut:
    return s.PolicyOut.of(policy_queries.get_policy(me.uow(), policy_id))


@router.get("/loans/{loan_id}", response_model=s.LoanOut, tags=["servicing"])
def get_loan(loan_id: PathId, me: Me, as_of: date | None = None) -> s.LoanOut:
    return s.LoanOut.of(queries.get_loan(me.uow(), loan_id, as_of=as_of or _today()))


@router.post("/loans/{loan_id}/repayments", response_model=s.RepaymentOut, status_code=201,
             tags=["servicing"])
def record_repayment(loan_id: PathId, body: s.RepaymentIn, me: Me) -> s.RepaymentOut:
    r = servicing.record_repayment(RecordRepayment(loan_id=loan_id, **body.model_dump()),
                                   me.uow())
    return s.RepaymentOut(id=r.id, loan_id=r.loan_id, installment_number=r.installment_number,
                          paid_on=r.paid_on, principal_fen=r.principal_fen,
                          interest_fen=r.interest_fen)


@router.post("/loans/{loan_id}/prepayment", response_model=s.SettlementOut, tags=["servicing"])
def record_prepayment(loan_id: PathId, body: s.PrepaymentIn, me: Me) -> s.SettlementOut:
    r = servicing.record_prepayment(RecordPrepayment(loan_id=loan_id, **body.model_dump()),
                                    me.uow())
    return s.SettlementOut(expired=r.expired, earned_fen=r.earned_fen,
                           refunded_fen=r.refunded_fen)


@router.post("/loans/{loan_id}/missed-installments", response_model=s.EventOut,
             status_code=201, tags=["servicing"])
def record_missed(loan_id: PathId, body: s.MissedIn, me: Me) -> s.EventOut:
    e = servicing.record_missed_installment(
        RecordMissedInstallment(loan_id, body.installment_number, body.reported_on), me.uow())
    return s.EventOut(name=e.name, aggregate=e.aggregate, aggregate_id=e.aggregate_id, on=e.on,
                      data=e.data)


@router.post("/batch/end-of-day", response_model=s.EndOfDayOut, tags=["servicing"])
def end_of_day(body: s.EndOfDayIn, me: Me) -> s.EndOfDayOut:
    r = servicing.run_end_of_day(RunEndOfDay(body.on, body.close_month), me.uow())
    return s.EndOfDayOut(
        on=r.on, policies_overdue=r.policies_overdue, premium_written_fen=r.premium_written_fen,
        premium_earned_fen=r.premium_earned_fen, premium_refunded_fen=r.premium_refunded_fen,
        policies_expired=r.policies_expired, policies_cancelled=r.policies_cancelled,
        claims_opened=r.claims_opened, claims_declined=r.claims_declined)


@router.post("/claims", response_model=s.ClaimOut, status_code=201, tags=["claims"])
def file_claim(body: s.ClaimIn, me: Me) -> s.ClaimOut:
    claim = claims.file_claim(FileClaim(body.policy_id, body.on or _today(),
                                          frozenset(body.exclusions)), me.uow())
    return s.ClaimOut.of(claim)


@router.get("/claims/{claim_id}", response_model=s.ClaimOut, tags=["claims"])
def get_claim(claim_id: PathId, me: Me) -> s.ClaimOut:
    return s.ClaimOut.of(claim_queries.get_claim(me.uow(), claim_id))


@router.post("/claims/{claim_id}/pay", response_model=s.ClaimOut, tags=["claims"])
def pay_claim(claim_id: PathId, body: s.OnDate, me: Me) -> s.ClaimOut:
    return s.ClaimOut.of(claims.pay_claim(PayClaim(claim_id, body.on or _today()), me.uow()))


@router.post("/claims/{claim_id}/recoveries", response_model=s.RecoveryOut, status_code=201,
             tags=["claims"])
def record_recovery(claim_id: PathId, body: s.RecoveryIn, me: Me) -> s.RecoveryOut:
    r = claims.record_recovery(RecordRecovery(claim_id=claim_id, **body.model_dump()),
                               me.uow())
    return s.RecoveryOut(id=r.id, claim_id=r.claim_id, received_on=r.received_on,
                         amount_fen=r.amount_fen, source=r.source)


@router.get("/ledger/trial-balance", response_model=s.TrialBalanceOut, tags=["finance"])
def trial_balance(me: Me, through: date | None = None) -> s.TrialBalanceOut:
    tb = ledger.trial_balance(me.uow(), through=through)
    rows = [s.TrialBalanceRow(account=a.code, name_en=a.name_en, name_zh=a.name_zh,
                              type=a.type.value, debit_fen=d, credit_fen=cr)
            for a, d, cr in tb.rows()]
    debit = sum(r.debit_fen for r in rows)
    credit = sum(r.credit_fen for r in rows)
    return s.TrialBalanceOut(rows=rows, total_debit_fen=debit, total_credit_fen=credit,
                             balanced=tb.total == 0)


@router.get("/kpis", response_model=s.KpisOut, tags=["finance"])
def kpis(me: Me) -> s.KpisOut:
    k = reporting.portfolio_kpis(me.uow())
    st = underwriting_statement(k.trial_balance)
    return s.KpisOut(
        applications=k.applications, policies=k.policies,
        policies_by_status={ps.value: n for ps, n in k.policies_by_status.items()},
        written_premium_fen=st.written_premium_fen, earned_premium_fen=st.earned_premium_fen,
        claims_paid_fen=st.claims_paid_fen, recoveries_fen=st.recoveries_fen,
        claims_incurred_fen=st.claims_incurred_fen, commission_fen=st.commission_fen,
        loss_ratio=_ratio(st.loss_ratio), combined_ratio=_ratio(st.combined_ratio),
        trial_balance_total_fen=k.trial_balance.total)


@router.get("/me", response_model=s.MeOut, tags=["identity"])
def who_am_i(me: Me) -> s.MeOut:
    p = me.principal
    return s.MeOut(actor=p.actor, kind=p.kind, roles=sorted(r.value for r in p.roles),
                   funder_id=p.funder_id,
                   permissions=sorted(a.value for a in Action if p.may(a)))


@router.get("/audit/verify", response_model=s.AuditVerifyOut, tags=["audit"])
def verify_audit_trail(me: Me) -> s.AuditVerifyOut:
    report = audit.verify_trail(me.uow())
    return s.AuditVerifyOut(intact=report.intact, records=report.records,
                            head_seq=report.head_seq, head_hash=report.head_hash,
                            problems=[s.AuditProblemOut(seq=p.seq, kind=p.kind,
                                                        message=p.message)
                                      for p in report.problems[:100]])


@router.get("/audit/records", response_model=list[s.AuditRecordOut], tags=["audit"])
def audit_records(me: Me, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                  actor: Annotated[str | None, Query(max_length=120, pattern=NO_NUL)] = None,
                  ) -> list[s.AuditRecordOut]:
    return [s.AuditRecordOut(seq=r.seq, name=r.name, aggregate=r.aggregate,
                             aggregate_id=r.aggregate_id, occurred_on=r.occurred_on,
                             recorded_at=r.recorded_at, actor=r.actor, data=r.data,
                             hash=r.hash)
            for r in audit.recent_records(me.uow(), limit=limit, actor=actor)]


oauth = APIRouter(prefix="/oauth", tags=["identity"])


def _oauth_error(code: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="xinbao"'} if code == 401 else None
    return JSONResponse(status_code=code, headers=headers,
                        content={"error": error, "error_description": description})


@oauth.post("/token", response_model=s.TokenOut,
            responses={400: {"model": s.OAuthErrorOut}, 401: {"model": s.OAuthErrorOut},
                       429: {"model": s.ErrorOut}})
def token(request: Request,
          grant_type: Annotated[str, Form(max_length=40)],
          client_id: Annotated[str, Form(min_length=1, max_length=64, pattern=NO_NUL)],
          client_secret: Annotated[str, Form(min_length=1, max_length=200)],
          ) -> s.TokenOut | JSONResponse:
    """OAuth2 client credentials (RFC 6749 §4.4): a short-lived access token."""
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials")
    container: Container = request.app.state.container
    try:
        t = accounts.issue_token(client_id, client_secret, container.uow(),
                                 container.credentials, now=utcnow())
    except Unauthenticated:
        return _oauth_error(401, "invalid_client", accounts.REFUSED)
    return s.TokenOut(access_token=t.token, expires_in=t.expires_in)


def _loc(field: str) -> list[str | int]:
    """``evidence[0].sha256`` as the path ``["evidence", 0, "sha256"]``."""
    out: list[str | int] = []
    for part in field.split("."):
        name, _, index = part.partition("[")
        out.append(name)
        if index.rstrip("]").isdigit():
            out.append(int(index.rstrip("]")))
    return out


def _error_handlers() -> dict[type[Exception], Callable]:
    def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={
            "detail": [{"loc": ["body", *_loc(e.field)], "msg": e.message, "type": e.rule}
                       for e in exc.errors]})

    def malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the input; it may hold ID numbers, phones or cards.
        return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={
            "detail": [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""),
                        "type": e.get("type", "")} for e in exc.errors()]})

    def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    def conflict(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    def unauthenticated(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=401, content={"detail": str(exc)},
                            headers={"WWW-Authenticate": "Bearer"})

    def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        container: Container = request.app.state.container
        principal: Principal | None = getattr(request.state, "principal", None)
        accounts.record_security_event("AccessDenied", {
            "action": exc.action.value, "reason": exc.reason, "method": request.method,
            "path": request.url.path}, container.uow(principal), on=_today())
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    def csrf(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": str(exc)})

    return {InvalidInput: invalid, RequestValidationError: malformed, NotFound: not_found,
            Conflict: conflict, IllegalTransition: conflict,
            Unauthenticated: unauthenticated, Forbidden: forbidden, CsrfRejected: csrf}


def app_from_environment() -> FastAPI:
    """The application of one server process among several (``xinbao serve --workers``),
    configured from the environment like the command that started it, with its access
    log on standard output."""
    container = bootstrap(Settings.from_env(), upgrade=False)
    app = create_app(container, access_log=sys.stdout)
    settle(container)
    return app


def settle(container: Container) -> None:
    """Ready a server process before it serves: build the risk engine and load its model
    (the first decision does not pay for them, and broken parameters or models stop the
    server at start), then move everything alive out of the garbage collector's sight
    (``gc.freeze``).

    A server lives with a large heap that never dies (modules, models, the routes); a full
    collection walked all of it, pausing every request for 320-400 ms several times a
    minute under load; frozen, a full collection takes about 20 ms (issue 5's note)."""
    scorer = container.risk.scorer  # the engine, built on first use
    if isinstance(scorer, ReloadingScorer):
        scorer.ready()  # a promoted model, loaded now rather than by the first decision
    gc.collect()
    gc.freeze()


def create_app(container: Container, *, access_log: TextIO | None = None) -> FastAPI:
    """The API and the console; with ``access_log``, a line for every request is written
    there (``xinbao serve``: standard output, in uvicorn's access format, redacted)."""
    settings = container.settings
    batcher = DecisionBatcher(container.uow, lambda: container.risk,
                              client=lambda client_id: accounts.client_principal(
                                  client_id, container.uow()))
    writer = AccessLogWriter(access_log) if access_log is not None else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.stop()
        if writer is not None:
            writer.close()

    app = FastAPI(title="Xinbao 信保", version=__version__,
                  description="Core system for financing credit & guarantee insurance. "
                              "The spec is at /openapi.json (no hosted docs page: it would "
                              "load scripts from elsewhere).",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.container = container
    app.state.batcher = batcher
    app.state.limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    # Outermost last: the decision lane, size cap, then per-IP limit on the credential
    # endpoints, then headers, then (served) the access log.
    masking = container.parameters.masking
    app.add_middleware(DecisionLane, batcher=batcher, limiter=app.state.limiter,
                       credentials=container.credentials, now=utcnow, today=_today,
                       answer=lambda r: s.dump_json(decision_fields(r, masking)))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(IpRateLimit,
                       limiter=RateLimiter(settings.login_rate_per_minute / 60,
                                           settings.login_rate_per_minute),
                       paths=("/oauth/token", "/console/login"))
    app.add_middleware(SecurityHeaders)
    if writer is not None:
        app.add_middleware(AccessLog, log=writer.log)
    install_error_handlers(app, container.log)

    @app.get("/health", response_model=s.HealthOut, tags=["operations"])
    def health(request: Request) -> s.HealthOut:
        c_: Container = request.app.state.container
        try:
            revision, current = c_.schema_state()
            return s.HealthOut(status="ok" if current else "degraded", database="ok",
                               schema_revision=revision, schema_current=current)
        except Exception as exc:  # noqa: BLE001 - health reports any failure as down
            c_.log.error("health check failed", error=type(exc).__name__)
            return s.HealthOut(status="down", database="unreachable", schema_revision=None,
                               schema_current=False)

    app.include_router(router)
    app.include_router(oauth)
    app.include_router(console.router)
    for exc_type, handler in _error_handlers().items():
        app.add_exception_handler(exc_type, handler)
    return app
