"""Wire schemas of reporting: the portfolio's key figures."""

from __future__ import annotations

from pydantic import BaseModel

from xinbao.entrypoints.api.schemas.common import Fen, Rate


class KpisOut(BaseModel):
    applications: int
    policies: int
    policies_by_status: dict[str, int]
    written_premium_fen: Fen
    earned_premium_fen: Fen
    claims_paid_fen: Fen
    recoveries_fen: Fen
    claims_incurred_fen: Fen
    commission_fen: Fen
    loss_ratio: Rate | None
    combined_ratio: Rate | None
    ceded_premium_fen: Fen = 0
    net_written_premium_fen: Fen = 0
    net_earned_premium_fen: Fen = 0
    net_claims_incurred_fen: Fen = 0
    net_loss_ratio: Rate | None = None
    net_combined_ratio: Rate | None = None
    trial_balance_total_fen: Fen
