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
from decimal import Decimal
from fractions import Fraction

import polars as pl

from xinbao.batch.model import (
    BUCKET_DAYS,
    BUCKET_LABELS,
    CONCENTRATION_CODES,
    FIRST_PAYMENT_DEFAULT,
    LEVELS,
    PARTIAL_PAYMENTS,
    ROLL,
    TIER_LABELS,
    VINTAGE,
    ClassificationRules,
    EarlyWarningRules,
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
    installment past due and not paid in full), that installment's due date and number, the
    outstanding principal, the overdue principal and interest, how many installments past
    their due date are paid in part, whether it is paid off, and its bucket.

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
             pl.col("number").filter(overdue).min().alias("first_unpaid_number"),
             (~settled & (pl.col("due_date") < on)
              & ((pl.col("p_paid") > 0) | (pl.col("i_paid") > 0))).sum()
             .cast(pl.Int32).alias("partly_paid_installments"),
             settled.all().alias("paid_off"))
        .with_columns(days_past_due(pl.col("first_unpaid_due_date"), on))
        .with_columns(bucket(pl.col("days_past_due")))
        .sort("loan_id")
        .collect()
    )


#: The per-loan state ``positions_from_state`` starts from (``batch/sql.py`` reads it).
_STATE = {"loan_id": pl.Int64, "principal_fen": pl.Int64, "principal_paid_fen": pl.Int64,
          "first_unpaid_due_date": pl.Date, "replay": pl.Boolean}
_POSITION = ("outstanding_principal_fen", "overdue_principal_fen", "overdue_interest_fen",
             "first_unpaid_due_date", "first_unpaid_number", "partly_paid_installments",
             "paid_off", "days_past_due", "bucket")


def positions_from_state(state: pl.DataFrame, installments: pl.DataFrame,
                         paid: pl.DataFrame, on: date) -> pl.DataFrame:
    """``positions`` from each loan's kept state, reading installments only where the state
    cannot answer: the same frame, row for row.

    ``state``: ``loan_id``, ``principal_fen`` (the schedule's principal), ``principal_paid_fen``
    and ``first_unpaid_due_date`` (the earliest installment not paid in full, due or not;
    none when all are: ``loans``' columns, moved whenever repayments are recorded), and
    ``replay``: true for a loan with repayments reported paid after ``on``, whose kept state
    is later than ``on`` (a day run again, or run late). ``installments`` and ``paid``: for a
    loan replayed, its whole schedule and what was paid by ``on``; for the others, only the
    installments from the first unpaid one to those due before ``on`` (none for a loan not
    past due), and what was paid on them. Every other installment of a loan not replayed is
    paid in full before its first unpaid one, or not yet due: it adds nothing to the overdue
    amounts and is not an installment past due paid in part, and the outstanding principal
    is the principal less what was repaid.
    """
    state = state.select(pl.col(c).cast(t) for c, t in _STATE.items())
    known = positions(installments, paid, on).drop("days_past_due", "bucket")
    kept = state.select(
        "loan_id", "replay",
        (pl.col("principal_fen") - pl.col("principal_paid_fen"))
        .alias("kept_outstanding_fen"),
        pl.col("first_unpaid_due_date").is_null().alias("kept_paid_off"))
    return (
        kept.join(known, on="loan_id", how="left")
        .with_columns(
            pl.when(pl.col("replay")).then(pl.col("outstanding_principal_fen"))
            .otherwise(pl.col("kept_outstanding_fen")).alias("outstanding_principal_fen"),
            pl.when(pl.col("replay")).then(pl.col("paid_off"))
            .otherwise(pl.col("kept_paid_off")).alias("paid_off"),
            pl.col("overdue_principal_fen", "overdue_interest_fen").fill_null(0),
            pl.col("partly_paid_installments").fill_null(0))
        .with_columns(days_past_due(pl.col("first_unpaid_due_date"), on))
        .with_columns(bucket(pl.col("days_past_due")))
        .select("loan_id", *_POSITION)
        .sort("loan_id"))


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
    non_performing = pl.col("tier") >= int(Tier.SUBSTANDARD)
    bad = pl.when(non_performing).then(pl.col("exposure_fen")).otherwise(0)
    share = bad.sum() / pl.col("exposure_fen").sum().clip(lower_bound=1)
    # A debtor's share is above the contagion share (never negative) only if some of its
    # exposure is non-performing: the shares are taken over the loans of those debtors
    # alone (a few in a hundred), not over every loan's debtor key.
    theirs = frame.join(frame.filter(non_performing).select("obligor").unique(),
                        on="obligor", how="semi")
    contagious = (theirs.group_by("obligor").agg(share.alias("share"))
                  .filter(pl.col("share") > float(rules.contagion_share)).select("obligor"))
    caught_ids = (theirs.join(contagious, on="obligor", how="semi")
                  .filter(~retail & ~non_performing)["loan_id"])
    caught = pl.col("loan_id").is_in(caught_ids.implode())
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


