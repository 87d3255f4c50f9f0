"""Classification metrics with scikit-learn, pooled over outputs (zero_division=0).

Labels and predictions are compared as strings (so 1 and "1" are the same class). Records
without a label or a prediction are skipped. ROC-AUC reads `score`: a number is the
probability of the positive class (binary only), an object maps class → probability.
"""

from __future__ import annotations

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


def _pairs(records: Sequence[OutputRecord]) -> tuple[list[int], list[str], list[str], str | None]:
    """Indices, gold labels and predictions (as strings) of records having both."""
    if not records:
        return [], [], [], "no outputs"
    if all(r.label is None for r in records):
        return [], [], [], "no labels"
    idx = [i for i, r in enumerate(records) if r.label is not None and r.prediction is not None]
    if not idx:
        return [], [], [], "no predictions"
    return (idx, [str(records[i].label) for i in idx], [str(records[i].prediction) for i in idx],
            None)


def confusion_matrix(records: Sequence[OutputRecord]) -> tuple[list[str], list[list[int]]]:
    """Sorted class labels and sklearn's confusion matrix (rows = gold, columns = predicted)."""
    _, y_true, y_pred, _ = _pairs(records)
    classes = sorted(set(y_true) | set(y_pred))
    if not classes:
        return [], []
    return classes, skm.confusion_matrix(y_true, y_pred, labels=classes).tolist()


