"""Reinsurance ceded (issue 23): the treaties read from their file, a quota share's and a per-risk
excess of loss's terms applied to gross figures to the fen, and a close posting only what is
left to cede."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinbao.kernel.money import apply_rate
from xinbao.ledger import model as gl
from xinbao.reinsurance.model import (
    Gross,
    Treaty,
    TreatyKind,
    ceded,
    layer_loss,
    parse_treaties,
    still_to_cede,
)
from xinbao.reinsurance.services import shipped

QS = Treaty("QS", TreatyKind.QUOTA_SHARE, "R", date(2024, 1, 1), cession=Decimal("0.3"),
            ceding_commission=Decimal("0.25"))
XL = Treaty("XL", TreatyKind.EXCESS_OF_LOSS, "R", date(2024, 1, 1), retention_fen=300_000,
            limit_fen=1_000_000, premium_rate=Decimal("0.02"))


def no_quota_share(_: date) -> Decimal:
    return Decimal(0)


def test_a_quota_share_cedes_its_share_of_every_figure_and_returns_its_commission():
    gross = Gross(written_premium_fen=1_000_001, upr_change_fen=400_000,
                  net_claims_paid_fen=250_000, claim_reserve_change_fen=-30_001)
    out = ceded(QS, gross, quota_share_on=no_quota_share)
    premium = apply_rate(1_000_001, QS.cession)
    assert out[gl.CEDED_PREMIUM] == premium == 300_000
    assert out[gl.CEDING_COMMISSION] == -apply_rate(premium, QS.ceding_commission) == -75_000
    assert out[gl.REINSURANCE_PAYABLE] == -premium + 75_000
    assert (out[gl.CEDED_UPR], out[gl.CEDED_UPR_RECOVERED]) == (120_000, -120_000)
    assert (out[gl.REINSURANCE_RECEIVABLE], out[gl.CEDED_CLAIMS_RECOVERED]) == (75_000, -75_000)
    # A reserve that fell: the reinsurers' share falls with it.
    assert (out[gl.CEDED_CLAIM_RESERVE], out[gl.CEDED_RESERVE_RECOVERED]) == (-9_000, 9_000)
    assert sum(out.values()) == 0


def test_an_excess_of_loss_pays_each_retained_loss_above_the_retention_up_to_the_limit():
    assert [layer_loss(XL, loss) for loss in (0, 300_000, 300_001, 1_300_000, 9_000_000)] == [
        0, 0, 1, 1_000_000, 1_000_000]
    thirty = lambda _: Decimal("0.3")  # noqa: E731 - the quota share in force
    gross = Gross(1_000_000, 0, 0, 0, claims_paid=((1_000_000, date(2025, 3, 1)),
                                                   (200_000, date(2025, 3, 2))))
    out = ceded(XL, gross, quota_share_on=thirty)
    # Retained after the quota share: 700,000 and 140,000; above 300,000: 400,000 and 0.
    assert out[gl.CEDED_CLAIMS_RECOVERED] == -400_000
    assert out[gl.CEDED_PREMIUM] == apply_rate(700_000, XL.premium_rate) == 14_000
    assert sum(out.values()) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(-10**9, 10**9), st.integers(-10**9, 10**9), st.integers(-10**9, 10**9),
       st.integers(-10**9, 10**9), st.integers(-10**9, 10**9))
def test_a_close_posts_the_terms_on_the_gross_less_what_was_ceded(w1, w2, c1, c2, u):
    first = ceded(QS, Gross(w1, u, c1, 0), quota_share_on=no_quota_share)
    later = ceded(QS, Gross(w1 + w2, u, c1 + c2, 0), quota_share_on=no_quota_share)
    posted = list(first.items())
    left = still_to_cede(later, posted)
    assert sum(left.values()) == 0
    for account in later:
        assert first.get(account, 0) + left.get(account, 0) == later[account]
    assert still_to_cede(later, [*posted, *left.items()]) == {}


def test_the_shipped_treaties_and_a_bad_one_refused():
    book = shipped()
    assert {t.kind for t in book.treaties} == {TreatyKind.QUOTA_SHARE, TreatyKind.EXCESS_OF_LOSS}
    assert book.quota_share_on(date(2025, 1, 1)) == Decimal("0.30")
    assert book.quota_share_on(date(2023, 12, 31)) == 0
    base = {"version": "x", "treaty": [{"code": "Q", "kind": "quota_share", "reinsurer": "R",
                                       "effective_from": "2024-01-01", "cession": "1.2"}]}
    with pytest.raises(ValueError, match="cession"):
        parse_treaties(base)
    twice = {"version": "x", "treaty": [
        {"code": "Q", "kind": "quota_share", "reinsurer": "R", "effective_from": "2024-01-01",
         "cession": "0.6"},
        {"code": "Q2", "kind": "quota_share", "reinsurer": "R",
         "effective_from": "2024-01-01", "cession": "0.5"}]}
    with pytest.raises(ValueError, match="less than the whole book"):
        parse_treaties(twice)
