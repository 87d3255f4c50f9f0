"""The registry's declarations, custom metrics, robustness and composite scores."""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Iterator, Sequence

import pytest

from metrics.compute.automatic import (
    REGISTRY,
    ComponentScale,
    MetricRegistry,
    MetricResult,
    Need,
    OutputRecord,
    composite_scores,
    custom_metric,
    custom_metrics_load,
    metric_compute,
    register_custom,
    robustness_delta,
)
from metrics.compute.catalog import METRIC_NAMES


def test_registry_declares_every_design_metric_name() -> None:
    assert REGISTRY.names() == METRIC_NAMES


@pytest.mark.parametrize("name", sorted(METRIC_NAMES))
def test_every_metric_declares_inputs_range_and_survives_empty_input(name: str) -> None:
    spec = REGISTRY.get(name)
    assert spec.needs and all(isinstance(n, Need) for n in spec.needs)
    assert spec.value_range[0] < spec.value_range[1]
    result = spec.compute([])
    assert (result.name, result.value, result.reason) == (name, None, "no outputs")


@pytest.mark.parametrize(("name", "higher"), [("bleu", True), ("ter", False), ("mse", False),
                                              ("perplexity", False), ("hamming_loss", False),
                                              ("latency_p95_ms", False), ("tokens_per_s", True)])
def test_direction_declarations(name: str, higher: bool) -> None:
    assert REGISTRY.get(name).higher_is_better is higher


def mean_length(records: Sequence[OutputRecord]) -> float | None:
    """A custom metric: mean output length in characters."""
    lengths = [len(r.text) for r in records if r.text is not None]
    return sum(lengths) / len(lengths) if lengths else None


@pytest.fixture
def plugin_module() -> Iterator[str]:
    module = types.ModuleType("eval_plugin_for_tests")

    @custom_metric(name="shouting", needs=[Need.TEXT], value_range=(0.0, 1.0))
    def shouting(records: Sequence[OutputRecord]) -> float:
        return sum((r.text or "").isupper() for r in records) / len(records)

    module.shouting = shouting  # type: ignore[attr-defined]
    module.mean_length = mean_length  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module.__name__
    del sys.modules[module.__name__]


def test_register_custom_runs_like_a_builtin() -> None:
    registry = REGISTRY.copy()
    spec = register_custom("mean_length", mean_length, needs=["text"], registry=registry)
    assert spec.custom and spec.needs == frozenset({Need.TEXT})
    records = [OutputRecord(text="abc"), OutputRecord(text="a")]
    assert metric_compute("mean_length", records, registry=registry).value == 2.0
    assert metric_compute("mean_length", [], registry=registry).reason == \
        "custom metric returned no value"
    assert "mean_length" not in REGISTRY


def test_custom_names_cannot_shadow_builtins() -> None:
    with pytest.raises(ValueError, match="already defined"):
        register_custom("bleu", mean_length, registry=REGISTRY.copy())
    with pytest.raises(ValueError, match="already defined"):
        register_custom("ndcg@5", mean_length, registry=REGISTRY.copy())


def test_custom_metrics_load_reads_declarations(plugin_module: str) -> None:
    registry = MetricRegistry()
    specs = custom_metrics_load([f"{plugin_module}:shouting", f"{plugin_module}:mean_length"],
                                registry=registry)
    assert [s.name for s in specs] == ["shouting", "mean_length"]
    assert registry.get("shouting").value_range == (0.0, 1.0)
    result = registry.get("shouting").compute([OutputRecord(text="HI"), OutputRecord(text="hi")])
    assert result == MetricResult(name="shouting", value=0.5)


@pytest.mark.parametrize(("path", "error"), [
    ("no_colon_here", ValueError), ("json:nope", AttributeError),
    ("surely_not_a_module_xyz:f", ImportError), ("math:pi", ValueError),
])
def test_custom_metrics_load_rejects_bad_paths(path: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        custom_metrics_load([path], registry=MetricRegistry())


def test_robustness_mean_change_from_original_to_variants() -> None:
    # group q1: original 0.8 (item id q1), variants 0.6 and 0.4 -> -0.3
    # group q2: no item named q2, so the first record is the original: 0.5 -> 0.6 = +0.1
    records = [OutputRecord(item_id="q1-typo", group="q1"), OutputRecord(item_id="q1", group="q1"),
               OutputRecord(item_id="q1-case", group="q1"), OutputRecord(item_id="a", group="q2"),
               OutputRecord(item_id="b", group="q2"), OutputRecord(item_id="solo")]
    result = robustness_delta("rougeL", records, [0.6, 0.8, 0.4, 0.5, 0.6, 0.9])
    assert result.group_deltas == pytest.approx({"q1": -0.3, "q2": 0.1})
    assert result.value == pytest.approx(-0.1)
    assert result.groups == 2


@pytest.mark.parametrize(("records", "segments", "reason"), [
    ([OutputRecord(item_id="a")], [1.0], "no groups"),
    ([OutputRecord(item_id="g", group="g")], [1.0], "no group with a scored original and variant"),
    ([OutputRecord(item_id="g", group="g"), OutputRecord(item_id="h", group="g")], [None, 1.0],
     "no group with a scored original and variant"),
])
def test_robustness_without_variants_is_none(records: list[OutputRecord],
                                             segments: list[float | None], reason: str) -> None:
    result = robustness_delta("bleu", records, segments)
    assert (result.value, result.reason) == (None, reason)


def test_composite_normalizes_by_range_and_direction() -> None:
    scales = {"fluency": ComponentScale((1.0, 5.0)), "bleu": ComponentScale((0.0, 100.0)),
              "perplexity": ComponentScale((1.0, math.inf), higher_is_better=False)}
    scores = {"base": {"fluency": 3.0, "bleu": 20.0, "perplexity": 12.0},
              "ft": {"fluency": 5.0, "bleu": 40.0, "perplexity": 8.0}}
    weights = {"fluency": 0.5, "bleu": 0.25, "perplexity": 0.25}
    result = composite_scores(scores, weights, scales)
    # base: 0.5·0.5 + 0.25·0.2 + 0.25·(1 − 1) ; ft: 0.5·1 + 0.25·0.4 + 0.25·(1 − 0)
    assert result["base"].value == pytest.approx(0.25 + 0.05 + 0.0)
    assert result["ft"].value == pytest.approx(0.5 + 0.1 + 0.25)
    assert result["ft"].components["perplexity"] == pytest.approx(1.0)


def test_composite_missing_component_or_no_spread_is_none() -> None:
    scales = {"mse": ComponentScale((0.0, math.inf), higher_is_better=False)}
    missing = composite_scores({"a": {"mse": None}, "b": {"mse": 1.0}}, {"mse": 1.0}, scales)
    assert missing["a"].reason == "missing mse"
    flat = composite_scores({"a": {"mse": 1.0}, "b": {"mse": 1.0}}, {"mse": 1.0}, scales)
    assert flat["a"].value is None and flat["a"].reason == "mse has no spread to normalize"
    assert composite_scores({"a": {}}, {}, {})["a"].reason == "no positive weights"