def accuracy(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Share of correct predictions, sklearn.metrics.accuracy_score; details hold the confusion
    matrix."""
    idx, y_true, y_pred, reason = _pairs(records)
    if reason:
        return missing("accuracy", reason, len(records))
    segments: list[float | None] = [None] * len(records)
    for i, t, p in zip(idx, y_true, y_pred, strict=True):
        segments[i] = 1.0 if t == p else 0.0
    classes, matrix = confusion_matrix(records)
    return MetricResult(
        name="accuracy", value=float(skm.accuracy_score(y_true, y_pred)),
        segments=tuple(segments),
        details={"labels": classes, "confusion_matrix": matrix, "n": len(idx),
                 "versions": library_versions("scikit-learn")},
    )


def _prf(kind: str, average: str) -> Callable[[Sequence[OutputRecord], MetricOptions],
                                              MetricResult]:
    name = f"{kind}_{average}"
    func = {"precision": skm.precision_score, "recall": skm.recall_score,
            "f1": skm.f1_score}[kind]

    def compute(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        idx, y_true, y_pred, reason = _pairs(records)
        if reason:
            return missing(name, reason)
        classes = sorted(set(y_true) | set(y_pred))
        per_class = func(y_true, y_pred, labels=classes, average=None, zero_division=0)
        value = func(y_true, y_pred, labels=classes, average=average, zero_division=0)
        return MetricResult(
            name=name, value=float(value),
            details={"per_class": dict(zip(classes, map(float, per_class), strict=True)),
                     "n": len(idx), "versions": library_versions("scikit-learn")},
        )

    compute.__doc__ = f"sklearn {func.__name__}(average={average!r}, zero_division=0)."
    return compute


def _positive_label(classes: Sequence[str], options: MetricOptions) -> str | None:
    """The positive class: options.positive_label, else sklearn's default (the greater of two)."""
    if options.positive_label is not None:
        return options.positive_label
    return classes[1] if len(classes) == 2 else None


def _rate(name: str, of_positive: bool) -> Callable[[Sequence[OutputRecord], MetricOptions],
                                                    MetricResult]:
    def compute(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        idx, y_true, y_pred, reason = _pairs(records)
        if reason:
            return missing(name, reason)
        classes = sorted(set(y_true) | set(y_pred))
        positive = _positive_label(classes, options)
        if positive is None:
            return missing(name, "needs a positive label (more than two classes)")
        true_pos = np.array(y_true) == positive
        pred_pos = np.array(y_pred) == positive
        # Sensitivity = recall of the positive class; specificity = recall of the negative one.
        target = true_pos if of_positive else ~true_pos
        if not target.any():
            kind = "positive" if of_positive else "negative"
            return missing(name, f"no {kind} gold labels", positive_label=positive)
        value = skm.recall_score(target, pred_pos if of_positive else ~pred_pos,
                                 zero_division=0)
        return MetricResult(name=name, value=float(value),
                            details={"positive_label": positive, "n": len(idx),
                                     "versions": library_versions("scikit-learn")})

    compute.__doc__ = (f"{name}: TP/(TP+FN)" if of_positive else f"{name}: TN/(TN+FP)") + \
        " via sklearn recall_score on the binarized labels."
    return compute


def _score_vector(score: Any, classes: Sequence[str]) -> list[float] | None:
    if isinstance(score, dict):
        keyed = {str(k): float(v) for k, v in score.items()}
        return [keyed.get(c, 0.0) for c in classes]
    return None


def roc_auc(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """sklearn roc_auc_score: binary from the positive-class score, else one-vs-rest macro.

    Undefined (None) when the gold labels hold a single class.
    """
    if not records:
        return missing("roc_auc", "no outputs")
    idx = [i for i, r in enumerate(records) if r.label is not None and r.score is not None]
    if not idx:
        reason = "no labels" if all(r.label is None for r in records) else "no scores"
        return missing("roc_auc", reason)
    y_true = [str(records[i].label) for i in idx]
    scores = [records[i].score for i in idx]
    gold_classes = sorted(set(y_true))
    if len(gold_classes) < 2:
        return missing("roc_auc", "ROC-AUC undefined: only one class in the gold labels")
    details: dict[str, Any] = {"n": len(idx), "versions": library_versions("scikit-learn")}
    if all(isinstance(s, dict) for s in scores):
        classes = sorted(set(gold_classes) | {str(k) for s in scores for k in s})  # type: ignore[union-attr]
        matrix = np.array([_score_vector(s, classes) for s in scores])
        if len(classes) == 2:
            value = skm.roc_auc_score(y_true, matrix[:, 1])
            details.update(kind="binary", positive_label=classes[1])
        else:
            if set(classes) != set(gold_classes):
                return missing("roc_auc", "one-vs-rest needs every scored class in the labels")
            if not np.allclose(matrix.sum(axis=1), 1.0):
                return missing("roc_auc", "one-vs-rest scores must sum to 1 per output")
            value = skm.roc_auc_score(y_true, matrix, multi_class="ovr", average="macro",
                                      labels=classes)
            details.update(kind="ovr-macro", labels=classes)
    elif all(isinstance(s, int | float) for s in scores):
        positive = _positive_label(gold_classes, options)
        if positive is None or len(gold_classes) != 2:
            return missing("roc_auc", "a single score per output needs binary labels")
        value = skm.roc_auc_score(np.array(y_true) == positive, np.array(scores, dtype=float))
        details.update(kind="binary", positive_label=positive)
    else:
        return missing("roc_auc", "scores mix numbers and class→probability objects")
    return MetricResult(name="roc_auc", value=finite_or_none(value), details=details)


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("accuracy", LABEL_PRED, (0.0, 1.0), True, True, accuracy),
    *(MetricSpec(f"{kind}_{avg}", LABEL_PRED, (0.0, 1.0), True, False, _prf(kind, avg))
      for avg in ("macro", "micro", "weighted") for kind in ("precision", "recall", "f1")),
    MetricSpec("roc_auc", frozenset({Need.LABEL, Need.SCORE}), (0.0, 1.0), True, False, roc_auc),
    MetricSpec("sensitivity", LABEL_PRED, (0.0, 1.0), True, False, _rate("sensitivity", True)),
    MetricSpec("specificity", LABEL_PRED, (0.0, 1.0), True, False, _rate("specificity", False)),
)
