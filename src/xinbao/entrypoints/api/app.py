"""The FastAPI application: routes call use cases; domain errors become HTTP statuses.

InvalidInput → 422 with field-level details (the same shape as FastAPI's own validation
errors); NotFound → 404; Conflict and IllegalTransition → 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from xinbao import __version__
from xinbao.bootstrap import Container
from xinbao.domain.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from xinbao.domain.ledger import underwriting_statement
from xinbao.entrypoints.api import schemas as s
from xinbao.services import (
    applications,
    catalogue,
    claims,
    ledger,
    policies,
    queries,
    reporting,
    servicing,
)
from xinbao.services import commands as c


def _container(request: Request) -> Container:
    return request.app.state.container


AppContainer = Annotated[Container, Depends(_container)]


def _today() -> date:
    return date.today()


def _ratio(value: Decimal | None) -> Decimal | None:
    return value.quantize(Decimal("0.0001")) if value is not None else None


router = APIRouter(prefix="/v1")


@router.get("/products", response_model=list[s.ProductOut], tags=["catalogue"])
def list_products(app: AppContainer) -> list[s.ProductOut]:
    return [s.ProductOut.of(p) for p in queries.list_products(app.uow())]


@router.post("/funders", response_model=s.FunderOut, status_code=201, tags=["catalogue"])
def register_funder(body: s.FunderIn, app: AppContainer) -> s.FunderOut:
    f = catalogue.register_funder(c.RegisterFunder(**body.model_dump()), app.uow())
    return s.FunderOut(id=f.id, code=f.code, name=f.name, kind=f.kind, licensed=f.licensed,
                       commission_rate=f.commission_rate)


@router.post("/applications", response_model=s.ApplicationOut, status_code=201,
             tags=["applications"])
def submit_application(body: s.ApplicationIn, app: AppContainer) -> s.ApplicationOut:
    a = applications.submit_application(c.SubmitApplication(**body.model_dump()), app.uow())
    return s.ApplicationOut.of(a, app.parameters.masking)


@router.get("/applications/{application_id}", response_model=s.ApplicationOut,
            tags=["applications"])
def get_application(application_id: int, app: AppContainer) -> s.ApplicationOut:
    return s.ApplicationOut.of(queries.get_application(app.uow(), application_id),
                               app.parameters.masking)


@router.post("/applications/{application_id}/approve", response_model=s.DecisionOut,
             tags=["applications"])
def approve_application(application_id: int, body: s.OnDate,
                        app: AppContainer) -> s.DecisionOut:
    r = applications.approve_application(
        c.ApproveApplication(application_id, body.on or _today()), app.uow())
    return s.DecisionOut(
        application=s.ApplicationOut.of(r.application, app.parameters.masking),
        approved=r.decision.approved, reason_codes=list(r.decision.reason_codes),
        messages=list(r.decision.messages),
        policy=s.PolicyOut.of(r.policy) if r.policy else None)


@router.post("/policies/{policy_id}/issue", response_model=s.PolicyOut, tags=["policies"])
def issue_policy(policy_id: int, body: s.IssueIn, app: AppContainer) -> s.PolicyOut:
    p = policies.issue_policy(c.IssuePolicy(
        policy_id=policy_id, contract_no=body.contract_no, disbursed_on=body.disbursed_on,
        on=body.on or body.disbursed_on, premium_paid=body.premium_paid), app.uow())
    return s.PolicyOut.of(p)


@router.get("/policies/{policy_id}", response_model=s.PolicyOut, tags=["policies"])
def get_policy(policy_id: int, app: AppContainer) -> s.PolicyOut:
    return s.PolicyOut.of(queries.get_policy(app.uow(), policy_id))


@router.get("/loans/{loan_id}", response_model=s.LoanOut, tags=["servicing"])
def get_loan(loan_id: int, app: AppContainer, as_of: date | None = None) -> s.LoanOut:
    return s.LoanOut.of(queries.get_loan(app.uow(), loan_id, as_of=as_of or _today()))


@router.post("/loans/{loan_id}/repayments", response_model=s.RepaymentOut, status_code=201,
             tags=["servicing"])
def record_repayment(loan_id: int, body: s.RepaymentIn, app: AppContainer) -> s.RepaymentOut:
    r = servicing.record_repayment(c.RecordRepayment(loan_id=loan_id, **body.model_dump()),
                                   app.uow())
    return s.RepaymentOut(id=r.id, loan_id=r.loan_id, installment_number=r.installment_number,
                          paid_on=r.paid_on, principal_fen=r.principal_fen,
                          interest_fen=r.interest_fen)


@router.post("/loans/{loan_id}/prepayment", response_model=s.SettlementOut, tags=["servicing"])
def record_prepayment(loan_id: int, body: s.PrepaymentIn, app: AppContainer) -> s.SettlementOut:
    r = servicing.record_prepayment(c.RecordPrepayment(loan_id=loan_id, **body.model_dump()),
                                    app.uow())
    return s.SettlementOut(expired=r.expired, earned_fen=r.earned_fen,
                           refunded_fen=r.refunded_fen)


@router.post("/loans/{loan_id}/missed-installments", response_model=s.EventOut,
             status_code=201, tags=["servicing"])
def record_missed(loan_id: int, body: s.MissedIn, app: AppContainer) -> s.EventOut:
    e = servicing.record_missed_installment(
        c.RecordMissedInstallment(loan_id, body.installment_number, body.reported_on), app.uow())
    return s.EventOut(name=e.name, aggregate=e.aggregate, aggregate_id=e.aggregate_id, on=e.on,
                      data=e.data)


@router.post("/batch/end-of-day", response_model=s.EndOfDayOut, tags=["servicing"])
def end_of_day(body: s.EndOfDayIn, app: AppContainer) -> s.EndOfDayOut:
    r = servicing.run_end_of_day(c.RunEndOfDay(body.on, body.close_month), app.uow())
    return s.EndOfDayOut(
        on=r.on, policies_overdue=r.policies_overdue, premium_written_fen=r.premium_written_fen,
        premium_earned_fen=r.premium_earned_fen, premium_refunded_fen=r.premium_refunded_fen,
        policies_expired=r.policies_expired, policies_cancelled=r.policies_cancelled,
        claims_opened=r.claims_opened, claims_declined=r.claims_declined)


@router.post("/claims", response_model=s.ClaimOut, status_code=201, tags=["claims"])
def file_claim(body: s.ClaimIn, app: AppContainer) -> s.ClaimOut:
    claim = claims.file_claim(c.FileClaim(body.policy_id, body.on or _today(),
                                          frozenset(body.exclusions)), app.uow())
    return s.ClaimOut.of(claim)


@router.get("/claims/{claim_id}", response_model=s.ClaimOut, tags=["claims"])
def get_claim(claim_id: int, app: AppContainer) -> s.ClaimOut:
    return s.ClaimOut.of(queries.get_claim(app.uow(), claim_id))


@router.post("/claims/{claim_id}/pay", response_model=s.ClaimOut, tags=["claims"])
def pay_claim(claim_id: int, body: s.OnDate, app: AppContainer) -> s.ClaimOut:
    return s.ClaimOut.of(claims.pay_claim(c.PayClaim(claim_id, body.on or _today()), app.uow()))


@router.post("/claims/{claim_id}/recoveries", response_model=s.RecoveryOut, status_code=201,
             tags=["claims"])
def record_recovery(claim_id: int, body: s.RecoveryIn, app: AppContainer) -> s.RecoveryOut:
    r = claims.record_recovery(c.RecordRecovery(claim_id=claim_id, **body.model_dump()),
                               app.uow())
    return s.RecoveryOut(id=r.id, claim_id=r.claim_id, received_on=r.received_on,
                         amount_fen=r.amount_fen, source=r.source)


@router.get("/ledger/trial-balance", response_model=s.TrialBalanceOut, tags=["finance"])
def trial_balance(app: AppContainer, through: date | None = None) -> s.TrialBalanceOut:
    tb = ledger.trial_balance(app.uow(), through=through)
    rows = [s.TrialBalanceRow(account=a.code, name_en=a.name_en, name_zh=a.name_zh,
                              type=a.type.value, debit_fen=d, credit_fen=cr)
            for a, d, cr in tb.rows()]
    debit = sum(r.debit_fen for r in rows)
    credit = sum(r.credit_fen for r in rows)
    return s.TrialBalanceOut(rows=rows, total_debit_fen=debit, total_credit_fen=credit,
                             balanced=tb.total == 0)


@router.get("/kpis", response_model=s.KpisOut, tags=["finance"])
def kpis(app: AppContainer) -> s.KpisOut:
    k = reporting.portfolio_kpis(app.uow())
    st = underwriting_statement(k.trial_balance)
    return s.KpisOut(
        applications=k.applications, policies=k.policies,
        policies_by_status={ps.value: n for ps, n in k.policies_by_status.items()},
        written_premium_fen=st.written_premium_fen, earned_premium_fen=st.earned_premium_fen,
        claims_paid_fen=st.claims_paid_fen, recoveries_fen=st.recoveries_fen,
        claims_incurred_fen=st.claims_incurred_fen, commission_fen=st.commission_fen,
        loss_ratio=_ratio(st.loss_ratio), combined_ratio=_ratio(st.combined_ratio),
        trial_balance_total_fen=k.trial_balance.total)


def _error_handlers() -> dict[type[Exception], Callable]:
    def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={
            "detail": [{"loc": ["body", *e.field.split(".")], "msg": e.message, "type": e.rule}
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

    return {InvalidInput: invalid, RequestValidationError: malformed, NotFound: not_found,
            Conflict: conflict,
            IllegalTransition: conflict}


def create_app(container: Container) -> FastAPI:
    app = FastAPI(title="Xinbao 信保", version=__version__,
                  description="Core system for financing credit & guarantee insurance.")
    app.state.container = container

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
    for exc_type, handler in _error_handlers().items():
        app.add_exception_handler(exc_type, handler)
    return app
