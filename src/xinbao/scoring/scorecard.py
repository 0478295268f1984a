"""Training a scorecard and its challenger on any table with a binary target.

The scorecard: optimal binning of every feature (optbinning: numeric features with a
monotonic trend where asked, categorical ones by event rate; missing and special values in
bins of their own), weight-of-evidence logistic regression, scaled to points (base score at
the base odds, points to double the odds). The challenger: LightGBM on the raw features.

Scoring returns the PD, the score and the reason codes: the features that cost the applicant
the most points against the best bin of each feature.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
from optbinning import BinningProcess, Scorecard
from sklearn.linear_model import LogisticRegression

from xinbao.scoring.metrics import Validation, psi


class TrainingDataError(ValueError):
    """The data cannot train a model; the message says which column and why."""


@dataclass(frozen=True, slots=True)
class Scaling:
    base_score: int = 600  # points at the base odds
    base_odds: float = 50.0  # goods per bad at the base score
    pdo: float = 20.0  # points to double the odds


@dataclass(frozen=True, slots=True)
class TrainingSpec:
    target: str
    features: tuple[str, ...] = ()  # all other columns when empty
    categorical: tuple[str, ...] = ()
    monotonic: tuple[str, ...] = ()  # numeric features whose bins must be monotonic
    test_share: float = 0.3
    seed: int = 42
    scaling: Scaling = field(default_factory=Scaling)


@dataclass(frozen=True, slots=True)
class Scored:
    pd: float
    score: float
    reasons: tuple[str, ...]  # features costing the most points, worst first


def to_frame(data: pl.DataFrame, features: Sequence[str],
             categorical: Sequence[str] = ()) -> pd.DataFrame:
    """The features as the pandas frame optbinning reads (column by column through numpy:
    polars' own ``to_pandas`` would need pyarrow); categories as text."""
    frame = pd.DataFrame({name: data[name].to_numpy() for name in features})
    for name in categorical:
        frame[name] = frame[name].astype(str)
    return frame


def split_frame(data: pl.DataFrame, spec: TrainingSpec) -> tuple[pd.DataFrame, np.ndarray,
                                                                 pd.DataFrame, np.ndarray]:
    """Checked features and target, split train/test with the fixed seed (stratified)."""
    if spec.target not in data.columns:
        raise TrainingDataError(f"no column {spec.target!r} (columns: "
                                f"{', '.join(data.columns[:20])})")
    features = list(spec.features) or [c for c in data.columns if c != spec.target]
    missing = [f for f in features if f not in data.columns]
    if missing:
        raise TrainingDataError(f"no feature column(s) {', '.join(missing)}")
    target = data[spec.target]
    if target.null_count():
        raise TrainingDataError(f"target {spec.target!r} has {target.null_count()} empty rows")
    values = set(target.unique().to_list())
    if not values <= {0, 1}:
        raise TrainingDataError(f"target {spec.target!r} must be 0/1, found "
                                f"{sorted(map(str, values))[:5]}")
    y = target.cast(pl.Int8).to_numpy()
    if y.sum() < 10 or (len(y) - y.sum()) < 10:
        raise TrainingDataError("the target needs at least 10 of each outcome")
    if not 0 < spec.test_share < 1:
        raise TrainingDataError("the test share is between 0 and 1")
    frame = to_frame(data, features, spec.categorical)
    rng = np.random.default_rng(spec.seed)
    test = np.zeros(len(y), dtype=bool)
    for outcome in (0, 1):  # stratified: the same default rate in both parts
        rows = np.flatnonzero(y == outcome)
        test[rng.choice(rows, size=round(len(rows) * spec.test_share), replace=False)] = True
    return frame[~test], y[~test], frame[test], y[test]


class ScorecardModel:
    def __init__(self, spec: TrainingSpec) -> None:
        self.spec = spec
        self.features: list[str] = []
        self._card: Scorecard | None = None
        self._worst: dict[str, float] = {}

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> ScorecardModel:
        self.features = list(x.columns)
        fit_params = {name: {"monotonic_trend": "auto_asc_desc"}
                      for name in self.spec.monotonic}
        process = BinningProcess(variable_names=self.features,
                                 categorical_variables=list(self.spec.categorical),
                                 binning_fit_params=fit_params)
        s = self.spec.scaling
        self._card = Scorecard(
            binning_process=process, estimator=LogisticRegression(max_iter=1000),
            scaling_method="pdo_odds",
            scaling_method_params={"pdo": s.pdo, "odds": s.base_odds,
                                   "scorecard_points": s.base_score})
        self._card.fit(x, y)
        coef = dict(zip(self.features, self._card.estimator_.coef_[0], strict=True))
        for name in self.features:
            woe = self._bin_table(name)["WoE"].astype(float).to_numpy()
            self._worst[name] = float(np.min(coef[name] * woe)) if len(woe) else 0.0
        return self

    def _bin_table(self, name: str) -> pd.DataFrame:
        table = self.card.binning_process_.get_binned_variable(name).binning_table.build()
        return table[table.index != "Totals"]

    @property
    def card(self) -> Scorecard:
        if self._card is None:
            raise RuntimeError("the scorecard is not trained")
        return self._card

    def predict_pd(self, x: pd.DataFrame) -> np.ndarray:
        return self.card.predict_proba(x[self.features])[:, 1]

    def score(self, x: pd.DataFrame) -> np.ndarray:
        return self.card.score(x[self.features])

    def point_losses(self, x: pd.DataFrame) -> np.ndarray:
        """Points each feature costs against its best bin (rows × features)."""
        woe = self.card.binning_process_.transform(x[self.features], metric="woe")
        coef = self.card.estimator_.coef_[0]
        factor = self.spec.scaling.pdo / np.log(2)
        worst = np.array([self._worst[f] for f in self.features])
        return factor * (woe.to_numpy() * coef - worst)

    def explain(self, x: pd.DataFrame, top: int = 3) -> list[Scored]:
        pds, scores, losses = self.predict_pd(x), self.score(x), self.point_losses(x)
        out = []
        for i in range(len(x)):
            order = np.argsort(-losses[i], kind="mergesort")[:top]
            reasons = tuple(self.features[j] for j in order if losses[i, j] > 1e-9)
            out.append(Scored(float(pds[i]), float(scores[i]), reasons))
        return out

    def bin_rows(self) -> list[dict]:
        """The scorecard: feature, bin, count, event rate, WoE and points of every bin."""
        table = self.card.table(style="detailed")
        keep = ["Variable", "Bin", "Count", "Event rate", "WoE", "Points"]
        return [{k: (str(v) if k == "Bin" else v) for k, v in row.items()}
                for row in table[keep].to_dict(orient="records")]

    def save(self, path: Path) -> None:
        with path.open("wb") as f:
            pickle.dump(self, f)

    @staticmethod
    def load(path: Path) -> ScorecardModel:
        """Load a model this installation saved (pickle: never load files from elsewhere)."""
        with path.open("rb") as f:
            model = pickle.load(f)  # noqa: S301 - our own registry's files only
        if not isinstance(model, ScorecardModel):
            raise TypeError(f"{path} is not a scorecard")
        return model


def train_challenger(x: pd.DataFrame, y: np.ndarray, spec: TrainingSpec) -> lgb.LGBMClassifier:
    frame = x.copy()
    for name in spec.categorical:
        frame[name] = frame[name].astype("category")
    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31,
                               min_child_samples=50, subsample=0.8, subsample_freq=1,
                               colsample_bytree=0.8, random_state=spec.seed, verbose=-1,
                               n_jobs=2)
    model.fit(frame, y)
    return model


