"""Routes of the ledger: the trial balance."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from xinbao.entrypoints.api.deps import ERRORS, Me
from xinbao.entrypoints.api.schemas.ledger import TrialBalanceOut, TrialBalanceRow
from xinbao.ledger import services as ledger

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
