"""Routes of finance: the trial balance, closing and settling the reinsurance treaties'
accounts, and the funders' premium settlement statements (shown as JSON, CSV or PDF, and
settled as the bank moved them)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Response

from xinbao.billing import services as billing
from xinbao.billing.commands import SettleFunder
from xinbao.entrypoints.api.deps import ERRORS, Me, today
from xinbao.entrypoints.api.schemas.ledger import (
    CloseReinsuranceIn,
    FunderSettledOut,
    FunderSettleIn,
    FunderStatementOut,
    SettleReinsuranceIn,
    TreatyAccountOut,
    TreatySettlementOut,
    TrialBalanceOut,
    TrialBalanceRow,
)
from xinbao.ledger import services as ledger
from xinbao.reinsurance.services import close_reinsurance, settle_reinsurance
from xinbao.reporting.funder_statement import funder_statement_csv, funder_statement_pdf

router = APIRouter(prefix="/v1", tags=["finance"], responses=ERRORS)


@router.get("/ledger/trial-balance", response_model=TrialBalanceOut)
def trial_balance(me: Me, through: date | None = None) -> TrialBalanceOut:
    tb = ledger.trial_balance(me.uow(), through=through)
    rows = [TrialBalanceRow(account=a.code, name_en=a.name_en, name_zh=a.name_zh,
                            type=a.type.value, debit_fen=d, credit_fen=cr)
            for a, d, cr in tb.rows()]
    debit = sum(r.debit_fen for r in rows)
    credit = sum(r.credit_fen for r in rows)
    return TrialBalanceOut(rows=rows, total_debit_fen=debit, total_credit_fen=credit,
                           balanced=tb.total == 0)


@router.post("/reinsurance/close", response_model=list[TreatyAccountOut])
def close_treaties(body: CloseReinsuranceIn, me: Me) -> list[TreatyAccountOut]:
    """Close each treaty's account to a day: its terms on the gross figures of its period,
    what is left to cede posted (again: nothing more)."""
    return [TreatyAccountOut(
        treaty=a.treaty.code, kind=a.treaty.kind.value, period_from=a.period_from,
        period_to=a.period_to, gross_written_premium_fen=a.gross.written_premium_fen,
        ceded=dict(sorted(a.ceded.items())),
        posted_entry_id=a.posted.id if a.posted is not None else None)
        for a in close_reinsurance(me.uow(), through=body.through or today())]


@router.post("/reinsurance/{code}/settle", response_model=TreatySettlementOut)
def settle_treaty(code: str, body: SettleReinsuranceIn, me: Me) -> TreatySettlementOut:
    """Settle a treaty's account in cash: the payable and receivable its closes left, netted
    through the bank; once per bank reference (again: the settlement made)."""
    done = settle_reinsurance(me.uow(), code, on=body.on or today(), reference=body.reference)
    assert done.entry.id is not None
    return TreatySettlementOut(treaty=done.treaty.code, receivable_fen=done.receivable_fen,
                               payable_fen=done.payable_fen,
                               net_to_reinsurer_fen=done.net_to_reinsurer_fen,
                               entry_id=done.entry.id, repeat=done.repeat)


FunderCode = Annotated[str, Path(min_length=1, max_length=40, pattern="^[A-Za-z0-9_-]+$")]


@router.get("/funders/{code}/statement", response_model=FunderStatementOut)
def funder_statement(code: FunderCode, me: Me, on: date | None = None) -> FunderStatementOut:
    """The funder's premium settlement statement of its last whole cycle ending by ``on``
    (today when omitted): settled, or the draft of what settling it would post."""
    return FunderStatementOut.of(billing.funder_statement(me.uow(), code, on=on or today()))


@router.get("/funders/{code}/statement.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the statement"}})
def funder_statement_file_csv(code: FunderCode, me: Me, on: date | None = None) -> Response:
    """The statement as CSV (UTF-8 with a byte-order mark; yuan with two decimals)."""
    s = billing.funder_statement(me.uow(), code, on=on or today())
    return Response(funder_statement_csv(s), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{s.number}.csv"'})


@router.get("/funders/{code}/statement.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "the statement"}})
def funder_statement_file_pdf(code: FunderCode, me: Me, on: date | None = None) -> Response:
    """The statement as PDF (Chinese and English; its font embedded)."""
    s = billing.funder_statement(me.uow(), code, on=on or today())
    return Response(funder_statement_pdf(s), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{s.number}.pdf"'})


@router.get("/funders/{code}/statements", response_model=list[FunderStatementOut])
def funder_statements(code: FunderCode, me: Me) -> list[FunderStatementOut]:
    """The funder's settled statements, the oldest first."""
    return [FunderStatementOut.of(s) for s in billing.funder_statements(me.uow(), code)]


@router.post("/funders/{code}/settle", response_model=FunderSettledOut)
def settle_funder(code: FunderCode, body: FunderSettleIn, me: Me) -> FunderSettledOut:
    """Settle the funder's statement of its last whole cycle ending by ``on`` as the bank
    moved it: the amount must be the statement's net (positive: received from the funder).
    Once per funder and cycle, by one bank transaction (again: the statement settled)."""
    done = billing.settle_funder(SettleFunder(code, body.on or today(), body.bank_reference,
                                              body.bank_amount_fen), me.uow())
    return FunderSettledOut(statement=FunderStatementOut.of(done.statement),
                            entry_id=done.entry.id if done.entry is not None else None,
                            repeat=done.repeat)
