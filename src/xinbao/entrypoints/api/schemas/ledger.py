"""Wire schemas of the ledger: the trial balance."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from xinbao.entrypoints.api.schemas.common import Fen, StrictIn


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


class CloseReinsuranceIn(StrictIn):
    through: date | None = Field(default=None, description="close to this day; today when "
                                                           "omitted")


class TreatyAccountOut(BaseModel):
    """A treaty's account at a close: its terms applied to the gross figures of its period
    to date, by account (debit positive), and the entry this close posted (None: nothing
    was left to cede)."""

    treaty: str
    kind: str
    period_from: date
    period_to: date
    gross_written_premium_fen: Fen
    ceded: dict[str, int]
    posted_entry_id: int | None


class SettleReinsuranceIn(StrictIn):
    on: date | None = Field(default=None, description="the day of the payment; today when "
                                                      "omitted")
    reference: str = Field(min_length=1, max_length=64,
                           description="the bank transaction's reference: the same again "
                                       "settles nothing more")


class TreatySettlementOut(BaseModel):
    treaty: str
    receivable_fen: Fen
    payable_fen: Fen
    net_to_reinsurer_fen: Fen = Field(description="paid to the reinsurer (negative: received)")
    entry_id: int
    repeat: bool
