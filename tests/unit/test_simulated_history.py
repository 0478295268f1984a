"""Trained on the simulator's credit history, the champion scorecard ranks borrowers almost as
well as the ground truth does: its AUC on held-out loans is within 0.03 of the AUC of the
market's own 12-month PD on the same loans."""

from __future__ import annotations

from xinbao.parameters import load_collateral_rules
from xinbao.risk.scoring.metrics import Validation
from xinbao.risk.scoring.scorecard import TrainingSpec, split_frame, train
from xinbao.simulation import history as h
from xinbao.simulation.scenario import resolve_scenario


def test_the_champion_comes_within_three_points_of_auc_of_the_ground_truth():
    data = h.draw_history(resolve_scenario("base"), 60_000, load_collateral_rules())
    assert set(h.FEATURES) | {h.TARGET, h.TRUTH} == set(data.columns)
    assert 55_000 < data.height < 60_000  # fraud-ring applications are left out
    spec = TrainingSpec(target=h.TARGET, features=h.FEATURES, categorical=h.CATEGORICAL,
                        monotonic=h.MONOTONIC)
    result = train(data.drop(h.TRUTH), spec)
    _, _, held_out, outcome = split_frame(data.select(h.TRUTH, h.TARGET),
                                          TrainingSpec(target=h.TARGET, features=(h.TRUTH,)))
    truth = Validation.of(outcome, held_out[h.TRUTH].to_numpy()).auc
    assert result.rows[1] == len(outcome)  # the same held-out loans (same seed and split)
    assert truth - 0.03 <= result.test.auc <= truth + 0.01, (result.test.auc, truth)
    assert 0.02 < result.default_rate < 0.06


def test_a_small_history_stacks_days_without_enterprises():
    """Some days of a small history have no small-business applicant: their industry
    column is all null and must still stack onto the others as text."""
    import polars as pl

    data = h.draw_history(resolve_scenario("base"), 3_000, load_collateral_rules())
    assert data.height > 0
    assert data.schema["industry"] == pl.String and data.schema["employment"] == pl.String
    assert data["industry"].null_count() < data.height
