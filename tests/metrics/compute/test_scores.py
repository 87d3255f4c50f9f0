"""Score statistics checked against scipy.stats and numpy. No database."""

from collections import defaultdict

import numpy as np
import pytest
from scipy import stats

from metrics.compute import scores
from metrics.compute.scores import (
    bootstrap_mean_ci,
    correlations,
    paired_difference_test,
    unpaired_difference_test,
    z_normalize,
)

NAN = np.nan


def test_z_normalize_matches_scipy_zscore_per_rater() -> None:
    # given raters 0-3 with varied ratings, rater 4 constant, rater 5 with one rating, a NaN
    rng = np.random.default_rng(0)
    raters = np.concatenate([rng.integers(0, 4, 200), [4, 4, 4, 5]])
    values = np.concatenate([rng.integers(1, 8, 200).astype(float), [0.1, 0.1, 0.1, 2.0]])
    values[7] = NAN
    order = rng.permutation(raters.size)
    raters, values = raters[order], values[order]

    # when
    z = z_normalize(raters, values)

    # then
    for rater in np.unique(raters):
        mine = raters == rater
        finite = mine & np.isfinite(values)
        if rater in (4, 5):
            assert np.isnan(z[mine]).all()
        else:
            assert z[finite] == pytest.approx(stats.zscore(values[finite]), rel=1e-12, abs=1e-12)
    assert np.isnan(z[~np.isfinite(values)]).all()


@pytest.mark.parametrize(
    ("raters", "values"),
    [
        pytest.param([], [], id="empty"),
        pytest.param([1], [3.0], id="one rating"),
        pytest.param([1, 2], [NAN, NAN], id="all missing"),
    ],
)
def test_z_normalize_is_nan_when_undefined(raters: list[int], values: list[float]) -> None:
    z = z_normalize(np.array(raters, dtype=int), np.array(values))
    assert z.shape == (len(values),)
    assert np.isnan(z).all()


def ratio_of_sums(sums: np.ndarray, counts: np.ndarray, axis: int = -1) -> np.ndarray:
    ratio: np.ndarray = sums.sum(axis=axis) / counts.sum(axis=axis)
    return ratio


def test_bootstrap_mean_ci_equals_scipy_cluster_bootstrap() -> None:
    # given ratings clustered by output
    rng = np.random.default_rng(1)
    clusters = rng.integers(0, 40, 200)
    values = rng.integers(1, 6, 200).astype(float)
    per_cluster: dict[int, list[float]] = defaultdict(list)
    for cluster, value in zip(clusters, values, strict=True):
        per_cluster[int(cluster)].append(float(value))
    sums = np.array([sum(per_cluster[c]) for c in sorted(per_cluster)])
    counts = np.array([len(per_cluster[c]) for c in sorted(per_cluster)], dtype=float)

    # when
    result = bootstrap_mean_ci(
        values, clusters, n_resamples=500, confidence=0.9, rng=np.random.default_rng(7)
    )

    # then
    expected = stats.bootstrap(
        (sums, counts),
        ratio_of_sums,
        paired=True,
        vectorized=True,
        method="percentile",
        confidence_level=0.9,
        n_resamples=500,
        rng=np.random.default_rng(7),
    ).confidence_interval
    assert result.mean == pytest.approx(np.mean(values))
    assert result.ci_low == pytest.approx(expected.low, rel=1e-12)
    assert result.ci_high == pytest.approx(expected.high, rel=1e-12)
    assert (result.n, result.reason) == (200, None)


def test_bootstrap_mean_ci_with_one_value_per_cluster_is_the_plain_bootstrap() -> None:
    # given one rating per cluster, clusters in the order of the values
    values = np.random.default_rng(2).normal(3.0, 1.0, 60)

    # when
    result = bootstrap_mean_ci(values, np.arange(60), n_resamples=999, rng=np.random.default_rng(3))

    # then it equals scipy's plain bootstrap of the mean: paired resampling draws the
    # index array with the same rng.integers(0, n, (n_resamples, n)) call as one sample
    # does, so the resamples are identical and only summation order differs.
    expected = stats.bootstrap(
        (values,), np.mean, method="percentile", n_resamples=999, rng=np.random.default_rng(3)
    ).confidence_interval
    assert result.ci_low == pytest.approx(expected.low, rel=1e-12)
    assert result.ci_high == pytest.approx(expected.high, rel=1e-12)


