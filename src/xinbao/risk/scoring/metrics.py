"""Validation metrics of a PD model, with numpy only (sklearn's AUC for the ranking)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

EPS = 1e-6


def auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p))


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the score distributions of bads and
    goods (as cumulative shares, over every threshold)."""
    order = np.argsort(-p, kind="mergesort")
    ys = y[order]
    bads, goods = ys.sum(), len(ys) - ys.sum()
    if bads == 0 or goods == 0:
        raise ValueError("KS needs both outcomes")
    return float(np.max(np.abs(np.cumsum(ys) / bads - np.cumsum(1 - ys) / goods)))


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected``, on the deciles of
    ``expected`` (below 0.1: stable; 0.1-0.25: watch; above: shifted)."""
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, EPS, None), np.clip(a, EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True, slots=True)
class Decile:
    decile: int  # 1 = the riskiest tenth
    count: int
    mean_pd: float
    observed_rate: float


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[Decile]:
    """Predicted against observed default rate by decile of predicted PD."""
    order = np.argsort(-p, kind="mergesort")
    out = []
    for i, chunk in enumerate(np.array_split(order, bins), start=1):
        if len(chunk):
            out.append(Decile(i, len(chunk), float(p[chunk].mean()), float(y[chunk].mean())))
    return out


@dataclass(frozen=True, slots=True)
class Validation:
    auc: float
    ks: float
    gini: float
    calibration: list[Decile]

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray) -> Validation:
        a = auc(y, p)
        return cls(a, ks(y, p), 2 * a - 1, calibration(y, p))
