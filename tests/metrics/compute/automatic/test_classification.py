"""Classification, regression and multi-label metrics against scikit-learn's documented examples."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from metrics.compute.automatic import MetricOptions, OutputRecord, metric_compute
from metrics.compute.automatic.classification import confusion_matrix


def pairs(y_true: list[Any], y_pred: list[Any]) -> list[OutputRecord]:
    return [OutputRecord(label=t, prediction=p) for t, p in zip(y_true, y_pred, strict=True)]


# sklearn precision_recall_fscore_support / f1_score docs example.
DOC_TRUE = [0, 1, 2, 0, 1, 2]
DOC_PRED = [0, 2, 1, 0, 0, 1]


@pytest.mark.parametrize(("name", "published"), [
    ("f1_macro", 0.26666666666666666), ("f1_micro", 0.3333333333333333),
    ("f1_weighted", 0.26666666666666666), ("precision_macro", 0.2222222222222222),
    ("precision_micro", 0.3333333333333333), ("precision_weighted", 0.2222222222222222),
    ("recall_macro", 0.3333333333333333), ("recall_micro", 0.3333333333333333),
    ("recall_weighted", 0.3333333333333333),
])
def test_prf_match_sklearn_docs_example(name: str, published: float) -> None:
    result = metric_compute(name, pairs(DOC_TRUE, DOC_PRED))
    assert result.value == pytest.approx(published)
    kind, average = name.split("_")
    func = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[kind]
    assert result.value == pytest.approx(func(DOC_TRUE, DOC_PRED, average=average))
    per_class = func(DOC_TRUE, DOC_PRED, average=None, zero_division=0)
    assert list(result.details["per_class"].values()) == pytest.approx(per_class)


def test_accuracy_sklearn_docs_example_with_confusion_matrix() -> None:
    # accuracy_score docs: 0.5; confusion_matrix docs: [[2,0,0],[0,0,1],[1,0,2]]
    assert metric_compute("accuracy", pairs([0, 1, 2, 3], [0, 2, 1, 3])).value == 0.5
    labels, matrix = confusion_matrix(pairs([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2]))
    assert labels == ["0", "1", "2"]
    assert matrix == [[2, 0, 0], [0, 0, 1], [1, 0, 2]]


def test_roc_auc_binary_sklearn_docs_example() -> None:
    # roc_auc_score docs: y_true [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8] -> 0.75
    records = [OutputRecord(label=t, score=s) for t, s in zip([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8],
                                                               strict=True)]
    result = metric_compute("roc_auc", records)
    assert result.value == pytest.approx(0.75)
    assert result.details["positive_label"] == "1"


def test_roc_auc_one_vs_rest_equals_sklearn() -> None:
    rng = np.random.default_rng(7)
    y_true = ["a", "b", "c"] * 10
    probs = rng.dirichlet(np.ones(3), size=len(y_true))
    records = [OutputRecord(label=t, score=dict(zip("abc", map(float, p), strict=True)))
               for t, p in zip(y_true, probs, strict=True)]
    expected = skm.roc_auc_score(y_true, probs, multi_class="ovr", average="macro")
    result = metric_compute("roc_auc", records)
    assert result.value == pytest.approx(expected)
    assert result.details["kind"] == "ovr-macro"


def test_roc_auc_one_vs_rest_scores_not_summing_to_one_is_none() -> None:
    records = [OutputRecord(label=c, score={"a": 0.9, "b": 0.9, "c": 0.9}) for c in "abc"]
    result = metric_compute("roc_auc", records)
    assert result.value is None and result.reason == "one-vs-rest scores must sum to 1 per output"


@pytest.mark.parametrize("score", [0.3, {"pos": 0.3, "neg": 0.7}])
def test_roc_auc_single_class_is_undefined(score: Any) -> None:
    records = [OutputRecord(label="pos", score=score)] * 3
    result = metric_compute("roc_auc", records)
    assert result.value is None
    assert result.reason is not None and "only one class" in result.reason


def test_sensitivity_specificity_equal_sklearn_recalls() -> None:
    y_true = ["sick", "sick", "sick", "well", "well"]
    y_pred = ["sick", "well", "sick", "well", "sick"]
    options = MetricOptions(positive_label="sick")
    sensitivity = metric_compute("sensitivity", pairs(y_true, y_pred), options)
    specificity = metric_compute("specificity", pairs(y_true, y_pred), options)
    assert sensitivity.value == pytest.approx(skm.recall_score(y_true, y_pred, pos_label="sick"))
    assert specificity.value == pytest.approx(skm.recall_score(y_true, y_pred, pos_label="well"))
    assert (sensitivity.value, specificity.value) == pytest.approx((2 / 3, 1 / 2))


def test_constant_predictions_follow_sklearn_zero_division_zero() -> None:
    y_true, y_pred = ["a", "b", "b", "c"], ["b"] * 4
    result = metric_compute("precision_macro", pairs(y_true, y_pred))
    assert result.value == pytest.approx(
        skm.precision_score(y_true, y_pred, average="macro", zero_division=0))


@pytest.mark.parametrize("name", ["accuracy", "f1_macro", "roc_auc", "sensitivity"])
@pytest.mark.parametrize(("records", "reason"), [
    ([], "no outputs"),
    ([OutputRecord(prediction="a")], "no labels"),
])
def test_classification_without_data_gives_none(name: str, records: list[OutputRecord],
                                                reason: str) -> None:
    result = metric_compute(name, records)
    assert (result.value, result.reason) == (None, reason)


def test_sensitivity_multiclass_needs_a_positive_label() -> None:
    result = metric_compute("sensitivity", pairs(["a", "b", "c"], ["a", "b", "c"]))
    assert result.value is None and result.reason


# sklearn mean_squared_error / r2_score docs example.
REG_TRUE = [3, -0.5, 2, 7]
REG_PRED = [2.5, 0.0, 2, 8]


@pytest.mark.parametrize(("name", "published"), [
    ("mse", 0.375), ("mae", 0.5), ("r2", 0.9486081370449679), ("rmse", 0.6123724356957945),
])
def test_regression_sklearn_docs_example(name: str, published: float) -> None:
    result = metric_compute(name, pairs(REG_TRUE, REG_PRED))
    assert result.value == pytest.approx(published)


def test_regression_segments_are_per_output_errors() -> None:
    result = metric_compute("mae", pairs(REG_TRUE, REG_PRED))
    assert result.segments == pytest.approx([0.5, 0.5, 0.0, 1.0])


@pytest.mark.parametrize(("y_true", "reason"), [
    ([1.0, 1.0, 1.0], "R² undefined: constant gold values"),
    ([1.0], "R² undefined: fewer than two values"),
])
def test_r2_undefined_cases_are_none(y_true: list[float], reason: str) -> None:
    result = metric_compute("r2", pairs(y_true, [1.0] * len(y_true)))
    assert (result.value, result.reason) == (None, reason)


@pytest.mark.parametrize("name", ["mse", "rmse", "mae", "r2"])
def test_regression_ignores_non_numeric_and_reports_missing(name: str) -> None:
    assert metric_compute(name, []).reason == "no outputs"
    assert metric_compute(name, pairs(["x"], [1.0])).reason == "no numeric labels"
    assert metric_compute(name, pairs([1.0], [None])).reason == "no numeric predictions"


# sklearn jaccard_score docs: y_true [[0,1,1],[1,1,0]], y_pred [[1,1,1],[1,0,0]].
ML_TRUE = [["b", "c"], ["a", "b"]]
ML_PRED = [["a", "b", "c"], ["a"]]


@pytest.mark.parametrize(("name", "published"), [
    ("jaccard_samples", 0.5833333333333333), ("jaccard_macro", 0.6666666666666666),
    ("subset_accuracy", 0.0), ("hamming_loss", 2 / 6),
])
def test_multilabel_sklearn_docs_example(name: str, published: float) -> None:
    result = metric_compute(name, pairs(ML_TRUE, ML_PRED))
    assert result.value == pytest.approx(published)


def test_hamming_loss_sklearn_docs_example() -> None:
    # hamming_loss docs: [[0, 1], [1, 1]] vs all zeros -> 0.75
    records = pairs([["y"], ["x", "y"]], [[], []])
    assert metric_compute("hamming_loss", records).value == pytest.approx(0.75)


@pytest.mark.parametrize("name", ["hamming_loss", "jaccard_samples", "jaccard_macro",
                                  "subset_accuracy"])
def test_multilabel_missing_lists_give_reason(name: str) -> None:
    assert metric_compute(name, pairs(["a"], [["a"]])).reason == "no label lists"
    assert metric_compute(name, pairs([["a"]], [None])).reason == "no predicted label lists"
