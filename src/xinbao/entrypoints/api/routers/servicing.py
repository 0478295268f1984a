"""Routes of servicing: a loan with its schedule and position, repayments, prepayment,
missed installments, and the end-of-day batch."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from xinbao.batch import services as batch
from xinbao.entrypoints.api.deps import ERRORS, Me, PathId, today
from xinbao.entrypoints.api.schemas.common import stored
from xinbao.entrypoints.api.schemas.servicing import (
    EndOfDayIn,
    EndOfDayOut,
    EventOut,
    LoanOut,
    MissedIn,
    PrepaymentIn,
    RepaymentIn,
    RepaymentOut,
    SettlementOut,
)
from xinbao.servicing import queries
from xinbao.servicing import services as servicing
from xinbao.servicing.commands import (
    RecordMissedInstallment,
    RecordPrepayment,
    RecordRepayment,
    RunEndOfDay,
)

router = APIRouter(prefix="/v1", tags=["servicing"], responses=ERRORS)


@router.get("/loans/{loan_id}", response_model=LoanOut)
def get_loan(loan_id: PathId, me: Me, as_of: date | None = None) -> LoanOut:
    return LoanOut.of(queries.get_loan(me.uow(), loan_id, as_of=as_of or today()))


@router.post("/loans/{loan_id}/repayments", response_model=RepaymentOut, status_code=201)
def record_repayment(loan_id: PathId, body: RepaymentIn, me: Me) -> RepaymentOut:
    r = servicing.record_repayment(RecordRepayment(loan_id=loan_id, **body.model_dump()),
                                   me.uow())
    return RepaymentOut(id=stored(r.id), loan_id=r.loan_id, installment_number=r.installment_number,
                        paid_on=r.paid_on, principal_fen=r.principal_fen,
                        interest_fen=r.interest_fen)


@router.post("/loans/{loan_id}/prepayment", response_model=SettlementOut)
def record_prepayment(loan_id: PathId, body: PrepaymentIn, me: Me) -> SettlementOut:
    r = servicing.record_prepayment(RecordPrepayment(loan_id=loan_id, **body.model_dump()),
                                    me.uow())
    return SettlementOut(expired=r.expired, earned_fen=r.earned_fen,
                         refunded_fen=r.refunded_fen)


@router.post("/loans/{loan_id}/missed-installments", response_model=EventOut,
             status_code=201)
def record_missed(loan_id: PathId, body: MissedIn, me: Me) -> EventOut:
    e = servicing.record_missed_installment(
        RecordMissedInstallment(loan_id, body.installment_number, body.reported_on), me.uow())
    return EventOut(name=e.name, aggregate=e.aggregate, aggregate_id=e.aggregate_id, on=e.on,
                    data=e.data)


@router.post("/batch/end-of-day", response_model=EndOfDayOut)
def end_of_day(body: EndOfDayIn, me: Me) -> EndOfDayOut:
    """The day's postings and claims, then the day's snapshot (as ``xinbao eod run``):
    each insured loan's days past due, bucket and class, kept under
    ``XINBAO_SNAPSHOT_DIR``."""
    report = servicing.run_end_of_day(RunEndOfDay(body.on, body.close_month), me.uow())
    c = me.container
    taken = batch.snapshot_day(me.uow(), c.snapshots, body.on, c.classification,
                               c.early_warning)
    return EndOfDayOut.of(report, taken)
