"""Routes of reporting: the portfolio's key figures."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter

from xinbao.entrypoints.api.deps import ERRORS, Me
from xinbao.entrypoints.api.schemas.reporting import KpisOut
from xinbao.ledger.model import underwriting_statement
from xinbao.reporting import services as reporting

router = APIRouter(prefix="/v1", tags=["finance"], responses=ERRORS)


def _ratio(value: Decimal | None) -> Decimal | None:
    return value.quantize(Decimal("0.0001")) if value is not None else None


@router.get("/kpis", response_model=KpisOut)
def kpis(me: Me) -> KpisOut:
    k = reporting.portfolio_kpis(me.uow())
    st = underwriting_statement(k.trial_balance)
    return KpisOut(
        applications=k.applications, policies=k.policies,
        policies_by_status={ps.value: n for ps, n in k.policies_by_status.items()},
        written_premium_fen=st.written_premium_fen, earned_premium_fen=st.earned_premium_fen,
        claims_paid_fen=st.claims_paid_fen, recoveries_fen=st.recoveries_fen,
        claims_incurred_fen=st.claims_incurred_fen, commission_fen=st.commission_fen,
        loss_ratio=_ratio(st.loss_ratio), combined_ratio=_ratio(st.combined_ratio),
        ceded_premium_fen=st.ceded_premium_fen,
        net_written_premium_fen=st.net_written_premium_fen,
        net_earned_premium_fen=st.net_earned_premium_fen,
        net_claims_incurred_fen=st.net_claims_incurred_fen,
        net_loss_ratio=_ratio(st.net_loss_ratio),
        net_combined_ratio=_ratio(st.net_combined_ratio),
        trial_balance_total_fen=k.trial_balance.total)