LEVEL = pl.Enum(list(LEVELS))
#: The columns of the signals frame.
SIGNAL_COLUMNS = ("code", "level", "loan_id", "funder", "vintage", "detail")
#: Days past due from which a loan counts as defaulted for the vintage signal.
DEFAULT_DAYS = 90


def early_warnings(state: pl.DataFrame, previous: pl.DataFrame | None,
                   rules: EarlyWarningRules) -> pl.DataFrame:
    """The day's early-warning signals, each with its code, level and the data behind it
    (``detail``): a first payment defaulted (``EW-FPD``), a loan rolled to a worse bucket
    since the previous snapshot (``EW-ROLL``), repeated partial payments (``EW-PARTIAL``),
    and a funder's vintage defaulting above the expected share (``EW-VINTAGE``, one signal
    per funder and vintage, no loan).

    ``state`` has the snapshot's columns ``loan_id``, ``funder``, ``vintage``,
    ``days_past_due``, ``bucket``, ``first_unpaid_number`` and
    ``partly_paid_installments``; ``previous`` the previous snapshot's ``loan_id`` and
    ``bucket`` (None on the first day: no roll is seen)."""
    dpd = pl.col("days_past_due")
    fpd = state.filter((pl.col("first_unpaid_number") == 1) & (dpd > 0)).select(
        pl.lit(FIRST_PAYMENT_DEFAULT).alias("code"),
        pl.when(dpd >= rules.fpd_high_days).then(pl.lit("high")).otherwise(pl.lit("medium"))
        .alias("level"), "loan_id", "funder", "vintage",
        pl.format("first installment unpaid, {} days past due", dpd).alias("detail"))
    partial = state.filter(pl.col("partly_paid_installments") >= rules.partial_installments
                           ).select(
        pl.lit(PARTIAL_PAYMENTS).alias("code"), pl.lit("medium").alias("level"), "loan_id",
        "funder", "vintage",
        pl.format("{} installments paid in part", pl.col("partly_paid_installments"))
        .alias("detail"))
    parts = [fpd, partial, _vintages(state, rules)]
    if previous is not None:
        parts.append(_rolls(state, previous))
    return (pl.concat([p.select(pl.col("code").cast(pl.String), pl.col("level").cast(LEVEL),
                                pl.col("loan_id").cast(pl.Int64), pl.col("funder"),
                                pl.col("vintage"), pl.col("detail")) for p in parts])
            .sort("code", "funder", "vintage", "loan_id", nulls_last=True))


