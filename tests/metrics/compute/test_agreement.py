"""Krippendorff's alpha and rater agreement, checked against krippendorff, scipy and
Krippendorff (2011). No database."""

from typing import Literal

import krippendorff
import numpy as np
import pytest
from scipy import stats

from metrics.compute import agreement
from metrics.compute.agreement import krippendorff_alpha, rater_agreement

NAN = np.nan
Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability, section C
# (observers A-D as rows, units 1-12 as columns; NaN = missing).
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)


def to_long(
    matrix: np.ndarray, unit_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raters x units matrix with NaN -> long (raters, units, values), missing left out."""
    rater_idx, unit_idx = np.nonzero(np.isfinite(matrix))
    units = unit_idx if unit_ids is None else unit_ids[unit_idx]
    return rater_idx, units, matrix[rater_idx, unit_idx]


def random_reliability_data(
    seed: int, domain: np.ndarray, n_raters: int = 6, n_units: int = 40, missing: float = 0.45
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.choice(domain, size=(n_raters, n_units))
    data[rng.random(data.shape) < missing] = NAN
    return data


def pairable_value_counts(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """value_counts (pairable units in column order x sorted values) built plainly."""
    pairable = matrix[:, np.isfinite(matrix).sum(axis=0) >= 2]
    domain = np.unique(pairable[np.isfinite(pairable)])
    value_counts = (pairable.T[:, :, np.newaxis] == domain[np.newaxis, np.newaxis, :]).sum(axis=1)
    return value_counts, domain


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_matches_krippendorff_2011_worked_example(level: Level, published: float) -> None:
    # given the published 4-observer x 12-unit reliability data in long format
    _, units, values = to_long(KRIPPENDORFF_2011)

    # when
    result = krippendorff_alpha(units, values, level, n_boot=0)

    # then alpha is the published value; unit 12 (one value) is not pairable, n.. = 40
    assert result.alpha == pytest.approx(published, abs=0.001)
    assert result.level == level
    assert (result.units, result.values) == (11, 40)
    assert result.reason == "n_boot is 0; no interval"


@pytest.mark.parametrize("route", ["library", "sparse"])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    ("seed", "domain"),
    [
        (1, np.arange(1.0, 6.0)),
        (2, np.array([0.5, 1.0, 2.5, 4.0, 7.25])),
        (3, np.array([0.0, 1.0])),
        (4, np.linspace(0.0, 100.0, 101)),
    ],
)
def test_alpha_equals_library_on_reliability_data_with_missing_values(
    monkeypatch: pytest.MonkeyPatch, route: str, level: Level, seed: int, domain: np.ndarray
) -> None:
    # given random ratings with missing values and non-contiguous unit ids
    matrix = random_reliability_data(seed, domain)
    _, units, values = to_long(matrix, unit_ids=1000 + 7 * np.arange(matrix.shape[1]))
    if route == "sparse":
        monkeypatch.setattr(agreement, "_DENSE_BUDGET", 0)

    # when
    result = krippendorff_alpha(units, values, level, n_boot=0)

    # then it equals the library run on the raters x units matrix
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    assert result.alpha == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert result.units == int((np.isfinite(matrix).sum(axis=0) >= 2).sum())
    pairable = np.isfinite(matrix).sum(axis=0) >= 2
    assert result.values == int(np.isfinite(matrix[:, pairable]).sum())


@pytest.mark.parametrize("level", LEVELS)
def test_bootstrap_interval_is_percentile_of_library_alpha_on_resampled_units(level: Level) -> None:
    # given
    matrix = random_reliability_data(5, np.arange(1.0, 6.0), n_raters=4, n_units=25, missing=0.3)
    _, units, values = to_long(matrix)
    n_boot, seed = 300, 11

    # when
    result = krippendorff_alpha(
        units, values, level, n_boot=n_boot, confidence=0.9, rng=np.random.default_rng(seed)
    )

    # then the interval is the 5th/95th percentile of krippendorff.alpha over rows of
    # value_counts resampled with replacement; the resampled row indices are drawn as
    # rng.integers(0, units, size=(n_boot, units)), the same stream the function uses.
    value_counts, domain = pairable_value_counts(matrix)
    idx = np.random.default_rng(seed).integers(
        0, len(value_counts), size=(n_boot, len(value_counts))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = np.array(
            [
                krippendorff.alpha(
                    value_counts=value_counts[rows], value_domain=domain, level_of_measurement=level
                )
                for rows in idx
            ]
        )
    low, high = np.quantile(boot[np.isfinite(boot)], [0.05, 0.95])
    assert result.ci_low == pytest.approx(low, rel=1e-9)
    assert result.ci_high == pytest.approx(high, rel=1e-9)
    assert result.reason is None


def test_bootstrap_in_blocks_draws_the_same_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    _, units, values = to_long(KRIPPENDORFF_2011)
    whole = krippendorff_alpha(units, values, "ordinal", n_boot=50, rng=np.random.default_rng(3))

    # when the resamples are processed a few at a time
    monkeypatch.setattr(agreement, "_BLOCK_BUDGET", 3 * 11)
    blocks = krippendorff_alpha(units, values, "ordinal", n_boot=50, rng=np.random.default_rng(3))

    # then
    assert blocks.ci_low == pytest.approx(whole.ci_low, rel=1e-12)
    assert blocks.ci_high == pytest.approx(whole.ci_high, rel=1e-12)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    ("units", "values", "reason", "n_units", "n_values"),
    [
        pytest.param([], [], agreement.REASON_NO_PAIRABLE, 0, 0, id="no ratings"),
        pytest.param(
            [0, 1, 2], [1.0, 2.0, 3.0], agreement.REASON_NO_PAIRABLE, 0, 0, id="one rater"
        ),
        pytest.param([4, 4], [1.0, NAN], agreement.REASON_NO_PAIRABLE, 0, 0, id="missing value"),
        pytest.param(
            [0, 0, 1, 1, 1, 2], [3.0] * 6, agreement.REASON_IDENTICAL, 2, 5, id="identical labels"
        ),
    ],
)
def test_alpha_is_undefined_with_a_reason(
    level: Level, units: list[int], values: list[float], reason: str, n_units: int, n_values: int
) -> None:
    # when
    result = krippendorff_alpha(np.array(units, dtype=int), np.array(values), level)

    # then
    assert result.alpha is None
    assert (result.ci_low, result.ci_high) == (None, None)
    assert result.reason == reason
    assert (result.units, result.values) == (n_units, n_values)


def test_alpha_is_undefined_when_library_expected_disagreement_is_zero() -> None:
    # given ratio data whose only values sum to zero (the library's ratio distance is 0)
    matrix = np.array([[-1.0, 1.0], [1.0, -1.0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ratio")
    _, units, values = to_long(matrix)

    # when
    result = krippendorff_alpha(units, values, "ratio")

    # then
    assert np.isnan(expected)
    assert result.alpha is None
    assert result.reason == "expected disagreement is zero under the ratio metric"


def test_one_pairable_unit_has_alpha_but_no_interval() -> None:
    # given one unit rated twice plus units rated once
    matrix = np.array([[1.0, 2.0, NAN], [2.0, NAN, 5.0]])
    _, units, values = to_long(matrix)

    # when
    result = krippendorff_alpha(units, values, "interval")

    # then
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    assert result.alpha == pytest.approx(expected)
    assert (result.units, result.values) == (1, 2)
    assert (result.ci_low, result.ci_high) == (None, None)
    assert result.reason == "fewer than two pairable units; no interval"


def test_alpha_interval_reproduces_with_default_rng() -> None:
    # given
    _, units, values = to_long(KRIPPENDORFF_2011)

    # when
    first = krippendorff_alpha(units, values, "nominal", n_boot=100)
    second = krippendorff_alpha(units, values, "nominal", n_boot=100)

    # then
    assert first == second
    assert first.ci_low is not None and first.ci_high is not None
    assert first.ci_low <= first.ci_high


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "likert"}, "level must be one of"),
        ({"level": "nominal", "n_boot": -1}, "n_boot"),
        ({"level": "nominal", "confidence": 1.0}, "confidence"),
    ],
)
def test_alpha_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        krippendorff_alpha(np.array([0, 0]), np.array([1.0, 2.0]), **kwargs)  # type: ignore[arg-type]


def rater_agreement_by_loop(
    matrix: np.ndarray, rater_ids: np.ndarray, min_units: int
) -> dict[int, float | None]:
    """Reference: per rater, spearmanr(own value, mean of the others) over shared units."""
    result: dict[int, float | None] = {}
    n_raters, n_units = matrix.shape
    for r in range(n_raters):
        if not np.isfinite(matrix[r]).any():
            continue
        own, others = [], []
        for u in range(n_units):
            if np.isnan(matrix[r, u]):
                continue
            other = [matrix[o, u] for o in range(n_raters) if o != r and not np.isnan(matrix[o, u])]
            if other:
                own.append(matrix[r, u])
                others.append(np.mean(other))
        if len(own) < min_units or len(set(own)) < 2 or len(set(others)) < 2:
            result[int(rater_ids[r])] = None
        else:
            result[int(rater_ids[r])] = float(stats.spearmanr(own, others).statistic)
    return result


@pytest.mark.parametrize("min_units", [3, 10, 30])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rater_agreement_matches_a_plain_spearman_loop(seed: int, min_units: int) -> None:
    # given random integer ratings with missing values, a constant rater and a silent rater
    matrix = random_reliability_data(seed, np.arange(1.0, 6.0), n_raters=7, n_units=30, missing=0.4)
    matrix[5, np.isfinite(matrix[5])] = 3.0
    matrix[6] = NAN
    rater_ids = 100 + np.arange(matrix.shape[0])
    rater_idx, units, values = to_long(matrix)

    # when
    result = rater_agreement(rater_ids[rater_idx], units, values, min_units=min_units)

    # then
    expected = rater_agreement_by_loop(matrix, rater_ids, min_units)
    assert result.keys() == expected.keys()
    for rater, rho in expected.items():
        if rho is None:
            assert result[rater] is None
        else:
            assert result[rater] == pytest.approx(rho, rel=1e-12)
    assert result[105] is None


@pytest.mark.parametrize(
    ("raters", "units", "values", "expected"),
    [
        pytest.param([], [], [], {}, id="no ratings"),
        pytest.param([1, 1, 1], [0, 1, 2], [1.0, 2.0, 3.0], {1: None}, id="one rater"),
        pytest.param(
            [1, 2, 1, 2, 1, 2],
            [0, 0, 1, 1, 2, 2],
            [1.0, 1.0, 2.0, 2.0, 3.0, NAN],
            {1: None, 2: None},
            id="missing leaves two shared units",
        ),
    ],
)
def test_rater_agreement_edge_cases(
    raters: list[int], units: list[int], values: list[float], expected: dict[int, float | None]
) -> None:
    assert (
        rater_agreement(np.array(raters, dtype=int), np.array(units, dtype=int), np.array(values))
        == expected
    )
