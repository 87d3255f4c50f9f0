"""Ranking metrics: sklearn's NDCG docs example, AP against sklearn, MRR's textbook example."""

from __future__ import annotations

import pytest
from sklearn.metrics import average_precision_score, ndcg_score

from metrics.compute.automatic import OutputRecord, metric_compute, metric_get

# sklearn ndcg_score docs: true_relevance [[10, 0, 0, 1, 5]] with two score vectors.
DOCS = ["a", "b", "c", "d", "e"]
TRUE_RELEVANCE = [10, 0, 0, 1, 5]
SCORES_1 = [0.1, 0.2, 0.3, 4, 70]
SCORES_2 = [0.05, 1.1, 1.0, 0.5, 0.0]


def ranked(scores: list[float]) -> OutputRecord:
    """The docs' scores as a ranked list (best first) plus the item's relevance judgments."""
    order = sorted(zip(scores, DOCS, strict=True), reverse=True)
    return OutputRecord(ranking=tuple(d for _, d in order),
                        relevance=dict(zip(DOCS, TRUE_RELEVANCE, strict=True)))


@pytest.mark.parametrize(("name", "k", "scores", "published"), [
    ("ndcg", None, SCORES_1, 0.69), ("ndcg", None, SCORES_2, 0.49),
    ("ndcg@4", 4, SCORES_2, 0.35), ("ndcg@1", 1, SCORES_1, 0.5),
])
def test_ndcg_sklearn_docs_example(name: str, k: int | None, scores: list[float],
                                   published: float) -> None:
    # given sklearn's documented example; then sklearn's value on the same arrays
    result = metric_compute(name, [ranked(scores)])
    assert result.value == pytest.approx(ndcg_score([TRUE_RELEVANCE], [scores], k=k))
    assert result.value == pytest.approx(published, abs=0.01)  # docs print 2 digits


def test_ndcg_at_k_is_a_registered_parametric_metric() -> None:
    spec = metric_get("ndcg@10")
    assert (spec.name, spec.higher_is_better, spec.value_range) == ("ndcg@10", True, (0.0, 1.0))
    with pytest.raises(KeyError):
        metric_get("ndcg@0")


def test_ndcg_unranked_judged_documents_never_help() -> None:
    # given a relevant doc the system did not return; then it counts as ranked last
    record = OutputRecord(ranking=("x", "y"), relevance={"x": 0, "y": 0, "z": 3})
    assert metric_compute("ndcg", [record]).value == pytest.approx(
        ndcg_score([[0, 0, 3]], [[3, 2, 1]]))


def test_average_precision_equals_sklearn_when_all_relevant_are_ranked() -> None:
    ranking = ("d1", "d2", "d3", "d4", "d5")
    relevance = {"d1": 1, "d2": 0, "d3": 1, "d4": 0, "d5": 1}
    result = metric_compute("map", [OutputRecord(ranking=ranking, relevance=relevance)])
    expected = average_precision_score([1, 0, 1, 0, 1], [5, 4, 3, 2, 1])
    assert result.value == pytest.approx(expected)
    assert result.value == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)


def test_map_counts_unretrieved_relevant_documents() -> None:
    # AP divides by all relevant documents, retrieved or not (TREC)
    record = OutputRecord(ranking=("a", "b"), relevance={"a": 1, "z": 2})
    assert metric_compute("map", [record]).value == pytest.approx(0.5)


def test_mrr_wikipedia_example() -> None:
    # Wikipedia "Mean reciprocal rank": first correct answers at ranks 3, 2, 1 -> 11/18
    records = [
        OutputRecord(ranking=("catten", "cati", "cats"), relevance={"cats": 1}),
        OutputRecord(ranking=("torii", "tori", "toruses"), relevance={"tori": 1}),
        OutputRecord(ranking=("viruses", "virii", "viri"), relevance={"viruses": 1}),
    ]
    result = metric_compute("mrr", records)
    assert result.value == pytest.approx(11 / 18)
    assert result.segments == pytest.approx([1 / 3, 1 / 2, 1.0])


@pytest.mark.parametrize("name", ["ndcg", "ndcg@3", "map", "mrr"])
@pytest.mark.parametrize(("records", "reason"), [
    ([], "no outputs"),
    ([OutputRecord(ranking=("a",))], "no relevance judgments"),
    ([OutputRecord(relevance={"a": 1})], "no rankings"),
])
def test_ranking_without_data_gives_none(name: str, records: list[OutputRecord],
                                         reason: str) -> None:
    result = metric_compute(name, records)
    assert (result.value, result.reason) == (None, reason)


def test_items_without_relevant_documents_have_no_ap() -> None:
    result = metric_compute("map", [OutputRecord(ranking=("a",), relevance={"a": 0})])
    assert result.value is None and result.reason == "no item with a relevant document"
