"""Wire schemas of the ledger: the trial balance."""

from __future__ import annotations

from pydantic import BaseModel

from xinbao.entrypoints.api.schemas.common import Fen


class TrialBalanceRow(BaseModel):
    account: str
    name_en: str
    name_zh: str
    type: str
    debit_fen: Fen
    credit_fen: Fen


class TrialBalanceOut(BaseModel):
    rows: list[TrialBalanceRow]
    total_debit_fen: Fen
    total_credit_fen: Fen
    balanced: bool
