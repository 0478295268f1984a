"""Wire schemas of servicing: loans with their schedule and position, repayments,
prepayments, missed installments and the end-of-day batch."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from xinbao.batch.services import DaySnapshot
from xinbao.entrypoints.api.schemas.common import Count, Fen, Rate, StrictIn, stored
from xinbao.loans.model import Installment, Position
from xinbao.servicing.queries import LoanView
from xinbao.servicing.services import EndOfDayReport


class RepaymentIn(StrictIn):
    installment_number: Count
    paid_on: date
    principal_fen: Fen
    interest_fen: Fen
    premium_fen: Fen = Field(0, description="the installment premium and its VAT paid with it "
                                            "(the policy's installment_premium_fen + "
                                            "installment_vat_fen)")
    reference: str = Field(min_length=1, max_length=64)


class RepaymentOut(BaseModel):
    id: int
    loan_id: int
    installment_number: int
    paid_on: date
    principal_fen: Fen
    interest_fen: Fen


class PrepaymentIn(StrictIn):
    paid_on: date
    interest_fen: Fen = 0
    reference: str = Field(min_length=1, max_length=64)


class SettlementOut(BaseModel):
    expired: bool
    earned_fen: Fen
    refunded_fen: Fen


class MissedIn(StrictIn):
    installment_number: Count
    reported_on: date


class EventOut(BaseModel):
    name: str
    aggregate: str
    aggregate_id: int | None
    on: date
    data: dict


class InstallmentOut(BaseModel):
    number: int
    due_date: date
    principal_fen: Fen
    interest_fen: Fen
    total_fen: Fen

    @classmethod
    def of(cls, i: Installment) -> InstallmentOut:
        return cls(number=i.number, due_date=i.due_date, principal_fen=i.principal_fen,
                   interest_fen=i.interest_fen, total_fen=i.total_fen)


class PositionOut(BaseModel):
    as_of: date
    days_past_due: int
    outstanding_principal_fen: Fen
    overdue_principal_fen: Fen
    overdue_interest_fen: Fen
    paid_off: bool

    @classmethod
    def of(cls, p: Position) -> PositionOut:
        return cls(as_of=p.as_of, days_past_due=p.days_past_due,
                   outstanding_principal_fen=p.outstanding_principal_fen,
                   overdue_principal_fen=p.overdue_principal_fen,
                   overdue_interest_fen=p.overdue_interest_fen, paid_off=p.paid_off)


class LoanOut(BaseModel):
    id: int
    contract_no: str
    funder_id: int
    principal_fen: Fen
    annual_rate: Rate
    term_months: int
    method: str
    start_date: date
    status: str
    schedule: list[InstallmentOut]
    position: PositionOut

    @classmethod
    def of(cls, view: LoanView) -> LoanOut:
        loan = view.loan
        return cls(id=stored(loan.id), contract_no=loan.contract_no, funder_id=loan.funder_id,
                   principal_fen=loan.principal_fen, annual_rate=loan.annual_rate,
                   term_months=loan.term_months, method=loan.method.value,
                   start_date=loan.start_date, status=loan.status.value,
                   schedule=[InstallmentOut.of(i) for i in loan.installments],
                   position=PositionOut.of(view.position))


class EndOfDayIn(StrictIn):
    on: date
    close_month: bool | None = None


class SnapshotOut(BaseModel):
    """The day's snapshot kept by the batch: loans by five-tier class and by bucket."""

    on: date
    loans: int
    overdue: int = Field(description="loans with days past due")
    exposure_fen: Fen
    by_tier: dict[str, int] = Field(description="loans per class, 正常 … 损失")
    by_bucket: dict[str, int] = Field(description="loans per bucket, M0 … M6+")
    signals: dict[str, int] = Field(description="early-warning signals per code")
    rules_version: str

    @classmethod
    def of(cls, s: DaySnapshot) -> SnapshotOut:
        return cls(on=s.on, loans=s.loans, overdue=s.overdue, exposure_fen=s.exposure_fen,
                   by_tier=s.by_tier, by_bucket=s.by_bucket, signals=s.signals,
                   rules_version=s.rules_version)


class EndOfDayOut(BaseModel):
    on: date
    policies_overdue: int
    premium_written_fen: Fen
    premium_earned_fen: Fen
    premium_refunded_fen: Fen
    policies_expired: int
    policies_cancelled: int
    claims_opened: list[int]  # standing: approved at once or in the claims queue
    claims_declined: list[int]
    claims_automatic: list[int]  # of the opened, approved automatically
    run: int = Field(description="which run of this business day: a run again (or one that "
                                 "waited for a concurrent run) posts only what is new")
    snapshot: SnapshotOut | None = Field(
        default=None, description="the day's snapshot, when the batch kept one")

    @classmethod
    def of(cls, r: EndOfDayReport, snapshot: DaySnapshot | None = None) -> EndOfDayOut:
        return cls(
            on=r.on, policies_overdue=r.policies_overdue,
            premium_written_fen=r.premium_written_fen, premium_earned_fen=r.premium_earned_fen,
            premium_refunded_fen=r.premium_refunded_fen, policies_expired=r.policies_expired,
            policies_cancelled=r.policies_cancelled, claims_opened=r.claims_opened,
            claims_declined=r.claims_declined, claims_automatic=r.claims_automatic, run=r.run,
            snapshot=SnapshotOut.of(snapshot) if snapshot is not None else None)
