"""Automatic metrics (pure: no Django, no Celery), declared in a registry by DESIGN.md §4 name."""

from metrics.compute.automatic.base import (
    MetricOptions,
    MetricRegistry,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
)
from metrics.compute.automatic.composite import ComponentScale, CompositeResult, composite_scores
from metrics.compute.automatic.custom import custom_metric, custom_metrics_load, register_custom
from metrics.compute.automatic.generation import wordnet_find, wordnet_load
from metrics.compute.automatic.registry import (
    BUILTIN_SPECS,
    REGISTRY,
    metric_compute,
    metric_compute_many,
    metric_get,
)
from metrics.compute.automatic.robustness import RobustnessResult, robustness_delta

__all__ = [
    "BUILTIN_SPECS", "REGISTRY", "ComponentScale", "CompositeResult", "MetricOptions",
    "MetricRegistry", "MetricResult", "MetricSpec", "Need", "OutputRecord", "RobustnessResult",
    "composite_scores", "custom_metric", "custom_metrics_load", "metric_compute",
    "metric_compute_many", "metric_get", "register_custom", "robustness_delta", "wordnet_find",
    "wordnet_load",
]
