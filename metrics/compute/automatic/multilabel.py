"""Multi-label metrics with scikit-learn; `label` and `prediction` are lists of classes.

Classes are compared as strings and binarized with sklearn's MultiLabelBinarizer over the
union of all gold and predicted classes. Records lacking either list are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from metrics.compute.automatic.base import (
    MetricOptions,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    library_versions,
    missing,
)

LABEL_PRED = frozenset({Need.LABEL, Need.PREDICTION})


def _label_set(value: object) -> list[str] | None:
    if isinstance(value, list | tuple | set | frozenset):
        return sorted({str(v) for v in value})
    return None


def label_matrices(
    records: Sequence[OutputRecord],
) -> tuple[list[int], np.ndarray, np.ndarray, list[str], str | None]:
    """Indices, binarized gold and predicted label matrices, the classes, or why none."""
    empty = np.empty((0, 0), dtype=int)
    if not records:
        return [], empty, empty, [], "no outputs"
    gold = [_label_set(r.label) for r in records]
    if all(g is None for g in gold):
        return [], empty, empty, [], "no label lists"
    pred = [_label_set(r.prediction) for r in records]
    idx = [i for i in range(len(records)) if gold[i] is not None and pred[i] is not None]
    if not idx:
        return [], empty, empty, [], "no predicted label lists"
    binarizer = MultiLabelBinarizer()
    binarizer.fit([gold[i] for i in idx] + [pred[i] for i in idx])
    y_true = binarizer.transform([gold[i] for i in idx])
    y_pred = binarizer.transform([pred[i] for i in idx])
    return idx, y_true, y_pred, [str(c) for c in binarizer.classes_], None


def _multilabel(name: str) -> Callable[[Sequence[OutputRecord], MetricOptions], MetricResult]:
    def compute(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        idx, y_true, y_pred, classes, reason = label_matrices(records)
        if reason:
            return missing(name, reason)
        if not classes:
            return missing(name, "no classes in labels or predictions")
        if name == "hamming_loss":
            value = skm.hamming_loss(y_true, y_pred)
        elif name == "subset_accuracy":
            value = skm.accuracy_score(y_true, y_pred)
        else:
            value = skm.jaccard_score(y_true, y_pred, average=name.removeprefix("jaccard_"),
                                      zero_division=0)
        return MetricResult(name=name, value=float(value),
                            details={"classes": classes, "n": len(idx),
                                     "versions": library_versions("scikit-learn")})

    compute.__doc__ = {
        "hamming_loss": "Share of wrong label slots, sklearn hamming_loss.",
        "jaccard_samples": "Mean per-sample |Y∩Ŷ|/|Y∪Ŷ|, sklearn jaccard_score(average='samples').",
        "jaccard_macro": "Mean per-class Jaccard index, sklearn jaccard_score(average='macro').",
        "subset_accuracy": "Share of exactly right label sets, sklearn accuracy_score.",
    }[name]
    return compute


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("hamming_loss", LABEL_PRED, (0.0, 1.0), False, False, _multilabel("hamming_loss")),
    MetricSpec("jaccard_samples", LABEL_PRED, (0.0, 1.0), True, False,
               _multilabel("jaccard_samples")),
    MetricSpec("jaccard_macro", LABEL_PRED, (0.0, 1.0), True, False, _multilabel("jaccard_macro")),
    MetricSpec("subset_accuracy", LABEL_PRED, (0.0, 1.0), True, False,
               _multilabel("subset_accuracy")),
)
