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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
from optbinning import BinningProcess, Scorecard
from sklearn.linear_model import LogisticRegression

from xinbao.risk.scoring.metrics import Validation, psi

#: How missing and special values are scored: the WoE of their own bin.
EMPIRICAL = "empirical"


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
        self._kernel: ScoringKernel | None = None

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
        # Missing (and special) values get the WoE of their own bin, not 0: being missing is
        # information (no collateral, no bureau history).
        self._card.fit(x, y, metric_special=EMPIRICAL, metric_missing=EMPIRICAL)
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
        woe = self.card.binning_process_.transform(x[self.features], metric="woe",
                                                   metric_special=EMPIRICAL,
                                                   metric_missing=EMPIRICAL)
        coef = self.card.estimator_.coef_[0]
        factor = self.spec.scaling.pdo / np.log(2)
        worst = np.array([self._worst[f] for f in self.features])
        return factor * (woe.to_numpy() * coef - worst)

    def explain(self, x: pd.DataFrame, top: int = 3) -> list[Scored]:
        """PD, score and the top reasons of every row of a frame (through the kernel)."""
        kernel = self.kernel()
        columns = {name: x[name].to_numpy() for name in self.features}
        return kernel.explain_woe(kernel.woe_columns(columns, len(x)), top)

    def kernel(self) -> ScoringKernel:
        """The scorecard as lookup tables (bin edges and WoE per feature), for scoring rows
        without pandas: what the decision engine calls once per application."""
        if self._kernel is None:
            self._kernel = ScoringKernel.of(self)
        return self._kernel

    def explain_rows(self, rows: Sequence[Mapping[str, Any]], top: int = 3) -> list[Scored]:
        """``explain`` for feature dicts (None = missing), through the lookup tables."""
        return self.kernel().explain(rows, top)

    def __setstate__(self, state: dict) -> None:  # models saved before the kernel existed
        self.__dict__.update(state)
        self.__dict__.setdefault("_kernel", None)

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


_UNKNOWN = "\x01unseen category"


@dataclass(frozen=True)
class _Feature:
    name: str
    categorical: bool
    splits: np.ndarray  # numeric: bin edges (bins are closed on the left)
    woe: np.ndarray  # numeric: WoE of each bin
    categories: dict[str, float]  # categorical: WoE of each category seen in training
    missing: float
    unknown: float  # categorical: a category not seen in training


@dataclass(frozen=True)
class ScoringKernel:
    """A trained scorecard as numpy lookup tables: the same WoE as optbinning's transform
    (a test holds them equal), without building a pandas frame per call."""

    features: tuple[_Feature, ...]
    coef: np.ndarray
    intercept: float
    worst: np.ndarray  # per feature: the least points lost (its best bin)
    scaling: Scaling

    @classmethod
    def of(cls, model: ScorecardModel) -> ScoringKernel:
        process = model.card.binning_process_
        categorical = set(model.spec.categorical)
        out = []
        for name in model.features:
            binned = process.get_binned_variable(name)
            table = binned.binning_table.build()
            table = table[table.index != "Totals"]
            woe = table["WoE"].astype(float).to_numpy()
            bins = table["Bin"].astype(str).tolist()
            missing = float(woe[bins.index("Missing")]) if "Missing" in bins else 0.0
            regular = [i for i, b in enumerate(bins) if b not in ("Special", "Missing")]
            if name in categorical:
                cats: dict[str, float] = {}
                for i, members in zip(regular, binned.splits, strict=True):
                    cats.update((str(c), float(woe[i])) for c in members)
                probe = pd.DataFrame({n: ([_UNKNOWN] if n == name else [np.nan])
                                      for n in model.features})
                unknown = float(process.transform(
                    probe, metric="woe", metric_special=EMPIRICAL,
                    metric_missing=EMPIRICAL)[name].iloc[0])
                out.append(_Feature(name, True, np.empty(0), np.empty(0), cats, missing,
                                    unknown))
            else:
                out.append(_Feature(name, False, np.asarray(binned.splits, dtype=float),
                                    woe[regular], {}, missing, missing))
        return cls(tuple(out), model.card.estimator_.coef_[0].astype(float),
                   float(model.card.estimator_.intercept_[0]),
                   np.array([model._worst[f] for f in model.features]), model.spec.scaling)

    def woe(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """WoE of feature dicts (None = missing), rows × features."""
        return self.woe_columns({f.name: [row.get(f.name) for row in rows]
                                 for f in self.features}, len(rows))

    def woe_columns(self, columns: Mapping[str, Any], n: int) -> np.ndarray:
        """WoE of columns (sequences or arrays; None or NaN = missing), rows × features."""
        matrix = np.empty((n, len(self.features)))
        for j, f in enumerate(self.features):
            values = columns[f.name]
            if f.categorical:
                matrix[:, j] = [f.missing if v is None or v != v
                                else f.categories.get(str(v), f.unknown) for v in values]
            else:
                x = pd.Series(values, dtype="float64").to_numpy()
                found = f.woe[np.searchsorted(f.splits, x, side="right").clip(
                    0, len(f.woe) - 1)]
                matrix[:, j] = np.where(np.isnan(x), f.missing, found)
        return matrix

    def explain(self, rows: Sequence[Mapping[str, Any]], top: int = 3) -> list[Scored]:
        return self.explain_woe(self.woe(rows), top)

    def explain_woe(self, woe: np.ndarray, top: int = 3) -> list[Scored]:
        logit = woe @ self.coef + self.intercept
        pds = 1 / (1 + np.exp(-logit))
        s = self.scaling
        factor = s.pdo / np.log(2)
        scores = s.base_score + factor * (-logit - np.log(s.base_odds))
        losses = factor * (woe * self.coef - self.worst)
        order = np.argsort(-losses, axis=1, kind="stable")[:, :top]
        keep = np.take_along_axis(losses, order, axis=1) > 1e-9
        names = np.array([f.name for f in self.features], dtype=object)[order].tolist()
        # numpy types a bool array's tolist() as a bool, whatever the array's dimensions.
        full = cast("list[bool]", keep.all(axis=1).tolist())
        kept = cast("list[list[bool]]", keep.tolist())
        reasons = [tuple(n) if ok else tuple(x for x, k in zip(n, m, strict=True) if k)
                   for n, ok, m in zip(names, full, kept, strict=True)]
        return [Scored(p, sc, r) for p, sc, r in zip(pds.tolist(), scores.tolist(), reasons,
                                                     strict=True)]


def train_challenger(x: pd.DataFrame, y: np.ndarray, spec: TrainingSpec) -> lgb.LGBMClassifier:
    """LightGBM on one thread: its threads meet at a barrier many times a tree, so while
    another process holds one of the cores, two threads took minutes instead of half a
    second (30,000 rows on 2 cores, one busy: 231 s against 0.56 s); the trees are the same
    (``docs/PERFORMANCE.md``, "The demo's cost")."""
    frame = x.copy()
    for name in spec.categorical:
        frame[name] = frame[name].astype("category")
    model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31,
                               min_child_samples=50, subsample=0.8, subsample_freq=1,
                               colsample_bytree=0.8, random_state=spec.seed, verbose=-1,
                               n_jobs=1)
    model.fit(frame, y)
    return model


def challenger_pd(model: lgb.LGBMClassifier, x: pd.DataFrame,
                  categorical: Sequence[str]) -> np.ndarray:
    frame = x.copy()
    for name in categorical:
        frame[name] = frame[name].astype("category")
    # lightgbm's return type also covers sparse output, which only pred_contrib gives.
    return cast(np.ndarray, model.predict_proba(frame))[:, 1]


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
