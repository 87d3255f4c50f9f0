"""The default registry holding every built-in metric (DESIGN.md §4 names)."""

from __future__ import annotations

from collections.abc import Sequence

from metrics.compute.automatic import (
    boxes,
    classification,
    finance,
    generation,
    lm,
    multilabel,
    operational,
    ranking,
    regression,
)
from metrics.compute.automatic.base import (
    MetricOptions,
    MetricRegistry,
    MetricResult,
    MetricSpec,
    OutputRecord,
)

BUILTIN_SPECS: tuple[MetricSpec, ...] = (
    *generation.SPECS, *classification.SPECS, *regression.SPECS, *multilabel.SPECS,
    *ranking.SPECS, *boxes.SPECS, *finance.SPECS, *operational.SPECS, *lm.SPECS,
)

REGISTRY = MetricRegistry(BUILTIN_SPECS)


def metric_get(name: str, registry: MetricRegistry | None = None) -> MetricSpec:
    """The spec registered as `name` (built-in, `ndcg@K` or custom); KeyError if unknown."""
    return (REGISTRY if registry is None else registry).get(name)


def metric_compute(
    name: str, records: Sequence[OutputRecord], options: MetricOptions | None = None,
    registry: MetricRegistry | None = None,
) -> MetricResult:
    """Compute metric `name` over one system's records."""
    return metric_get(name, registry).compute(records, options)


def metric_compute_many(
    names: Sequence[str], records: Sequence[OutputRecord], options: MetricOptions | None = None,
    registry: MetricRegistry | None = None,
) -> dict[str, MetricResult]:
    """Compute several metrics over the same records, each result equal to metric_compute's.

    Built-in ROUGE types share one rouge-score RougeScorer (each text tokenized and stemmed
    once for all of them, as rouge-score does for a scorer of several types).
    """
    options = options or MetricOptions()
    rouge = [name for name in names if name in generation.ROUGE_TYPES
             and metric_get(name, registry) is metric_get(name)  # the built-in spec
             and not metric_get(name).custom]
    results = generation.rouge_many(rouge, records, options) if len(rouge) > 1 else {}
    for name in names:
        if name not in results:
            results[name] = metric_get(name, registry).compute(records, options)
    return results
