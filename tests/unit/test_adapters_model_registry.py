"""The model registry: trained versions, the champion that decides and a challenger on a
share of applications; the fallback score until a model is promoted."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from xinbao.risk import model_store
from xinbao.risk.model_store import ModelRegistry, RegistryError, ReloadingScorer
from xinbao.risk.scoring.fallback import NAME, FallbackScorer
from xinbao.risk.scoring.scorecard import TrainingSpec, train

FALLBACK = FallbackScorer(base_score=600, base_odds=Decimal(50), pdo=Decimal(20),
                          thin_file_pd=Decimal("0.06"))


def test_the_fallback_reads_the_bureau_score_on_the_scorecard_scale():
    at_base, better, thin = FALLBACK.score(
        [{"bureau_score": 600}, {"bureau_score": 620, "dti": 0.6, "inquiries_6m": 3}, {}],
        [1, 2, 3])
    assert at_base.pd == Decimal("0.019608")  # 1 / 51
    assert better.pd == Decimal("0.009901")  # odds doubled: 1 / 101
    assert better.reasons == ("dti", "inquiries_6m") and at_base.reasons == ()
    assert (thin.pd, thin.score, thin.reasons, thin.model) == (
        Decimal("0.06"), None, ("bureau_score",), NAME)


def _train(tmp_path, root, seed: int):
    rng = np.random.default_rng(seed)
    n = 3000
    score = rng.normal(600, 60, n)
    y = (rng.random(n) < 1 / (1 + np.exp((score - 520) / 30))).astype(int)
    data = pl.DataFrame({"bureau_score": score, "dti": rng.random(n), "bad": y})
    path = tmp_path / f"d{seed}.csv"
    data.write_csv(path)
    spec = TrainingSpec(target="bad", monotonic=("bureau_score",))
    folder, _ = model_store.save(train(data, spec), spec, path, root, "pd")
    return f"pd/{folder.name}"


def test_promoting_makes_a_version_decide_and_a_challenger_takes_its_share(tmp_path):
    root = tmp_path / "models"
    registry = ModelRegistry(root)
    assert registry.scorer(FALLBACK) is FALLBACK
    with pytest.raises(RegistryError):
        registry.promote("pd/v9", role="champion")
    v1, v2 = _train(tmp_path, root, 1), _train(tmp_path, root, 2)
    registry.promote(v1, role="champion", by="test")
    with pytest.raises(RegistryError, match="share"):
        registry.promote(v2, role="challenger", share=0)
    done = registry.promote(v2, role="challenger", share=30, by="test")
    assert (done.champion, done.challenger, done.challenger_share) == (v1, v2, 30)
    assert [h["role"] for h in json.loads((root / "registry.json").read_text())["history"]] == [
        "champion", "challenger"]
    scorer = registry.scorer(FALLBACK)
    rows = [{"bureau_score": 480.0 + i, "dti": 0.3} for i in range(400)]
    results = scorer.score(rows, list(range(400)))
    share = sum(r.model == v2 for r in results) / len(results)
    assert 0.2 < share < 0.4
    assert results == scorer.score(rows, list(range(400)))  # an application keeps its arm
    worst = min(results, key=lambda r: r.score)
    assert worst.pd > max(results, key=lambda r: r.score).pd
    assert worst.reasons[0] == "bureau_score"
    assert [ref for ref, _ in registry.versions()] == [v1, v2]


def test_a_promotion_takes_effect_on_the_next_decision(tmp_path):
    root = tmp_path / "models"
    reloading = ReloadingScorer(ModelRegistry(root), FALLBACK)
    row = [{"bureau_score": 600.0, "dti": 0.1}]
    assert reloading.score(row, [1])[0].model == NAME
    ref = _train(tmp_path, root, 3)
    ModelRegistry(root).promote(ref, role="champion")
    assert reloading.score(row, [1])[0].model == ref


def test_a_server_readies_the_champion_before_the_first_decision(tmp_path):
    root = tmp_path / "models"
    ref = _train(tmp_path, root, 4)
    ModelRegistry(root).promote(ref, role="champion")
    reloading = ReloadingScorer(ModelRegistry(root), FALLBACK)

    reloading.ready()
    (root / ref / "scorecard.pkl").unlink()  # nothing left to load: it was loaded before

    assert reloading.score([{"bureau_score": 600.0, "dti": 0.1}], [1])[0].model == ref
