"""Composite score: a weighted mean of min-max-normalized human and automatic scores.

Each component x is normalized to [0, 1] with its declared range [lo, hi] when both ends
are finite, otherwise with the observed min and max over the compared systems:
n = (x − lo) / (hi − lo), flipped to 1 − n when lower is better. The composite is
Σ w·n / Σ w over the weighted components. A system missing any weighted component, or a
component whose values are all equal across systems with no finite range, gets None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

S = TypeVar("S")  # how the caller names a system (an id or a name)


@dataclass(frozen=True)
class ComponentScale:
    """A component's declared range and direction."""

    value_range: tuple[float, float]
    higher_is_better: bool = True


@dataclass(frozen=True)
class CompositeResult:
    """A system's composite value with its normalized components."""

    value: float | None
    components: dict[str, float] = field(default_factory=dict)
    reason: str | None = None


def composite_scores(
    system_scores: Mapping[S, Mapping[str, float | None]],
    weights: Mapping[str, float],
    scales: Mapping[str, ComponentScale],
) -> dict[S, CompositeResult]:
    """Composite per system: Σ w_m·norm(x_m) / Σ w_m (see module doc for the normalization)."""
    if not weights or math.fsum(weights.values()) <= 0:
        return {s: CompositeResult(None, reason="no positive weights") for s in system_scores}
    bounds: dict[str, tuple[float, float] | None] = {}
    for metric in weights:
        scale = scales.get(metric, ComponentScale((-math.inf, math.inf)))
        lo, hi = scale.value_range
        if not (math.isfinite(lo) and math.isfinite(hi)):
            observed = [v for s in system_scores.values()
                        if (v := s.get(metric)) is not None and math.isfinite(v)]
            lo, hi = (min(observed), max(observed)) if observed else (0.0, 0.0)
        bounds[metric] = (lo, hi) if hi > lo else None
    results: dict[S, CompositeResult] = {}
    for system, scores in system_scores.items():
        components: dict[str, float] = {}
        reason = None
        for metric in weights:
            value, bound = scores.get(metric), bounds[metric]
            if value is None or not math.isfinite(value):
                reason = f"missing {metric}"
                break
            if bound is None:
                reason = f"{metric} has no spread to normalize"
                break
            norm = min(max((value - bound[0]) / (bound[1] - bound[0]), 0.0), 1.0)
            higher = scales.get(metric, ComponentScale((0, 0))).higher_is_better
            components[metric] = norm if higher else 1.0 - norm
        if reason:
            results[system] = CompositeResult(None, components, reason)
            continue
        total = math.fsum(weights.values())
        value = math.fsum(weights[m] * components[m] for m in weights) / total
        results[system] = CompositeResult(value, components)
    return results
