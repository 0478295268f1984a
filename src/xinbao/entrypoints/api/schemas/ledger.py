"""Wire schemas of finance: the trial balance, the reinsurance treaties' accounts and the
funders' premium settlement statements."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from xinbao.billing.model import FunderStatement
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


class FunderSettleIn(StrictIn):
    """Settle a funder's premium statement of its last whole cycle ending by ``on``, as the
    bank moved it."""

    on: date | None = Field(default=None, description="the day it is settled; today when "
                                                      "omitted")
    bank_reference: str = Field(min_length=1, max_length=64,
                                description="the bank transaction's reference")
    bank_amount_fen: Fen = Field(description="what the bank moved: received from the funder "
                                             "(negative: paid to it), fen; must be the net")


class ClaimBatchOut(BaseModel):
    number: str
    paid_on: date
    claims: int
    total_fen: Fen


class FunderStatementOut(BaseModel):
    """A funder's premium settlement statement: its figures, the net due (positive: the
    funder pays us), the claims paid to it in the cycle by their own batches, and once
    settled the day and the bank transaction."""

    number: str
    funder: str
    funder_name: str
    cycle_from: date
    cycle_to: date
    premium_collector: str
    premium_held_fen: Fen
    refunds_fen: Fen
    commission_fen: Fen
    clawback_fen: Fen
    net_fen: Fen
    claim_batches: list[ClaimBatchOut]
    claims_paid_fen: Fen
    settled_on: date | None
    bank_reference: str | None

    @classmethod
    def of(cls, s: FunderStatement) -> FunderStatementOut:
        f = s.figures
        return cls(number=s.number, funder=s.funder_code, funder_name=s.funder_name,
                   cycle_from=s.cycle_from, cycle_to=s.cycle_to,
                   premium_collector=s.premium_collector, premium_held_fen=f.premium_held_fen,
                   refunds_fen=f.refunds_fen, commission_fen=f.commission_fen,
                   clawback_fen=f.clawback_fen, net_fen=f.net_fen,
                   claim_batches=[ClaimBatchOut(number=b.number, paid_on=b.paid_on,
                                                claims=b.claims, total_fen=b.total_fen)
                                  for b in s.claim_batches],
                   claims_paid_fen=s.claims_paid_fen, settled_on=s.settled_on,
                   bank_reference=s.bank_reference)


class FunderSettledOut(BaseModel):
    statement: FunderStatementOut
    entry_id: int | None = Field(description="the settlement's journal entry (None when "
                                             "asked again)")
    repeat: bool
