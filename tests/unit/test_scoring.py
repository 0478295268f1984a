"""Scorecard training on data with a known signal: it finds the signal, validates itself
honestly, explains each score, and refuses data it cannot learn from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

from xinbao.entrypoints.cli.main import app
from xinbao.risk.scoring.metrics import calibration, ks, psi
from xinbao.risk.scoring.scorecard import TrainingDataError, TrainingSpec, to_frame, train


def book(n: int = 6000, seed: int = 1) -> pl.DataFrame:
    """Defaults driven by income (less is worse) and overdue history; noise is noise."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(9, 0.5, n)
    overdue = rng.poisson(0.4, n)
    region = rng.choice(["north", "south", "east", "west"], n)
    noise = rng.normal(size=n)
    logit = -2.0 - 0.9 * (np.log(income) - 9) / 0.5 + 0.8 * overdue + (region == "west") * 0.6
    default = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    income[rng.random(n) < 0.03] = np.nan  # missing values get a bin of their own
    return pl.DataFrame({"income": income, "overdue_24m": overdue, "region": region,
                         "noise": noise, "default": default})


SPEC = TrainingSpec(target="default", categorical=("region",), monotonic=("income",))


@pytest.fixture(scope="module")
def trained():
    return train(book(), SPEC)


def test_the_scorecard_finds_the_signal_and_the_challenger_is_comparable(trained):
    assert trained.test.auc > 0.72 and trained.test.ks > 0.3
    assert abs(trained.challenger_test.auc - trained.test.auc) < 0.05
    assert trained.test.gini == pytest.approx(2 * trained.test.auc - 1)
    assert trained.psi_train_test < 0.1  # same population: stable
    assert trained.rows == (4200, 1800)


def test_predicted_pd_is_calibrated_by_decile(trained):
    deciles = trained.test.calibration
    assert [d.decile for d in deciles] == list(range(1, 11))
    assert deciles[0].observed_rate > deciles[-1].observed_rate * 3
    for d in deciles:
        assert abs(d.mean_pd - d.observed_rate) < 0.08


def test_higher_scores_mean_lower_pd_and_reasons_name_the_costly_features(trained):
    card = trained.scorecard
    x = to_frame(book(200, seed=7), card.features, SPEC.categorical)
    scores, pds = card.score(x), card.predict_pd(x)
    assert np.corrcoef(scores, pds)[0, 1] < -0.9
    explained = card.explain(x)
    assert np.allclose([e.pd for e in explained], pds, atol=1e-12)
    assert np.allclose([e.score for e in explained], scores)
    risky = max(explained, key=lambda s: s.pd)
    assert risky.reasons and risky.reasons[0] in ("income", "overdue_24m", "region")
    losses = card.point_losses(x)
    assert (losses >= -1e-9).all()
    worst_first = np.argsort(-losses[explained.index(risky)], kind="stable")
    assert risky.reasons == tuple(card.features[j] for j in worst_first[:len(risky.reasons)])


def test_the_lookup_kernel_gives_what_optbinning_gives_for_every_kind_of_value(trained):
    card = trained.scorecard
    rows = book(300, seed=9).to_dicts()
    splits = card.card.binning_process_.get_binned_variable("income").splits
    rows += [{"income": float(splits[0]), "overdue_24m": 0, "region": "north", "noise": 0.0},
             {"income": None, "overdue_24m": 9, "region": None, "noise": None},
             {"income": 1.0, "overdue_24m": 1, "region": "atlantis", "noise": 99.0}]
    for row in rows:
        row.pop("default", None)
        if isinstance(row["income"], float) and np.isnan(row["income"]):
            row["income"] = None
    frame = pd.DataFrame({name: [np.nan if r[name] is None else r[name] for r in rows]
                          for name in card.features})
    expected = card.card.binning_process_.transform(
        frame, metric="woe", metric_missing="empirical", metric_special="empirical").to_numpy()
    assert np.allclose(card.kernel().woe(rows), expected)
    by_kernel = card.explain_rows(rows)
    by_frame = card.explain(frame)
    assert np.allclose([e.pd for e in by_kernel], [e.pd for e in by_frame])
    assert [e.reasons for e in by_kernel] == [e.reasons for e in by_frame]


def test_metrics_agree_with_their_definitions():
    y = np.array([0, 0, 1, 1])
    assert ks(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert ks(y, np.array([0.9, 0.8, 0.2, 0.1])) == 1.0  # the gap, whichever way
    same = np.linspace(0, 1, 1000)
    assert psi(same, same) == pytest.approx(0, abs=1e-9)
    assert psi(same, same ** 3) > 0.25
    assert [d.count for d in calibration(np.zeros(10), np.arange(10.0), bins=5)] == [2] * 5


@pytest.mark.parametrize(("frame", "spec", "message"), [
    (book(100), TrainingSpec(target="bad"), "no column 'bad'"),
    (book(100), TrainingSpec(target="default", features=("shoe",)), "no feature column"),
    (book(100).with_columns(pl.col("overdue_24m").alias("default")),
     TrainingSpec(target="default"), "must be 0/1"),
    (book(100).with_columns(pl.lit(0).alias("default")), TrainingSpec(target="default"),
     "at least 10 of each"),
])
def test_data_that_cannot_train_a_model_is_refused_naming_the_problem(frame, spec, message):
    with pytest.raises(TrainingDataError, match=message):
        train(frame, spec)


def test_the_command_writes_a_versioned_model_and_its_report(tmp_path: Path):
    data = tmp_path / "book.parquet"
    book().write_parquet(data)
    runner = CliRunner()
    args = ["model", "train", "--data", str(data), "--target", "default", "--categorical",
            "region", "--monotonic", "income", "--out", str(tmp_path / "models")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, args)
    folder = tmp_path / "models" / "pd"
    assert sorted(p.name for p in folder.iterdir()) == ["v1", "v2"]
    doc = json.loads((folder / "v1" / "report.json").read_text(encoding="utf-8"))
    assert doc["scorecard"]["test"]["auc"] > 0.72 and doc["spec"]["seed"] == 42
    assert {b["Variable"] for b in doc["scorecard"]["bins"]} == {
        "income", "overdue_24m", "region", "noise"}
    report = (folder / "v1" / "report.html").read_text(encoding="utf-8")
    assert "Calibration by decile" in report and "<script" not in report
    assert second.exit_code == 0 and "v2" in second.output
    bad = runner.invoke(app, ["model", "train", "--data", str(data), "--target", "nope",
                              "--out", str(tmp_path / "models")])
    assert bad.exit_code == 2 and "no column 'nope'" in bad.output
