"""The end-of-day kernels over a generated book, printed (never asserted; issue 21).

    .venv/bin/python bench/eod_kernels.py                    # 1,000,000 loans
    .venv/bin/python bench/eod_kernels.py --loans 10000000   # the issue's 10M
    .venv/bin/python bench/eod_kernels.py --smoke            # 10,000 loans

A book of ``--loans`` loans of 12 monthly installments (random principal, interest and
start), repayments reported for most installments due (some short, some missed), one
business date. Times, in process: the positions kernel (days past due, overdue amounts,
bucket), the classification kernel (tiers, the non-retail contagion rule), and the floor, a
bare Polars aggregation over the same installments (one group-by of sums), with the kernels'
ratio to it; and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import date

import numpy as np
import polars as pl

from xinbao.batch import kernels
from xinbao.parameters import load_classification_rules

ON = date(2026, 6, 30)
TERM = 12


def book(loans: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The installments and the repayments of ``loans`` loans (vectorized: no loop a loan)."""
    rng = np.random.default_rng(seed)
    loan_id = np.repeat(np.arange(1, loans + 1, dtype=np.int64), TERM)
    number = np.tile(np.arange(1, TERM + 1, dtype=np.int32), loans)
    start = np.repeat(rng.integers(0, 540, loans), TERM)  # disbursed over 18 months
    due = (np.datetime64("2025-01-01") + start + 30 * number).astype("datetime64[D]")
    principal = np.repeat(rng.integers(50_000, 2_000_000, loans) // TERM, TERM)
    interest = (principal * rng.uniform(0.005, 0.02, loans * TERM)).astype(np.int64)
    installments = pl.DataFrame({"loan_id": loan_id, "number": number, "due_date": due,
                                 "principal_fen": principal, "interest_fen": interest})
    reported = due < np.datetime64(ON)
    missed = rng.random(loans * TERM) < 0.04
    short = rng.random(loans * TERM) < 0.03
    keep = reported & ~missed
    paid = pl.DataFrame({
        "loan_id": loan_id[keep], "number": number[keep],
        "principal_fen": np.where(short[keep], principal[keep] // 2, principal[keep]),
        "interest_fen": interest[keep]})
    return installments, paid


def timed(label: str, run) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:8.2f} s")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true", help="10,000 loans")
    args = parser.parse_args()
    loans = 10_000 if args.smoke else args.loans
    rules = load_classification_rules()
    _, (installments, paid) = timed(f"generate {loans:,} loans x {TERM} installments",
                                    lambda: book(loans))
    floor, _ = timed("floor: one group-by of sums (bare Polars)", lambda: (
        installments.group_by("loan_id").agg(pl.col("principal_fen").sum(),
                                             pl.col("interest_fen").sum())))
    t_pos, pos = timed("kernel: positions (DPD, overdue, bucket)",
                       lambda: kernels.positions(installments, paid, ON))
    assert isinstance(pos, pl.DataFrame)
    exposures = pos.select(
        "loan_id", (pl.col("loan_id") % max(loans // 3, 1)).cast(pl.String).alias("obligor"),
        (pl.col("loan_id") % 5 != 0).alias("retail"), "days_past_due",
        pl.col("outstanding_principal_fen").alias("exposure_fen"))
    t_cls, classified = timed("kernel: classification (tiers, contagion)",
                              lambda: kernels.classify(exposures, rules))
    assert isinstance(classified, pl.DataFrame)
    kernel = t_pos + t_cls
    print(f"kernels together {kernel:.2f} s = {kernel / floor:.1f}x the floor "
          f"({floor:.2f} s); {loans / kernel:,.0f} loans/s")
    tiers = classified.group_by("tier_label").len().sort("tier_label")
    print("tiers: " + ", ".join(f"{r['tier_label']} {r['len']:,}"
                                for r in tiers.iter_rows(named=True)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"peak resident memory {peak:.2f} GiB")


if __name__ == "__main__":
    main()
