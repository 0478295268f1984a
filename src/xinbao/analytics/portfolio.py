"""Portfolio summaries by product family (or any other key)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import date
from typing import Any

import polars as pl

from xinbao.ledger import model as ledger


def to_frame(rows: Iterable[Any]) -> pl.DataFrame:
    """Rows (dataclasses) to a frame; money columns stay Int64 fen."""
    records = [asdict(r) for r in rows]
    return pl.DataFrame(records) if records else pl.DataFrame()


def summary_by(frame: pl.DataFrame, key: str = "family") -> pl.DataFrame:
    """Policies, sum insured, premium, claims paid, recoveries and net loss ratio per key.

    The net loss ratio here is (claims paid − recoveries) / premium charged, on a cash basis
    per policy; the ledger's loss ratio (incurred over earned) is the accounting figure.
    """
    if frame.is_empty():
        return frame
    out = (
        frame.group_by(key)
        .agg(
            pl.len().alias("policies"),
            pl.col("sum_insured_fen").sum(),
            pl.col("premium_fen").sum(),
            pl.col("claims_paid_fen").sum(),
            pl.col("recovered_fen").sum(),
            (pl.col("claims_paid_fen") > 0).sum().alias("claims"),
        )
        .with_columns(
            pl.when(pl.col("premium_fen") > 0)
            .then((pl.col("claims_paid_fen") - pl.col("recovered_fen")) / pl.col("premium_fen"))
            .otherwise(None)
            .alias("net_loss_ratio")
        )
        .sort(key)
    )
    return out


def monthly_statement(totals: Iterable[tuple[int, int, str, int]]) -> pl.DataFrame:
    """Monthly underwriting figures (fen) from (year, month, account, sum) ledger totals.

    Earned premium = written premium − change in UPR; claims incurred = claims paid + change
    in claim reserve − recoveries (the same lines as ``ledger.model.underwriting_statement``).
    """
    frame = pl.DataFrame(list(totals), schema={"year": pl.Int64, "month": pl.Int64,
                                               "account": pl.String, "total": pl.Int64},
                         orient="row")
    columns = ["month", "written_premium_fen", "earned_premium_fen", "claims_paid_fen",
               "recoveries_fen", "claims_incurred_fen"]
    if frame.is_empty():
        return pl.DataFrame(schema={c: (pl.String if c == "month" else pl.Int64)
                                    for c in columns})

    def account(code: str) -> pl.Expr:
        return pl.when(pl.col("account") == code).then(pl.col("total")).otherwise(0).sum()

    return (
        frame.group_by("year", "month")
        .agg(written=-account(ledger.WRITTEN_PREMIUM), upr=account(ledger.UPR_CHARGE),
             paid=account(ledger.CLAIMS_PAID), reserve=account(ledger.CLAIM_RESERVE_CHARGE),
             recovered=-account(ledger.RECOVERIES))
        .sort("year", "month")
        .select(
            pl.format("{}-{}", pl.col("year"), pl.col("month").cast(pl.String).str.zfill(2))
            .alias("month"),
            pl.col("written").alias("written_premium_fen"),
            (pl.col("written") - pl.col("upr")).alias("earned_premium_fen"),
            pl.col("paid").alias("claims_paid_fen"),
            pl.col("recovered").alias("recoveries_fen"),
            (pl.col("paid") + pl.col("reserve") - pl.col("recovered"))
            .alias("claims_incurred_fen"),
        )
    )


def vintage_curves(rows: Iterable[tuple[int, date, date | None]], as_of: date) -> pl.DataFrame:
    """Cumulative defaults by origination month and months on book, up to ``as_of``.

    A policy defaults in the month on book of its first claim (the loan reached the
    product's claim trigger); each vintage is followed only as far as ``as_of`` allows.
    """
    frame = pl.DataFrame(list(rows), schema={"policy": pl.Int64, "start": pl.Date,
                                             "claim": pl.Date}, orient="row")
    schema = {"vintage": pl.String, "months_on_book": pl.Int64, "policies": pl.Int64,
              "defaults": pl.Int64}
    if frame.is_empty():
        return pl.DataFrame(schema=schema)

    def months(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return (b.dt.year() - a.dt.year()) * 12 + b.dt.month() - a.dt.month()

    frame = frame.with_columns(
        vintage=pl.col("start").dt.strftime("%Y-%m"),
        default_mob=months(pl.col("start"), pl.col("claim")).cast(pl.Int64),
        horizon=months(pl.col("start"), pl.lit(as_of)).cast(pl.Int64),
    )
    sizes = frame.group_by("vintage").agg(policies=pl.len().cast(pl.Int64),
                                          horizon=pl.col("horizon").max())
    grid = sizes.select(
        "vintage", "policies",
        pl.int_ranges(1, pl.col("horizon") + 1).alias("months_on_book"),
    ).explode("months_on_book").drop_nulls("months_on_book")
    defaults = (frame.drop_nulls("default_mob").group_by("vintage", "default_mob")
                .agg(n=pl.len().cast(pl.Int64)))
    return (
        grid.join(defaults, how="left", left_on=["vintage", "months_on_book"],
                  right_on=["vintage", "default_mob"])
        .with_columns(pl.col("n").fill_null(0))
        .sort("vintage", "months_on_book")
        .with_columns(defaults=pl.col("n").cum_sum().over("vintage"))
        .select("vintage", pl.col("months_on_book").cast(pl.Int64), "policies", "defaults")
    )
