"""Regression metrics with scikit-learn over numeric `label` (gold) and `prediction` values.

Records whose label or prediction is missing or not a finite number are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from metrics.compute.automatic.base import (
    MetricOptions,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    finite_or_none,
    library_versions,
    missing,
)

LABEL_PRED = frozenset({Need.LABEL, Need.PREDICTION})


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _pairs(records: Sequence[OutputRecord]) -> tuple[list[int], np.ndarray, np.ndarray, str | None]:
    empty = np.empty(0)
    if not records:
        return [], empty, empty, "no outputs"
    gold = [_number(r.label) for r in records]
    if all(g is None for g in gold):
        return [], empty, empty, "no numeric labels"
    pred = [_number(r.prediction) for r in records]
    idx = [i for i in range(len(records)) if gold[i] is not None and pred[i] is not None]
    if not idx:
        return [], empty, empty, "no numeric predictions"
    return idx, np.array([gold[i] for i in idx]), np.array([pred[i] for i in idx]), None


def _regression(name: str) -> Callable[[Sequence[OutputRecord], MetricOptions], MetricResult]:
    def compute(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        idx, y_true, y_pred, reason = _pairs(records)
        size = len(records) if name in ("mse", "mae") else 0
        if reason:
            return missing(name, reason, size)
        segments: list[float | None] = [None] * len(records)
        details: dict[str, Any] = {"n": len(idx), "versions": library_versions("scikit-learn")}
        if name == "r2":
            if len(idx) < 2:
                return missing(name, "R² undefined: fewer than two values", **details)
            if np.all(y_true == y_true[0]):
                return missing(name, "R² undefined: constant gold values", **details)
            value = skm.r2_score(y_true, y_pred, force_finite=False)
            return MetricResult(name=name, value=finite_or_none(value), details=details)
        errors = y_pred - y_true
        per_output = np.abs(errors) if name == "mae" else errors**2
        for i, e in zip(idx, per_output, strict=True):
            segments[i] = float(e)
        if name == "mse":
            value = skm.mean_squared_error(y_true, y_pred)
        elif name == "rmse":
            value = skm.root_mean_squared_error(y_true, y_pred)
        else:
            value = skm.mean_absolute_error(y_true, y_pred)
        return MetricResult(name=name, value=float(value),
                            segments=None if name == "rmse" else tuple(segments),
                            details=details)

    compute.__doc__ = {
        "mse": "Mean squared error Σ(ŷ−y)²/n, sklearn mean_squared_error.",
        "rmse": "Root mean squared error √MSE, sklearn root_mean_squared_error.",
        "mae": "Mean absolute error Σ|ŷ−y|/n, sklearn mean_absolute_error.",
        "r2": "R² = 1 − SS_res/SS_tot, sklearn r2_score; None for constant gold values.",
    }[name]
    return compute


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("mse", LABEL_PRED, (0.0, math.inf), False, True, _regression("mse")),
    MetricSpec("rmse", LABEL_PRED, (0.0, math.inf), False, False, _regression("rmse")),
    MetricSpec("mae", LABEL_PRED, (0.0, math.inf), False, True, _regression("mae")),
    MetricSpec("r2", LABEL_PRED, (-math.inf, 1.0), True, False, _regression("r2")),
)
