"""Routes of the ledger: the trial balance, and closing the reinsurance treaties' accounts."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from xinbao.entrypoints.api.deps import ERRORS, Me, today
from xinbao.entrypoints.api.schemas.ledger import (
    CloseReinsuranceIn,
    SettleReinsuranceIn,
    TreatyAccountOut,
    TreatySettlementOut,
    TrialBalanceOut,
    TrialBalanceRow,
)
from xinbao.ledger import services as ledger
from xinbao.reinsurance.services import close_reinsurance, settle_reinsurance

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
