"""Score statistics: per-rater z-scores, cluster-bootstrap means, paired tests, correlations.

Non-finite values are treated as missing throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import stats

# Clustered resample indices (resamples x clusters) held in memory at once by scipy.
_BATCH_BUDGET: Final = 1 << 22

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MeanCI:
    """Mean of all ratings with a cluster-bootstrap percentile interval."""

    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    reason: str | None


@dataclass(frozen=True)
class PairedTest:
    """Mean paired difference with a two-sided test's p-value."""

    delta: float | None
    p_value: float | None
    n: int
    test: str
    reason: str | None


@dataclass(frozen=True)
class Correlation:
    """Pearson, Spearman and Kendall correlations of paired values."""

    pearson: float | None
    spearman: float | None
    kendall: float | None
    n: int
    reason: str | None


def _same_length_1d(*arrays: np.ndarray) -> None:
    if any(a.ndim != 1 for a in arrays) or len({a.shape for a in arrays}) > 1:
        raise ValueError("inputs must be 1-D arrays of the same length")


def z_normalize(raters: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-rater z-scores: (value - rater mean) / rater population std, as scipy.stats.zscore.

    z = (x - mean_r) / std_r with ddof=0 over the rater's own finite values. Missing data:
    non-finite values stay NaN and are left out of their rater's mean and std; every value
    of a rater with a single rating or with identical ratings (std 0) is NaN.
    """
    rater_arr = np.asarray(raters)
    value_arr = np.asarray(values, dtype=np.float64)
    _same_length_1d(rater_arr, value_arr)
    out = np.full(value_arr.shape, np.nan)
    keep = np.flatnonzero(np.isfinite(value_arr))
    if keep.size == 0:
        return out
    _, idx = np.unique(rater_arr[keep], return_inverse=True)
    vals = value_arr[keep]
    count = np.bincount(idx)
    mean = np.bincount(idx, weights=vals) / count
    std = np.sqrt(np.bincount(idx, weights=(vals - mean[idx]) ** 2) / count)
    # Decide "constant" on the raw values: a rounded mean can leave a tiny non-zero std.
    order = np.argsort(idx, kind="stable")
    starts = np.concatenate(([0], np.cumsum(count)[:-1]))
    constant = np.minimum.reduceat(vals[order], starts) == np.maximum.reduceat(vals[order], starts)
    defined = ~constant[idx]
    out[keep[defined]] = (vals[defined] - mean[idx][defined]) / std[idx][defined]
    return out


def _ratio_of_sums(sums: FloatArray, counts: FloatArray, axis: int = -1) -> FloatArray:
    ratio: FloatArray = np.sum(sums, axis=axis) / np.sum(counts, axis=axis)
    return ratio


def bootstrap_mean_ci(
    values: np.ndarray,
    clusters: np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> MeanCI:
    """Mean of all values with a cluster-bootstrap percentile CI (clusters resampled whole).

    mean = sum(x) / n; CI: scipy.stats.bootstrap over clusters (paired per-cluster sums and
    counts, statistic sum(sums) / sum(counts)), so the ratings of one cluster (e.g. one
    output) are kept together (Davison & Hinkley 1997, hierarchical data). Missing data: non-finite
    values are dropped. n 0: all None; one cluster: mean only. rng None means a fixed seed
    (0), so reports reproduce.
    """
    value_arr = np.asarray(values, dtype=np.float64)
    cluster_arr = np.asarray(clusters)
    _same_length_1d(value_arr, cluster_arr)
    keep = np.isfinite(value_arr)
    value_arr, cluster_arr = value_arr[keep], cluster_arr[keep]
    n = int(value_arr.size)
    if n == 0:
        return MeanCI(None, None, None, 0, "no ratings")
    _, idx = np.unique(cluster_arr, return_inverse=True)
    sums = np.bincount(idx, weights=value_arr).astype(np.float64, copy=False)
    counts = np.bincount(idx).astype(np.float64)
    mean = float(_ratio_of_sums(sums, counts))
    if sums.size < 2:
        return MeanCI(mean, None, None, n, "one output only; no interval")
    if n_resamples < 1:
        return MeanCI(mean, None, None, n, "n_resamples is 0; no interval")
    # Batching only bounds memory: scipy draws from the generator in the same order.
    batch = max(1, _BATCH_BUDGET // sums.size)
    result = stats.bootstrap(
        (sums, counts),
        _ratio_of_sums,
        paired=True,
        vectorized=True,
        method="percentile",
        confidence_level=confidence,
        n_resamples=n_resamples,
        batch=batch if batch < n_resamples else None,
        rng=rng if rng is not None else np.random.default_rng(0),
    )
    interval = result.confidence_interval
    return MeanCI(mean, float(interval.low), float(interval.high), n, None)


def paired_difference_test(a: np.ndarray, b: np.ndarray) -> PairedTest:
    """Mean paired difference mean(a - b) and the two-sided Wilcoxon signed-rank p-value.

    p from scipy.stats.wilcoxon(a, b, zero_method="pratt"): Pratt (1959) ranks the zero
    differences (ties are common between per-item means on a rating scale) and then drops
    their ranks, instead of discarding them before ranking as "wilcox" does. Missing data:
    pairs with a non-finite side are dropped. p None when fewer than 2 pairs remain or every
    difference is zero (the signed-rank statistic is then undefined).
    Method as R's wilcox.test: the exact null distribution when n ≤ 50 with no zero and no
    tied |differences|, else the normal approximation with tie correction (scipy's permutation
    fallback for small tied samples takes about a second per call, too slow for a report).
    """
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    _same_length_1d(a_arr, b_arr)
    keep = np.isfinite(a_arr) & np.isfinite(b_arr)
    a_arr, b_arr = a_arr[keep], b_arr[keep]
    n = int(a_arr.size)
    if n == 0:
        return PairedTest(None, None, 0, "wilcoxon", "no paired values")
    diff = a_arr - b_arr
    delta = float(np.mean(diff))
    if n < 2:
        return PairedTest(delta, None, n, "wilcoxon", "fewer than two pairs; no test")
    if not np.any(diff):
        return PairedTest(delta, None, n, "wilcoxon", "all paired differences are zero; no test")
    p_value = float(
        stats.wilcoxon(a_arr, b_arr, zero_method="pratt", method=wilcoxon_method(diff)).pvalue
    )
    return PairedTest(delta, p_value, n, "wilcoxon", None)


def unpaired_difference_test(a: np.ndarray, b: np.ndarray) -> PairedTest:
    """Difference of means mean(a) - mean(b) and the two-sided Mann–Whitney U p-value.

    For systems judged on different inputs, where no pairing exists (scipy.stats.mannwhitneyu,
    its default method: exact for small untied samples, else the normal approximation).
    Missing data: non-finite values are dropped. p None when either side has fewer than 2
    values or all values are equal.
    """
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    a_arr, b_arr = a_arr[np.isfinite(a_arr)], b_arr[np.isfinite(b_arr)]
    n = int(min(a_arr.size, b_arr.size))
    test = "mann-whitney"
    if a_arr.size == 0 or b_arr.size == 0:
        return PairedTest(None, None, n, test, "no values on one side")
    delta = float(a_arr.mean() - b_arr.mean())
    if n < 2:
        return PairedTest(delta, None, n, test, "fewer than two values on one side; no test")
    if np.ptp(np.concatenate([a_arr, b_arr])) == 0:
        return PairedTest(delta, None, n, test, "all values are equal; no test")
    p_value = float(stats.mannwhitneyu(a_arr, b_arr, alternative="two-sided").pvalue)
    return PairedTest(delta, p_value, n, test, None)


def wilcoxon_method(diff: np.ndarray) -> str:
    """"exact" for n ≤ 50 untied, non-zero differences; "approx" otherwise (as R does)."""
    magnitudes = np.abs(diff)
    untied = np.unique(magnitudes).size == magnitudes.size
    return "exact" if diff.size <= 50 and untied and np.all(magnitudes > 0) else "approx"


def correlations(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Pearson's r, Spearman's rho and Kendall's tau-b of x and y (scipy.stats).

    Computed by scipy.stats.pearsonr, spearmanr and kendalltau over the pairs where both
    values are finite (missing data: other pairs are dropped); all None when fewer than
    3 pairs remain or either side is constant.
    """
    x_arr = np.asarray(x, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    _same_length_1d(x_arr, y_arr)
    keep = np.isfinite(x_arr) & np.isfinite(y_arr)
    x_arr, y_arr = x_arr[keep], y_arr[keep]
    n = int(x_arr.size)
    if n < 3:
        return Correlation(None, None, None, n, "fewer than three paired values")
    if np.ptp(x_arr) == 0 or np.ptp(y_arr) == 0:
        side = "x" if np.ptp(x_arr) == 0 else "y"
        return Correlation(None, None, None, n, f"{side} is constant; correlation is undefined")
    return Correlation(
        pearson=float(stats.pearsonr(x_arr, y_arr).statistic),
        spearman=float(stats.spearmanr(x_arr, y_arr).statistic),
        kendall=float(stats.kendalltau(x_arr, y_arr).statistic),
        n=n,
        reason=None,
    )
