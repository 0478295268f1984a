"""Portfolio summaries by product family (or any other key)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import polars as pl


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
