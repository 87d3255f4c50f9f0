"""Inter-rater agreement: Krippendorff's alpha with a unit bootstrap, and rater-vs-others agreement.

Inputs are long format (one entry per rating); a missing rating is simply absent.
Non-finite values are treated as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import krippendorff
import numpy as np
import numpy.typing as npt

# Private helpers of the library (identical in krippendorff 0.8 and 0.9); see
# _alpha_from_coincidences for why they are used.
from krippendorff import krippendorff as _kd_internals
from scipy import sparse, stats

LEVELS: Final = ("nominal", "ordinal", "interval", "ratio")
_LEVELS: Final[dict[str, krippendorff.LevelOfMeasurement]] = {
    "nominal": "nominal",
    "ordinal": "ordinal",
    "interval": "interval",
    "ratio": "ratio",
}

# krippendorff.alpha(value_counts=...) allocates several units x V x V float arrays; above
# this many elements the same coincidence matrix is accumulated sparsely instead.
_DENSE_BUDGET: Final = 1 << 22
# Bootstrap weights (resamples x units) held in memory at once.
_BLOCK_BUDGET: Final = 1 << 20
# The library's distance and coincidence matrices are V x V; beyond this many distinct
# values the data is not a rating scale and alpha is reported as undefined.
_MAX_DISTINCT_VALUES: Final = 4096

REASON_NO_PAIRABLE: Final = "no unit has two or more ratings"
REASON_IDENTICAL: Final = "all pairable ratings are identical; expected disagreement is zero"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's alpha with its unit-bootstrap percentile interval."""

    alpha: float | None
    level: str
    units: int
    values: int
    ci_low: float | None
    ci_high: float | None
    reason: str | None


@dataclass(frozen=True)
class _Pairable:
    """Ratings of units with two or more values, as sparse value counts."""

    n_units: int
    n_values: int
    domain: FloatArray
    rows: IntArray  # unit index of each non-zero value count
    cols: IntArray  # value-domain index of each non-zero value count
    counts: FloatArray


def _as_long(units: npt.ArrayLike, values: npt.ArrayLike) -> tuple[np.ndarray, FloatArray]:
    unit_arr = np.asarray(units)
    value_arr = np.asarray(values, dtype=np.float64)
    if unit_arr.ndim != 1 or unit_arr.shape != value_arr.shape:
        raise ValueError("units and values must be 1-D arrays of the same length")
    keep = np.isfinite(value_arr)
    return unit_arr[keep], value_arr[keep]


def _pairable(units: np.ndarray, values: FloatArray) -> _Pairable:
    _, unit_idx, unit_sizes = np.unique(units, return_inverse=True, return_counts=True)
    keep = unit_sizes[unit_idx] >= 2
    # Renumber the surviving units 0..N-1, keeping ascending unit-id order.
    _, unit_idx = np.unique(unit_idx[keep], return_inverse=True)
    values = values[keep]
    domain, value_idx = np.unique(values, return_inverse=True)
    n_units = int(unit_idx.max()) + 1 if unit_idx.size else 0
    cells, counts = np.unique(unit_idx * max(domain.size, 1) + value_idx, return_counts=True)
    rows, cols = np.divmod(cells, max(domain.size, 1))
    return _Pairable(
        n_units=n_units,
        n_values=int(values.size),
        domain=domain,
        rows=rows,
        cols=cols,
        counts=counts.astype(np.float64),
    )


def _dense_value_counts(data: _Pairable) -> FloatArray:
    value_counts = np.zeros((data.n_units, data.domain.size))
    value_counts[data.rows, data.cols] = data.counts
    return value_counts