def _rolls(state: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    now = pl.col("bucket").to_physical()
    before = pl.col("bucket_before").to_physical()
    # Only a loan past due today can have rolled to a worse bucket (M0 is the best).
    return (state.filter(now > 0).join(previous.select("loan_id", pl.col("bucket").cast(BUCKETS)
                                       .alias("bucket_before")), on="loan_id")
            .filter(now > before)
            .select(pl.lit(ROLL).alias("code"),
                    pl.when(now >= 3).then(pl.lit("high")).when(now == 2)
                    .then(pl.lit("medium")).otherwise(pl.lit("low")).alias("level"),
                    "loan_id", "funder", "vintage",
                    pl.format("{} to {}", pl.col("bucket_before").cast(pl.String),
                              pl.col("bucket").cast(pl.String)).alias("detail")))


def _vintages(state: pl.DataFrame, rules: EarlyWarningRules) -> pl.DataFrame:
    rate = pl.col("defaults") / pl.col("loans")
    return (state.group_by("funder", "vintage")
            .agg(pl.len().alias("loans"),
                 (pl.col("days_past_due") >= DEFAULT_DAYS).sum().alias("defaults"))
            .filter((pl.col("loans") >= rules.vintage_min_loans)
                    & (rate > float(rules.vintage_default_rate)))
            .select(pl.lit(VINTAGE).alias("code"), pl.lit("high").alias("level"),
                    pl.lit(None, dtype=pl.Int64).alias("loan_id"), "funder", "vintage",
                    pl.format("{} of {} loans {}+ days past due", pl.col("defaults"),
                              pl.col("loans"), pl.lit(DEFAULT_DAYS)).alias("detail")))


def concentrations(state: pl.DataFrame, rules: EarlyWarningRules) -> pl.DataFrame:
    """The day's concentration signals (``EW-CONC-FUNDER``, ``-REGION``, ``-PRODUCT``,
    ``-OBLIGOR``): each funder, region, product and obligor whose share of the day's
    exposure reaches ``concentration_near`` of its limit (``low``), passes the limit
    (``medium``) or passes ``concentration_high`` times it (``high``); one signal per key, no
    loan (a funder's signal names the funder), the dimension, key, share, limit and amounts in
    ``detail``. None on a day's book under ``concentration_min_loans`` loans.

    ``state`` has the snapshot's columns ``funder``, ``region``, ``product``, ``obligor`` and
    ``exposure_fen``; the share is each key's exposure over the whole day's (one
    ``group_by`` per dimension)."""
    empty = pl.DataFrame(schema={"code": pl.String, "level": LEVEL, "loan_id": pl.Int64,
                                 "funder": pl.String, "vintage": pl.String,
                                 "detail": pl.String})
    total = int(state["exposure_fen"].sum() or 0) if state.height else 0
    if not rules.concentration or state.height < rules.concentration_min_loans or total <= 0:
        return empty
    parts = []
    for d, limit in sorted(rules.concentration.items()):
        bounds = {name: Fraction(share) for name, share in (
            ("near", limit * rules.concentration_near), ("limit", limit),
            ("high", limit * rules.concentration_high))}
        parts.append(
            _candidates(state, d, total, bounds["near"])
            .group_by(pl.col(d).cast(pl.String).fill_null("-").alias("key"))
            .agg(pl.col("exposure_fen").sum())
            .with_columns(pl.lit(d).alias("dimension"), pl.lit(_percent(limit)).alias("limit"),
                          *(pl.lit(part, dtype=pl.Int128).alias(f"{name}_{side}")
                            for name, bound in bounds.items()
                            for side, part in (("num", bound.numerator),
                                               ("den", bound.denominator)))))
    exposure, whole = pl.col("exposure_fen").cast(pl.Int128), pl.lit(total, dtype=pl.Int128)

    def over(name: str) -> pl.Expr:  # exposure / total > bound, exactly
        return exposure * pl.col(f"{name}_den") > whole * pl.col(f"{name}_num")

    near = exposure * pl.col("near_den") >= whole * pl.col("near_num")
    basis_points = (exposure * 10_000 // whole).cast(pl.Int64)  # the share, floored, exact
    share = pl.format("{}.{}%", basis_points // 100,
                      (basis_points % 100).cast(pl.String).str.zfill(2))
    found = (pl.concat(parts).filter(near)
             .select(pl.col("dimension").replace_strict(CONCENTRATION_CODES).alias("code"),
                     pl.when(over("high")).then(pl.lit("high")).when(over("limit"))
                     .then(pl.lit("medium")).otherwise(pl.lit("low")).alias("level"),
                     pl.lit(None, dtype=pl.Int64).alias("loan_id"),
                     pl.when(pl.col("dimension") == "funder").then(pl.col("key"))
                     .otherwise(pl.lit(None, dtype=pl.String)).alias("funder"),
                     pl.lit(None, dtype=pl.String).alias("vintage"),
                     pl.format("{} {}: {} of the day's exposure, limit {} ({} of {} fen)",
                               "dimension", "key", share, "limit", "exposure_fen",
                               pl.lit(total)).alias("detail")))
    return pl.concat([empty, found.with_columns(pl.col("level").cast(LEVEL))])


#: Coarse groups of a dimension's keys (``_candidates``).
_COARSE = 65_536


def _candidates(state: pl.DataFrame, dimension: str, total: int,
                least: Fraction) -> pl.DataFrame:
    """The rows of those keys of ``dimension`` that may reach ``least`` of ``total``: the keys
    hashed into coarse groups, whose sums (one cheap group-by on an integer) bound each of
    their keys' (an exposure is never negative), and only the groups reaching ``least`` kept.
    A dimension of millions of keys (the obligors) is then grouped by key over a few rows,
    not all of them; the keys found are exactly those a group-by over every row finds."""
    state = state.select(dimension, "exposure_fen")
    coarse = (pl.col(dimension).hash(seed=0) % _COARSE).alias("_coarse")
    sums = state.group_by(coarse).agg(pl.col("exposure_fen").sum().cast(pl.Int128))
    reaching = sums.filter(pl.col("exposure_fen") * least.denominator
                           >= pl.lit(total, dtype=pl.Int128) * least.numerator)["_coarse"]
    return state.filter(coarse.is_in(reaching.implode()))


def _percent(share: Decimal) -> str:
    """A share as a percentage with two decimals (0.0025 -> ``0.25%``)."""
    return f"{share * 100:.2f}%"


def day_signals(state: pl.DataFrame, previous: pl.DataFrame | None,
                rules: EarlyWarningRules) -> pl.DataFrame:
    """Every early-warning signal of the day: ``early_warnings`` and ``concentrations``, in
    one frame sorted as ``early_warnings`` sorts."""
    return (pl.concat([early_warnings(state, previous, rules), concentrations(state, rules)])
            .sort("code", "funder", "vintage", "loan_id", "detail", nulls_last=True))
