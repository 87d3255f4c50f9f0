"""Operational metrics from per-output `latency_ms` and `tokens`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from metrics.compute.automatic.base import (
    MetricOptions,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    library_versions,
    missing,
)


def _latency_percentile(name: str, q: float
                        ) -> Callable[[Sequence[OutputRecord], MetricOptions], MetricResult]:
    def compute(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        latencies = [float(r.latency_ms) for r in records if r.latency_ms is not None]
        if not latencies:
            return missing(name, "no latencies" if records else "no outputs", len(records))
        segments = tuple(None if r.latency_ms is None else float(r.latency_ms) for r in records)
        return MetricResult(
            name=name, value=float(np.percentile(latencies, q)), segments=segments,
            details={"n": len(latencies), "percentile": q, "method": "numpy linear",
                     "versions": library_versions("numpy")},
        )

    compute.__doc__ = f"Latency p{q:g} in ms, numpy.percentile (linear interpolation)."
    return compute


def tokens_per_s(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Pooled throughput Σ tokens / Σ latency seconds over outputs having both (>0 latency)."""
    idx = [i for i, r in enumerate(records)
           if r.tokens is not None and r.latency_ms is not None and r.latency_ms > 0]
    if not idx:
        reason = "no outputs" if not records else "no token counts with latencies"
        return missing("tokens_per_s", reason, len(records))
    segments: list[float | None] = [None] * len(records)
    tokens = seconds = 0.0
    for i in idx:
        count, latency_s = float(records[i].tokens or 0), float(records[i].latency_ms or 0) / 1000
        segments[i] = count / latency_s
        tokens += count
        seconds += latency_s
    return MetricResult(name="tokens_per_s", value=tokens / seconds, segments=tuple(segments),
                        details={"tokens": tokens, "seconds": seconds, "n": len(idx)})


LATENCY = frozenset({Need.LATENCY})
SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("latency_p50_ms", LATENCY, (0.0, math.inf), False, True,
               _latency_percentile("latency_p50_ms", 50)),
    MetricSpec("latency_p95_ms", LATENCY, (0.0, math.inf), False, True,
               _latency_percentile("latency_p95_ms", 95)),
    MetricSpec("tokens_per_s", frozenset({Need.LATENCY, Need.TOKENS}), (0.0, math.inf), True,
               True, tokens_per_s),
)