def _unit_coincidences(data: _Pairable) -> sparse.csr_matrix:
    """Each unit's contribution to the coincidence matrix, flattened: units x V*V.

    Krippendorff (2011), eq. for o_ck: sum over units of the number of c-k pairs in the unit
    divided by (m_u - 1); the pairs of equal values exclude a value paired with itself.
    Only the non-zero value counts of a unit are paired, so memory is sum over units of
    (distinct values in the unit)^2, never units x V x V.
    """
    v = data.domain.size
    per_unit = np.bincount(data.rows, minlength=data.n_units)
    start = np.cumsum(per_unit) - per_unit
    ratings = np.bincount(data.rows, weights=data.counts, minlength=data.n_units)
    # Pair every non-zero count with every non-zero count of the same unit (itself included).
    repeats = per_unit[data.rows]
    first = np.repeat(np.arange(data.rows.size), repeats)
    offset = np.arange(first.size) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    second = start[data.rows[first]] + offset
    unit = data.rows[first]
    pairs = data.counts[first] * data.counts[second] - np.where(
        first == second, data.counts[first], 0.0
    )
    coef = pairs / (ratings[unit] - 1.0)
    return sparse.csr_matrix(
        (coef, (unit, data.cols[first] * v + data.cols[second])), shape=(data.n_units, v * v)
    )


def _alpha_from_coincidences(o: FloatArray, domain: FloatArray, level: str) -> float:
    """Alpha = 1 - sum(o*d) / sum(e*d), finishing exactly as krippendorff.alpha does.

    The library's own expected-coincidence and distance functions are used so the level
    definitions (notably the ordinal metric, which depends on the value totals) stay the
    library's; NaN when expected disagreement is zero.
    """
    n_v = o.sum(axis=0)
    e = _kd_internals._random_coincidences(n_v)
    d: FloatArray = _kd_internals._distances(
        domain, _kd_internals._distance_metric(_LEVELS[level]), n_v
    )
    expected = float((e * d).sum())
    if not expected > 0.0:
        return float("nan")
    return 1.0 - float((o * d).sum()) / expected


def _point_alpha(data: _Pairable, unit_o: sparse.csr_matrix, level: str) -> float:
    v = data.domain.size
    if data.n_units * v * v <= _DENSE_BUDGET:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(
                krippendorff.alpha(
                    value_counts=_dense_value_counts(data),
                    value_domain=data.domain,
                    level_of_measurement=_LEVELS[level],
                )
            )
    o = np.asarray(unit_o.sum(axis=0)).reshape(v, v)
    return _alpha_from_coincidences(o, data.domain, level)


