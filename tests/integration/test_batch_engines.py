"""The batch's kernels give the same day on every engine and partitioning (issue 21): in
process in one partition or several, and on a Dask ``LocalCluster`` (worker processes: the
frames and the kernels travel pickled), every column of every loan's state identical."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from xinbao.batch.engines import DaskEngine, LocalEngine, by_hash
from xinbao.batch.services import day_state
from xinbao.parameters import load_classification_rules

ON = date(2026, 3, 31)
RULES = load_classification_rules()


def _book(loans: int, seed: int = 11) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``loans`` loans of 6 installments; a third of the debtors enterprises with several
    loans; repayments for most installments due, some short, some missed."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, loans + 1)
    obligors = rng.integers(0, loans // 3, loans)
    attributes = pl.DataFrame({
        "loan_id": ids, "policy_id": ids + 1000, "funder": rng.choice(["BANK-A", "BANK-B"],
                                                                       loans),
        "product": rng.choice(["CONSUMER-G", "SME-C"], loans),
        "region": rng.choice(["11", "31", "44"], loans),
        "vintage": rng.choice(["2025-09", "2025-10", "2025-11"], loans),
        "obligor": [f"o{o}" for o in obligors], "retail": obligors % 3 != 0,
        "coverage_share": rng.choice([1.0, 0.8], loans)})
    loan_id = np.repeat(ids, 6)
    number = np.tile(np.arange(1, 7), loans)
    due = (np.datetime64("2025-10-01") + np.repeat(rng.integers(0, 60, loans), 6)
           + 30 * number).astype("datetime64[D]")
    principal = np.repeat(rng.integers(10_000, 500_000, loans), 6)
    interest = principal // 50
    installments = pl.DataFrame({"loan_id": loan_id, "number": number, "due_date": due,
                                 "principal_fen": principal, "interest_fen": interest})
    keep = (due < np.datetime64(ON)) & (rng.random(loans * 6) > 0.1)
    short = rng.random(loans * 6) < 0.05
    paid = pl.DataFrame({"loan_id": loan_id[keep], "number": number[keep],
                         "principal_fen": np.where(short[keep], principal[keep] // 3,
                                                   principal[keep]),
                         "interest_fen": interest[keep]})
    # The state each loan keeps (``loans``' columns); a tenth replayed (repayments reported
    # after the day), which the kernel answers from the whole schedule.
    sums = paid.group_by("loan_id", "number").agg(pl.col("principal_fen", "interest_fen").sum())
    unpaid = (installments.join(sums, on=["loan_id", "number"], how="left", suffix="_paid")
              .filter((pl.col("principal_fen_paid").fill_null(0) < pl.col("principal_fen"))
                      | (pl.col("interest_fen_paid").fill_null(0) < pl.col("interest_fen")))
              .group_by("loan_id").agg(pl.col("due_date").min().alias("first_unpaid_due_date")))
    state = (installments.group_by("loan_id").agg(pl.col("principal_fen").sum())
             .join(paid.group_by("loan_id").agg(pl.col("principal_fen").sum()
                                                .alias("principal_paid_fen")),
                   on="loan_id", how="left")
             .join(unpaid, on="loan_id", how="left")
             .with_columns(pl.col("principal_paid_fen").fill_null(0),
                           (pl.col("loan_id") % 10 == 0).alias("replay")))
    return attributes.join(state, on="loan_id"), installments, paid


@pytest.fixture(scope="module")
def book() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return _book(3_000)


@pytest.fixture(scope="module")
def one_partition(book) -> pl.DataFrame:
    return day_state(*book, ON, RULES, LocalEngine(1))


def test_the_day_is_the_same_in_any_number_of_partitions(book, one_partition):
    several = day_state(*book, ON, RULES, LocalEngine(7)).sort("loan_id")

    assert one_partition.height == 3_000
    assert several.equals(one_partition.sort("loan_id"))
    assert set(one_partition["tier_basis"]) >= {"days_past_due", "contagion"}


def test_the_day_on_a_dask_local_cluster_is_the_local_days(book, one_partition):
    with DaskEngine(partitions=4, workers=2, processes=True) as engine:
        on_dask = day_state(*book, ON, RULES, engine).sort("loan_id")

    assert on_dask.equals(one_partition.sort("loan_id"))


def test_partitions_by_hash_keep_each_key_whole_and_lose_nothing():
    frame = pl.DataFrame({"k": [f"d{i % 37}" for i in range(500)], "v": range(500)})

    parts = by_hash(frame, "k", 5)

    assert sum(p.height for p in parts) == 500
    assert pl.concat(parts).sort("v").equals(frame)
    homes = [set(p["k"]) for p in parts]
    assert all(a.isdisjoint(b) for i, a in enumerate(homes) for b in homes[i + 1:])
    with pytest.raises(ValueError):
        LocalEngine(0)


def test_an_engine_maps_a_kernel_over_partitions_in_order():
    calls = [(pl.DataFrame({"x": [i]}), i) for i in range(4)]

    got = LocalEngine(4).map(lambda f, n: f.with_columns(pl.col("x") + n), calls)

    assert [f["x"].item() for f in got] == [0, 2, 4, 6]
