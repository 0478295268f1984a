"""The policy PD used until a trained model is promoted: the bureau score read on the
scorecards' scale.

PD = 1 / (1 + odds), odds = base_odds × 2^((score − base_score) / pdo): 600 points at odds of
50 to 1 and 20 points to double them by default (``params/risk.toml [fallback_score]``).
Without a bureau score (a thin file) the thin-file PD applies. The reasons name what costs
the applicant: a score below the base, debt service above half of income, three or more
recent inquiries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from xinbao.risk.model.decision import ScoreResult

NAME = "fallback:bureau-score"
_PD_STEP = Decimal("0.000001")


class FallbackScorer:
    def __init__(self, *, base_score: int, base_odds: Decimal, pdo: Decimal,
                 thin_file_pd: Decimal) -> None:
        self.base_score, self.base_odds, self.pdo = base_score, base_odds, pdo
        self.thin_file_pd = thin_file_pd

    def score(self, rows: Sequence[Mapping[str, Any]],
              keys: Sequence[int]) -> list[ScoreResult]:
        return [self._one(row) for row in rows]

    def _one(self, row: Mapping[str, Any]) -> ScoreResult:
        score = row.get("bureau_score")
        reasons = []
        dti, inquiries = row.get("dti"), row.get("inquiries_6m")
        if score is None:
            pd = self.thin_file_pd
            reasons.append("bureau_score")
        else:
            odds = float(self.base_odds) * 2 ** ((score - self.base_score) / float(self.pdo))
            pd = Decimal(1 / (1 + odds)).quantize(_PD_STEP)
            if score < self.base_score:
                reasons.append("bureau_score")
        if dti is not None and dti > 0.5:
            reasons.append("dti")
        if inquiries is not None and inquiries >= 3:
            reasons.append("inquiries_6m")
        return ScoreResult(max(pd, _PD_STEP), score, tuple(reasons), NAME)
