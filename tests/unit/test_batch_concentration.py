"""The concentration signals of the end-of-day batch (issue 21): one funder's, region's,
product's or obligor's share of the day's exposure against the limits the risk engine
approves by, its level by how far it goes, and the data behind it; checked against the
definition one key at a time, in exact fractions."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from unittest.mock import patch

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinbao.batch import kernels
from xinbao.batch.model import EarlyWarningRules
from xinbao.parameters import load_early_warning_rules, load_risk_parameters

SHIPPED = load_early_warning_rules()
EW = replace(SHIPPED, concentration_min_loans=0)


def _book(rows: list[tuple[str, str, str, str, int]]) -> pl.DataFrame:
    """(funder, region, product, obligor, exposure in fen), one loan a row."""
    frame = pl.DataFrame(rows, orient="row",
                         schema=["funder", "region", "product", "obligor", "exposure_fen"])
    return frame.with_columns(pl.int_range(pl.len()).alias("loan_id") + 1,
                              pl.lit("2025-01").alias("vintage"),
                              pl.lit(0).alias("days_past_due"),
                              pl.lit(None, dtype=pl.Int64).alias("first_unpaid_number"),
                              pl.lit(0).alias("partly_paid_installments"),
                              kernels.bucket(pl.lit(0)))


def test_the_limits_are_the_risk_engines_and_the_regulations():
    limits = load_risk_parameters().limits
    assert SHIPPED.concentration == {
        "funder": limits.concentration["funder"], "region": limits.concentration["region"],
        "product": limits.concentration["product"],
        "obligor": limits.single_obligor_share / limits.retained_multiple}
    assert SHIPPED.concentration["obligor"] == Decimal("0.0025")


def test_a_key_near_its_limit_is_low_above_it_medium_and_far_above_it_high():
    rules = replace(EW, concentration={"funder": Decimal("0.50"), "region": Decimal("0.40"),
                                       "product": Decimal("0.70")})
    book = _book([("A", "11", "P", "o1", 450), ("A", "12", "P", "o2", 350),
                  ("B", "13", "Q", "o3", 100), ("C", "13", "P", "o4", 100)])
    # funder A 80 % of 50 %: high; region 12 35 %, 87.5 % of its 40 %: nothing; region 11
    # 45 %: medium (above 40 %, not above 50 %); product P 90 % of 70 %: high

    got = kernels.concentrations(book, rules)

    assert got.select("code", "level", "funder").sort("code").rows() == [
        ("EW-CONC-FUNDER", "high", "A"), ("EW-CONC-PRODUCT", "high", None),
        ("EW-CONC-REGION", "medium", None)]
    assert got["loan_id"].null_count() == got.height
    assert got.filter(pl.col("code") == "EW-CONC-REGION")["detail"].item() == (
        "region 11: 45.00% of the day's exposure, limit 40.00% (450 of 1000 fen)")


def test_the_edges_exactly_near_the_limit_at_it_and_at_its_high_multiple():
    rules = replace(EW, concentration={"region": Decimal("0.40")})
    # 36 % is 0.9 of 40 % (low), 40 % is the limit (low: not above), 50 % is 1.25 × (medium)
    for share, level in ((359, None), (360, "low"), (400, "low"), (401, "medium"),
                         (500, "medium"), (501, "high")):
        book = _book([("A", "11", "P", "o1", share), ("A", "12", "P", "o2", 1000 - share)])
        got = kernels.concentrations(book, rules).filter(pl.col("detail").str.contains(" 11:"))
        assert got["level"].to_list() == ([level] if level else []), share


def test_no_signal_under_the_least_book_without_exposure_or_without_limits():
    book = _book([("A", "11", "P", f"o{i}", 100) for i in range(5)])
    assert kernels.concentrations(book, replace(EW, concentration_min_loans=6)).is_empty()
    assert kernels.concentrations(book.with_columns(pl.lit(0).alias("exposure_fen")),
                                  EW).is_empty()
    assert kernels.concentrations(book, replace(EW, concentration={})).is_empty()
    assert SHIPPED.concentration_min_loans > 5  # the shipped rules wait for a real book


def test_the_signals_frame_has_the_other_signals_shape_and_joins_them():
    book = _book([("A", "11", "P", "o1", 700), ("B", "12", "Q", "o2", 300)])
    day = kernels.day_signals(book, None, EW)
    assert day.schema == kernels.early_warnings(book, None, EW).schema
    assert set(day["code"]) == {"EW-CONC-FUNDER", "EW-CONC-REGION", "EW-CONC-PRODUCT",
                                "EW-CONC-OBLIGOR"}


@pytest.mark.parametrize("bad", [{"industry": Decimal("0.5")}, {"funder": Decimal("0")},
                                 {"funder": Decimal("1.5")}])
def test_limits_must_be_known_dimensions_and_shares(bad):
    with pytest.raises(ValueError):
        replace(EW, concentration=bad)
    with pytest.raises(ValueError):
        replace(EW, concentration_near=Decimal("1.1"))


_KEYS = st.sampled_from(["a", "b", "c", "d"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_KEYS, _KEYS, _KEYS, _KEYS, st.integers(0, 10**12)), min_size=1,
                max_size=30),
       st.sampled_from(["0.25", "0.40", "0.5", "0.0025", "0.333"]),
       st.sampled_from(["0.9", "0.75", "1"]), st.sampled_from(["1", "1.25", "2"]),
       st.sampled_from([1, 2, 3, kernels._COARSE]))
def test_the_signals_are_the_definitions_one_key_at_a_time(rows, limit, near, high, coarse):
    """Whatever the keys' coarse groups (``kernels._candidates``): one group of all keys,
    groups shared by several keys, or (in practice) a group a key."""
    rules = EarlyWarningRules(1, 1, Decimal("0.5"), 1,
                              concentration=dict.fromkeys(
                                  ("funder", "region", "product", "obligor"), Decimal(limit)),
                              concentration_near=Decimal(near),
                              concentration_high=Decimal(high))
    book = _book(rows)
    total = sum(r[4] for r in rows)
    expected = set()
    for i, dimension in enumerate(("funder", "region", "product", "obligor")):
        for key in {r[i] for r in rows}:
            if total == 0:
                continue
            share = Fraction(sum(r[4] for r in rows if r[i] == key), total)
            bound = Fraction(Decimal(limit))
            if share > bound * Fraction(Decimal(high)):
                expected.add((dimension, key, "high"))
            elif share > bound:
                expected.add((dimension, key, "medium"))
            elif share >= bound * Fraction(Decimal(near)):
                expected.add((dimension, key, "low"))

    with patch.object(kernels, "_COARSE", coarse):
        got = kernels.concentrations(book, rules)

    assert {(d.split(" ")[0], d.split(" ")[1].rstrip(":"), level)
            for d, level in got.select("detail", "level").rows()} == expected
