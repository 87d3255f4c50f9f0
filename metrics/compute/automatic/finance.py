"""Finance metrics over each output's `returns` (simple period returns, e.g. 0.01 = +1%).

Per-output values are segments; the system value is their mean over outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from metrics.compute.automatic.base import (
    MetricOptions,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    library_versions,
    missing,
    segment_mean,
    segments_at,
)


def sharpe_ratio(returns: Sequence[float], risk_free: float = 0.0,
                 periods_per_year: float = 1.0) -> float | None:
    """Sharpe (1966): mean(r − r_f) / std(r − r_f, ddof=1) × √periods_per_year.

    None with fewer than two returns or zero volatility.
    """
    excess = np.asarray(returns, dtype=float) - risk_free
    if excess.size < 2:
        return None
    std = float(np.std(excess, ddof=1))
    if std == 0.0 or not math.isfinite(std):
        return None
    return float(np.mean(excess) / std * math.sqrt(periods_per_year))


def max_drawdown(returns: Sequence[float]) -> float | None:
    """Largest peak-to-trough loss of wealth W_t = Π(1 + r) from W_0 = 1: max(1 − W_t / peak_t)."""
    if len(returns) == 0:
        return None
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + np.asarray(returns, dtype=float))])
    peak = np.maximum.accumulate(wealth)
    return float(np.max(1.0 - wealth / peak))


def _usable(records: Sequence[OutputRecord]) -> tuple[list[int], str | None]:
    if not records:
        return [], "no outputs"
    idx = [i for i, r in enumerate(records) if r.returns]
    return idx, None if idx else "no returns"


def sharpe(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Mean over outputs of sharpe_ratio(returns, options.risk_free, options.periods_per_year)."""
    idx, reason = _usable(records)
    if reason:
        return missing("sharpe", reason, len(records))
    segments = segments_at(len(records), idx, lambda i: sharpe_ratio(
        records[i].returns or (), options.risk_free, options.periods_per_year))
    value = segment_mean(segments)
    return MetricResult(
        name="sharpe", value=value, segments=tuple(segments),
        details={"risk_free": options.risk_free, "periods_per_year": options.periods_per_year,
                 "versions": library_versions("numpy")},
        reason=None if value is not None else "Sharpe undefined: constant or too short returns",
    )


def drawdown(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Mean over outputs of max_drawdown(returns) (0–1, lower is better)."""
    idx, reason = _usable(records)
    if reason:
        return missing("max_drawdown", reason, len(records))
    segments = segments_at(len(records), idx, lambda i: max_drawdown(records[i].returns or ()))
    return MetricResult(name="max_drawdown", value=segment_mean(segments),
                        segments=tuple(segments), details={"versions": library_versions("numpy")})


RETURNS = frozenset({Need.RETURNS})
SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("sharpe", RETURNS, (-math.inf, math.inf), True, True, sharpe),
    MetricSpec("max_drawdown", RETURNS, (0.0, 1.0), False, True, drawdown),
)