def challenger_pd(model: lgb.LGBMClassifier, x: pd.DataFrame,
                  categorical: Sequence[str]) -> np.ndarray:
    frame = x.copy()
    for name in categorical:
        frame[name] = frame[name].astype("category")
    return model.predict_proba(frame)[:, 1]


@dataclass(frozen=True, slots=True)
class TrainingResult:
    scorecard: ScorecardModel
    challenger: lgb.LGBMClassifier
    train: Validation
    test: Validation
    challenger_test: Validation
    psi_train_test: float
    rows: tuple[int, int]  # (train, test)
    default_rate: float


def train(data: pl.DataFrame, spec: TrainingSpec) -> TrainingResult:
    x_train, y_train, x_test, y_test = split_frame(data, spec)
    card = ScorecardModel(spec).fit(x_train, y_train)
    challenger = train_challenger(x_train, y_train, spec)
    p_train, p_test = card.predict_pd(x_train), card.predict_pd(x_test)
    return TrainingResult(
        scorecard=card, challenger=challenger, train=Validation.of(y_train, p_train),
        test=Validation.of(y_test, p_test),
        challenger_test=Validation.of(y_test, challenger_pd(challenger, x_test,
                                                            spec.categorical)),
        psi_train_test=psi(card.score(x_train), card.score(x_test)),
        rows=(len(y_train), len(y_test)),
        default_rate=float(np.concatenate([y_train, y_test]).mean()))
