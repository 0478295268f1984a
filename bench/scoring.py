"""Scoring and training figures, printed (never asserted).

    .venv/bin/python bench/scoring.py                       # all three parts
    .venv/bin/python bench/scoring.py --skip-training       # batch scoring and the truth check
    .venv/bin/python bench/scoring.py --train-rows 1000000 --train-features 30
    .venv/bin/python bench/scoring.py --smoke                 # tiny sizes, a few seconds

1. **Batch scoring**: the champion trained on the simulator's history scores a batch of
   applications: PD of a columnar frame; PD, score and the top three reasons of the frame;
   and the same from one feature dict per application, as the decision engine hands them
   over (``RegistryScorer``).
2. **Against the ground truth**: the scorecard's AUC on held-out simulated loans next to the
   AUC of the market's own 12-month PD on the same loans.
3. **Training time**: ``xinbao model train``'s pipeline (optimal binning of every feature,
   WoE logistic scorecard, LightGBM challenger, validation report) on a synthetic table of
   ``--train-rows`` × ``--train-features`` with a binary target.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from xinbao.parameters import load_collateral_rules
from xinbao.risk import model_store
from xinbao.risk.scoring.metrics import Validation
from xinbao.risk.scoring.scorecard import TrainingSpec, split_frame, to_frame, train
from xinbao.simulation import history as h
from xinbao.simulation.scenario import resolve_scenario


def rate(label: str, n: int, seconds: float, unit: str = "rows") -> None:
    print(f"  {label:<44} {n:>10,} {unit} in {seconds:7.2f} s = {n / seconds:>12,.0f} /s")


def champion(rows: int) -> tuple[model_store.ModelRegistry, pl.DataFrame, float, float]:
    data = h.draw_history(resolve_scenario("base"), rows, load_collateral_rules())
    spec = TrainingSpec(target=h.TARGET, features=h.FEATURES, categorical=h.CATEGORICAL,
                        monotonic=h.MONOTONIC)
    started = time.perf_counter()
    result = train(data.drop(h.TRUTH), spec)
    seconds = time.perf_counter() - started
    root = Path(tempfile.mkdtemp(prefix="xinbao-bench-models-"))
    path = root / "history.parquet"
    data.write_parquet(path)
    folder, _ = model_store.save(result, spec, path, root, "pd")
    registry = model_store.ModelRegistry(root)
    registry.promote(f"pd/{folder.name}", role="champion")
    _, _, held_out, outcome = split_frame(data.select(h.TRUTH, h.TARGET),
                                          TrainingSpec(target=h.TARGET, features=(h.TRUTH,)))
    truth = Validation.of(outcome, held_out[h.TRUTH].to_numpy()).auc
    print(f"Champion on {rows:,} simulated past loans (trained in {seconds:.1f} s): AUC "
          f"{result.test.auc:.4f} on {len(outcome):,} held-out loans; the ground-truth PD's "
          f"AUC on the same loans {truth:.4f}; gap {truth - result.test.auc:+.4f}; "
          f"LightGBM challenger {result.challenger_test.auc:.4f}")
    return registry, data, result.test.auc, truth


def batch_scoring(registry: model_store.ModelRegistry, data: pl.DataFrame, n: int) -> None:
    print(f"Batch scoring, {n:,} applications:")
    rows = data.sample(n, with_replacement=True, seed=1).select(h.FEATURES)
    scorer = registry.scorer(fallback=None)
    card = scorer.champion[1]
    frame = to_frame(rows, card.features, card.spec.categorical)
    for _ in range(2):  # the second run is the one reported (warm caches)
        started = time.perf_counter()
        card.predict_pd(frame)
        pd_seconds = time.perf_counter() - started
    rate("PD of a frame (ScorecardModel.predict_pd)", n, pd_seconds)
    for _ in range(2):
        started = time.perf_counter()
        card.explain(frame)
        explain_seconds = time.perf_counter() - started
    rate("PD, score, top 3 reasons of a frame (explain)", n, explain_seconds)
    dicts = rows.to_dicts()
    for _ in range(2):
        started = time.perf_counter()
        results = scorer.score(dicts, list(range(n)))
        seconds = time.perf_counter() - started
    rate("the same from the engine's rows (RegistryScorer)", n, seconds)
    assert len(results) == n


def training(rows: int, features: int) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, features))
    weights = rng.normal(0, 0.4, features) * (rng.random(features) < 0.5)
    logit = -3.2 + x @ weights
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    data = pl.DataFrame({f"x{i:02d}": x[:, i] for i in range(features)}).with_columns(
        pl.Series("bad", y))
    spec = TrainingSpec(target="bad")
    started = time.perf_counter()
    result = train(data, spec)
    seconds = time.perf_counter() - started
    print(f"Training on {rows:,} rows × {features} features (default rate "
          f"{y.mean():.2%}): {seconds:.1f} s for binning, scorecard, LightGBM challenger and "
          f"validation; scorecard test AUC {result.test.auc:.4f}, challenger "
          f"{result.challenger_test.auc:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=100_000,
                        help="simulated past loans to train the champion on")
    parser.add_argument("--batch", type=int, default=100_000, help="applications to score")
    parser.add_argument("--train-rows", type=int, default=1_000_000)
    parser.add_argument("--train-features", type=int, default=30)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes (3,000 past loans, 1,000 to score, 5,000 x 5 to "
                             "train): every part's code path in seconds")
    args = parser.parse_args()
    if args.smoke:
        args.history, args.batch, args.train_rows, args.train_features = 3000, 1000, 5000, 5
    registry, data, _, _ = champion(args.history)
    try:
        batch_scoring(registry, data, args.batch)
    finally:
        shutil.rmtree(registry.root, ignore_errors=True)
    if not args.skip_training:
        training(args.train_rows, args.train_features)


if __name__ == "__main__":
    main()
