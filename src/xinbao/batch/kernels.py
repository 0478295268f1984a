"""The end-of-day batch's kernels: pure functions over columnar partitions (Polars), with no
per-loan Python loop, so that the same function runs in process over a partition that fits
memory or mapped over partitions on a Dask cluster (issue 21).

Each kernel takes frames and plain values and returns a frame; none reads or writes storage.
Money columns are Int64 fen; dates are Date. The semantics are those of the domain's one-loan
functions, which the tests hold them to row by row: ``loans.model.position`` for a loan's
position, ``batch.model.bucket`` and ``Thresholds.tier`` for its bucket and tier.

Frames in:
- ``installments``: ``loan_id``, ``number``, ``due_date``, ``principal_fen``, ``interest_fen``
  (the schedule, one row an installment);
- ``paid``: ``loan_id``, ``number``, ``principal_fen``, ``interest_fen`` (repayments reported,
  any number of rows an installment);
- ``exposures`` (to ``classify``): ``loan_id``, ``obligor``, ``retail`` (bool),
  ``days_past_due``, ``exposure_fen``;
- ``overrides`` (to ``classify``): ``loan_id``, ``tier`` (1–5), ``reason``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from xinbao.batch.model import (
    BUCKET_DAYS,
    BUCKET_LABELS,
    TIER_LABELS,
    ClassificationRules,
    Thresholds,
    Tier,
)

BUCKETS = pl.Enum(list(BUCKET_LABELS))
TIERS = pl.Enum([TIER_LABELS[t] for t in Tier])
#: Why a loan is in its tier.
BY_DAYS, BY_CONTAGION, BY_OVERRIDE = "days_past_due", "contagion", "override"

_SCHEDULE = {"loan_id": pl.Int64, "number": pl.Int32, "due_date": pl.Date,
             "principal_fen": pl.Int64, "interest_fen": pl.Int64}
_PAID = {"loan_id": pl.Int64, "number": pl.Int32, "principal_fen": pl.Int64,
         "interest_fen": pl.Int64}


#: Installment numbers stay below this, so (loan, installment) is one Int64 key.
MAX_INSTALLMENTS = 1024


def positions(installments: pl.DataFrame, paid: pl.DataFrame, on: date) -> pl.DataFrame:
    """Each loan's position on ``on``: days past due (from the day after the earliest
    installment past due and not paid in full), its first unpaid due date, the outstanding
    principal, the overdue principal and interest, whether it is paid off, and its bucket.

    One lazy query: the repayments summed by installment, joined to the schedule on a single
    Int64 key (twice as fast as the two-column join), aggregated by loan."""
    if installments.height and installments.select(pl.col("number").max()).item() >= \
            MAX_INSTALLMENTS:
        raise ValueError(f"installment numbers must stay below {MAX_INSTALLMENTS}")
    key = (pl.col("loan_id") * MAX_INSTALLMENTS + pl.col("number")).alias("key")
    paid_sums = (paid.lazy().select(pl.col(c).cast(t) for c, t in _PAID.items())
                 .group_by(key)
                 .agg(pl.col("principal_fen").sum().alias("p_paid"),
                      pl.col("interest_fen").sum().alias("i_paid")))
    p_left = pl.col("principal_fen") - pl.col("p_paid")
    i_left = pl.col("interest_fen") - pl.col("i_paid")
    overdue = (pl.col("due_date") < on) & ((p_left > 0) | (i_left > 0))
    settled = (pl.col("p_paid") >= pl.col("principal_fen")) & (
        pl.col("i_paid") >= pl.col("interest_fen"))
    return (
        installments.lazy().select(pl.col(c).cast(t) for c, t in _SCHEDULE.items())
        .with_columns(key)
        .join(paid_sums, on="key", how="left")
        .with_columns(pl.col("p_paid", "i_paid").fill_null(0))
        .group_by("loan_id")
        .agg(p_left.sum().alias("outstanding_principal_fen"),
             p_left.filter(overdue).sum().alias("overdue_principal_fen"),
             i_left.filter(overdue).sum().alias("overdue_interest_fen"),
             pl.col("due_date").filter(overdue).min().alias("first_unpaid_due_date"),
             settled.all().alias("paid_off"))
        .with_columns(days_past_due(pl.col("first_unpaid_due_date"), on))
        .with_columns(bucket(pl.col("days_past_due")))
        .sort("loan_id")
        .collect()
    )


def days_past_due(first_unpaid_due_date: pl.Expr, on: date) -> pl.Expr:
    """Days from the first unpaid due date to ``on`` (0 without one)."""
    return ((pl.lit(on) - first_unpaid_due_date).dt.total_days().fill_null(0)
            .cast(pl.Int32).alias("days_past_due"))


def bucket(dpd: pl.Expr) -> pl.Expr:
    """The overdue bucket (``M0`` … ``M6+``) of a days-past-due column."""
    index = pl.when(dpd <= 0).then(0).otherwise(
        ((dpd - 1) // BUCKET_DAYS + 1).clip(upper_bound=len(BUCKET_LABELS) - 1))
    return index.replace_strict(list(range(len(BUCKET_LABELS))), list(BUCKET_LABELS),
                                return_dtype=BUCKETS).alias("bucket")


def _tier_by_days(dpd: pl.Expr, t: Thresholds) -> pl.Expr:
    return (pl.when(dpd >= t.loss).then(int(Tier.LOSS))
            .when(dpd >= t.doubtful).then(int(Tier.DOUBTFUL))
            .when(dpd >= t.substandard).then(int(Tier.SUBSTANDARD))
            .when(dpd >= t.special_mention).then(int(Tier.SPECIAL_MENTION))
            .otherwise(int(Tier.NORMAL)))


def classify(exposures: pl.DataFrame, rules: ClassificationRules,
             overrides: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each loan's tier (1–5, ``tier``), its name (``tier_label``) and why (``tier_basis``:
    days past due, the non-retail contagion rule, or an override with its ``override_reason``).

    Days past due set a tier by the retail or the non-retail thresholds. Then, for each
    non-retail debtor with more than the contagion share of its exposure non-performing,
    every loan of that debtor is at least substandard. Last, an override sets a loan's tier
    whatever the rules say, and keeps its reason."""
    dpd, retail = pl.col("days_past_due"), pl.col("retail")
    by_days = pl.when(retail).then(_tier_by_days(dpd, rules.retail)).otherwise(
        _tier_by_days(dpd, rules.non_retail)).cast(pl.Int8)
    frame = exposures.with_columns(by_days.alias("tier"))
    bad = pl.when(pl.col("tier") >= int(Tier.SUBSTANDARD)).then(
        pl.col("exposure_fen")).otherwise(0)
    share = (bad.sum().over("obligor") /
             pl.col("exposure_fen").sum().over("obligor").clip(lower_bound=1))
    caught = (~retail) & (share > float(rules.contagion_share)) & (
        pl.col("tier") < int(Tier.SUBSTANDARD))
    frame = frame.with_columns(
        pl.when(caught).then(pl.lit(BY_CONTAGION)).otherwise(pl.lit(BY_DAYS)).alias("tier_basis"),
        pl.when(caught).then(int(Tier.SUBSTANDARD)).otherwise(pl.col("tier"))
        .cast(pl.Int8).alias("tier"))
    if overrides is not None and overrides.height:
        chosen = overrides.select(pl.col("loan_id").cast(pl.Int64),
                                  pl.col("tier").cast(pl.Int8).alias("override_tier"),
                                  pl.col("reason").alias("override_reason"))
        frame = (frame.join(chosen, on="loan_id", how="left")
                 .with_columns(
                     pl.when(pl.col("override_tier").is_not_null()).then(pl.lit(BY_OVERRIDE))
                     .otherwise(pl.col("tier_basis")).alias("tier_basis"),
                     pl.coalesce("override_tier", "tier").alias("tier"))
                 .drop("override_tier"))
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("override_reason"))
    return frame.with_columns(
        pl.col("tier").replace_strict([int(t) for t in Tier], [TIER_LABELS[t] for t in Tier],
                                      return_dtype=TIERS).alias("tier_label"))