def test_bootstrap_mean_ci_in_batches_matches_unbatched(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    rng = np.random.default_rng(4)
    values, clusters = rng.normal(size=300), rng.integers(0, 100, 300)
    whole = bootstrap_mean_ci(values, clusters, n_resamples=200, rng=np.random.default_rng(5))

    # when scipy is asked to draw the resamples in batches
    monkeypatch.setattr(scores, "_BATCH_BUDGET", 7 * 100)
    batched = bootstrap_mean_ci(values, clusters, n_resamples=200, rng=np.random.default_rng(5))

    # then
    assert batched == whole


def test_bootstrap_mean_ci_of_constant_values_is_a_point() -> None:
    result = bootstrap_mean_ci(np.full(30, 3.7), np.arange(30) % 7)
    assert result.mean == pytest.approx(3.7)
    assert result.ci_low == pytest.approx(3.7)
    assert result.ci_high == pytest.approx(3.7)


@pytest.mark.parametrize(
    ("values", "clusters", "mean", "n", "reason"),
    [
        pytest.param([], [], None, 0, "no ratings", id="no ratings"),
        pytest.param([NAN, NAN], [1, 2], None, 0, "no ratings", id="all missing"),
        pytest.param(
            [2.0, 4.0, NAN], [9, 9, 8], 3.0, 2, "one output only; no interval", id="one output"
        ),
    ],
)
def test_bootstrap_mean_ci_undefined_parts(
    values: list[float], clusters: list[int], mean: float | None, n: int, reason: str
) -> None:
    result = bootstrap_mean_ci(np.array(values), np.array(clusters, dtype=int))
    assert result.mean == (None if mean is None else pytest.approx(mean))
    assert (result.ci_low, result.ci_high, result.n, result.reason) == (None, None, n, reason)


@pytest.mark.parametrize("n", [8, 12, 40, 200])
def test_paired_difference_test_matches_scipy_wilcoxon(n: int) -> None:
    # given per-item mean scores on a rating scale, with ties and zero differences
    rng = np.random.default_rng(n)
    a = rng.integers(1, 6, n) / 2
    b = rng.integers(1, 6, n) / 2

    # when
    result = paired_difference_test(a, b)

    # then
    expected = stats.wilcoxon(a, b, zero_method="pratt", method="approx")
    assert result.delta == pytest.approx(np.mean(a - b))
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert (result.n, result.test, result.reason) == (n, "wilcoxon", None)


def test_paired_difference_test_drops_pairs_with_a_missing_side() -> None:
    a = np.array([1.0, 2.0, NAN, 4.0, 5.0, 3.5])
    b = np.array([2.0, 1.0, 3.0, 1.0, NAN, 1.0])
    keep = np.isfinite(a) & np.isfinite(b)
    result = paired_difference_test(a, b)
    assert result.n == 4
    assert result.delta == pytest.approx(np.mean(a[keep] - b[keep]))
    assert result.p_value == pytest.approx(
        # |differences| 1, 1, 3, 2.5 are tied, so the normal approximation applies
        stats.wilcoxon(a[keep], b[keep], zero_method="pratt", method="approx").pvalue
    )


def test_untied_small_samples_use_the_exact_distribution() -> None:
    # given 10 distinct non-zero differences: the exact null distribution applies
    a = np.arange(1.0, 11.0) + np.array([0.3, -1.1, 2.2, 0.5, -0.7, 1.9, 0.05, 3.1, -2.6, 0.9])
    b = np.arange(1.0, 11.0)
    result = paired_difference_test(a, b)
    assert result.p_value == pytest.approx(stats.wilcoxon(a, b, method="exact").pvalue)


@pytest.mark.parametrize(
    ("a", "b", "delta", "n", "reason"),
    [
        pytest.param([], [], None, 0, "no paired values", id="no pairs"),
        pytest.param([3.0], [1.0], 2.0, 1, "fewer than two pairs; no test", id="one pair"),
        pytest.param(
            [2.0, 3.0, 4.0],
            [2.0, 3.0, 4.0],
            0.0,
            3,
            "all paired differences are zero; no test",
            id="all differences zero",
        ),
    ],
)
def test_paired_difference_test_undefined_p_value(
    a: list[float], b: list[float], delta: float | None, n: int, reason: str
) -> None:
    result = paired_difference_test(np.array(a), np.array(b))
    assert result.delta == delta
    assert (result.p_value, result.n, result.test, result.reason) == (None, n, "wilcoxon", reason)


def test_correlations_match_scipy_on_finite_pairs() -> None:
    # given
    rng = np.random.default_rng(6)
    x = rng.normal(size=80)
    y = np.round(x + rng.normal(size=80))
    x[3], y[10] = NAN, np.inf
    keep = np.isfinite(x) & np.isfinite(y)

    # when
    result = correlations(x, y)

    # then
    assert result.pearson == pytest.approx(stats.pearsonr(x[keep], y[keep]).statistic)
    assert result.spearman == pytest.approx(stats.spearmanr(x[keep], y[keep]).statistic)
    assert result.kendall == pytest.approx(stats.kendalltau(x[keep], y[keep]).statistic)
    assert (result.n, result.reason) == (78, None)


@pytest.mark.parametrize(
    ("x", "y", "n", "reason"),
    [
        pytest.param([], [], 0, "fewer than three paired values", id="empty"),
        pytest.param(
            [1.0, 2.0, NAN], [1.0, 3.0, 2.0], 2, "fewer than three paired values", id="two"
        ),
        pytest.param(
            [2.0, 2.0, 2.0],
            [1.0, 3.0, 2.0],
            3,
            "x is constant; correlation is undefined",
            id="constant x",
        ),
        pytest.param(
            [1.0, 2.0, 3.0],
            [5.0, 5.0, 5.0],
            3,
            "y is constant; correlation is undefined",
            id="constant y",
        ),
    ],
)
def test_correlations_undefined(x: list[float], y: list[float], n: int, reason: str) -> None:
    result = correlations(np.array(x), np.array(y))
    assert (result.pearson, result.spearman, result.kendall) == (None, None, None)
    assert (result.n, result.reason) == (n, reason)


def test_unpaired_difference_test_matches_scipy_mannwhitneyu() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(1, 6, 30).astype(float)
    b = rng.integers(1, 6, 25).astype(float) - 0.5
    result = unpaired_difference_test(a, b)
    assert result.delta == pytest.approx(a.mean() - b.mean())
    assert result.p_value == pytest.approx(
        stats.mannwhitneyu(a, b, alternative="two-sided").pvalue, rel=1e-12)
    assert (result.n, result.test, result.reason) == (25, "mann-whitney", None)


@pytest.mark.parametrize(("a", "b", "reason"), [
    ([], [1.0, 2.0], "no values on one side"),
    ([1.0], [1.0, 2.0], "fewer than two values on one side; no test"),
    ([2.0, 2.0], [2.0, 2.0, 2.0], "all values are equal; no test"),
])
def test_unpaired_difference_test_undefined_cases(a, b, reason) -> None:
    assert unpaired_difference_test(np.array(a), np.array(b)).reason == reason