def _bootstrap_alphas(
    data: _Pairable, unit_o: sparse.csr_matrix, level: str, n_boot: int, rng: np.random.Generator
) -> FloatArray:
    """Alpha of n_boot resamples of the units (rows of value_counts) drawn with replacement.

    A resample's coincidence matrix is the resampled units' contributions summed, i.e.
    multiplicity weights times the per-unit matrix; this equals krippendorff.alpha on the
    resampled value_counts rows without building units x V x V arrays per resample.
    """
    n, v = data.n_units, data.domain.size
    block = max(1, _BLOCK_BUDGET // max(n, v * v))
    unit_o_t = unit_o.T.tocsr()
    alphas = np.empty(n_boot)
    for begin in range(0, n_boot, block):
        size = min(block, n_boot - begin)
        idx = rng.integers(0, n, size=(size, n))
        offsets = np.arange(size)[:, np.newaxis] * n
        weights = np.bincount((idx + offsets).ravel(), minlength=size * n).reshape(size, n)
        o_block = np.asarray(unit_o_t @ weights.T.astype(np.float64)).T
        for k in range(size):
            alphas[begin + k] = _alpha_from_coincidences(
                o_block[k].reshape(v, v), data.domain, level
            )
    return alphas


def krippendorff_alpha(
    units: np.ndarray,
    values: np.ndarray,
    level: str,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
) -> AlphaResult:
    """Krippendorff's alpha over long-format ratings, with a unit-bootstrap percentile CI.

    alpha = 1 - D_o / D_e (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"),
    computed by krippendorff.alpha on the units x values value_counts matrix (for large data,
    from the same coincidence matrix accumulated sparsely and finished by the library's own
    expected-coincidence and distance functions, to bound memory). Missing data:
    absent (or non-finite) ratings are skipped and units with fewer than two ratings are
    dropped; alpha is None with a reason when no unit is pairable or all pairable values are
    identical. CI: percentile interval of alpha over n_boot resamples of the pairable units
    with replacement, skipping resamples with zero expected disagreement; None when n_boot
    is 0 or fewer than two units are pairable. rng None means a fixed seed (0), so reports
    reproduce.
    """
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    if n_boot < 0:
        raise ValueError("n_boot must be >= 0")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    data = _pairable(*_as_long(units, values))

    def undefined(reason: str) -> AlphaResult:
        return AlphaResult(None, level, data.n_units, data.n_values, None, None, reason)

    if data.n_units == 0:
        return undefined(REASON_NO_PAIRABLE)
    if data.domain.size < 2:
        return undefined(REASON_IDENTICAL)
    if data.domain.size > _MAX_DISTINCT_VALUES:
        return undefined(
            f"{data.domain.size} distinct values; alpha needs a rating scale "
            f"(at most {_MAX_DISTINCT_VALUES} distinct values)"
        )

    unit_o = _unit_coincidences(data)
    alpha = _point_alpha(data, unit_o, level)
    if not np.isfinite(alpha):
        return undefined(f"expected disagreement is zero under the {level} metric")

    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None
    if n_boot == 0:
        reason = "n_boot is 0; no interval"
    elif data.n_units < 2:
        reason = "fewer than two pairable units; no interval"
    else:
        generator = rng if rng is not None else np.random.default_rng(0)
        boot = _bootstrap_alphas(data, unit_o, level, n_boot, generator)
        boot = boot[np.isfinite(boot)]
        if boot.size == 0:
            reason = "every bootstrap resample had zero expected disagreement; no interval"
        else:
            tail = (1.0 - confidence) / 2.0
            low, high = np.quantile(boot, [tail, 1.0 - tail])
            ci_low, ci_high = float(low), float(high)
    return AlphaResult(alpha, level, data.n_units, data.n_values, ci_low, ci_high, reason)


def rater_agreement(
    raters: np.ndarray, units: np.ndarray, values: np.ndarray, *, min_units: int = 3
) -> dict[int, float | None]:
    """Per rater, Spearman's rho between their value and the mean of the other raters' values.

    rho = scipy.stats.spearmanr(own value, mean of the others' values) over the units the
    rater rated that at least one other rater also rated. Missing data: absent (or
    non-finite) ratings are skipped; a rater's repeated ratings of one unit are averaged.
    None when fewer than min_units (and at least 2) such units or either side is constant.
    """
    rater_arr = np.asarray(raters)
    unit_arr = np.asarray(units)
    value_arr = np.asarray(values, dtype=np.float64)
    if not (rater_arr.ndim == 1 and rater_arr.shape == unit_arr.shape == value_arr.shape):
        raise ValueError("raters, units and values must be 1-D arrays of the same length")
    keep = np.isfinite(value_arr)
    rater_ids, rater_idx = np.unique(rater_arr[keep], return_inverse=True)
    _, unit_idx = np.unique(unit_arr[keep], return_inverse=True)
    value_arr = value_arr[keep]
    n_units = int(unit_idx.max()) + 1 if unit_idx.size else 0

    unit_sum = np.bincount(unit_idx, weights=value_arr, minlength=n_units)
    unit_count = np.bincount(unit_idx, minlength=n_units)
    # One entry per (rater, unit), sorted by rater then unit.
    pairs, pair_idx = np.unique(rater_idx * max(n_units, 1) + unit_idx, return_inverse=True)
    pair_rater, pair_unit = np.divmod(pairs, max(n_units, 1))
    own_sum = np.bincount(pair_idx, weights=value_arr)
    own_count = np.bincount(pair_idx)
    own_mean = own_sum / own_count
    other_count = unit_count[pair_unit] - own_count
    has_other = other_count > 0
    other_mean = np.divide(
        unit_sum[pair_unit] - own_sum,
        other_count,
        out=np.full(pairs.size, np.nan),
        where=has_other,
    )

    bounds = np.searchsorted(pair_rater, np.arange(rater_ids.size + 1))
    result: dict[int, float | None] = {}
    for r, rater in enumerate(rater_ids):
        span = slice(bounds[r], bounds[r + 1])
        mask = has_other[span]
        own, others = own_mean[span][mask], other_mean[span][mask]
        rho: float | None = None
        if own.size >= max(min_units, 2) and np.ptp(own) > 0 and np.ptp(others) > 0:
            rho = float(stats.spearmanr(own, others).statistic)
        result[int(rater)] = rho
    return result
