"""Pairwise (A/B) judgments: wins, losses and ties per system pair, win rates and sign tests.

Codes: a judgment's choice is 1 (A preferred), -1 (B preferred), 0 (tie); any other code
(no choice recorded) is left out. Win rate counts a tie as half a win:
(wins + ties / 2) / judgments. Its 95% interval is scipy.stats.bootstrap's percentile
interval over the judgments (each scored 1, 0 or 0.5, in the order wins, losses, ties,
so a seeded generator reproduces it). The pair test is the two-sided exact
sign test, scipy.stats.binomtest(wins, wins + losses, 0.5), ties dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

WIN_RATE_METHOD = ("ties count half; 95% CI: percentile bootstrap over judgments "
                   "(scipy.stats.bootstrap)")
PAIR_TEST = "two-sided exact sign test (scipy.stats.binomtest), ties dropped"


@dataclass(frozen=True)
class PairCounts:
    """Judgments between two systems, from the first system's side."""

    first: int
    second: int
    wins: int
    losses: int
    ties: int

    @property
    def judgments(self) -> int:
        return self.wins + self.losses + self.ties


@dataclass(frozen=True)
class WinRate:
    """(wins + ties/2) / judgments with a bootstrap interval; None with a reason if undefined."""

    win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    reason: str | None


@dataclass(frozen=True)
class SignTest:
    """Two-sided exact binomial test of wins against losses (p = 0.5), ties dropped."""

    p_value: float | None
    n: int
    reason: str | None


def pair_counts(system_a: np.ndarray, system_b: np.ndarray, choice: np.ndarray,
                order: Sequence[int]) -> list[PairCounts]:
    """Counts for every pair of `order` (the first system is the earlier one in `order`).

    A judgment is turned to the earlier system's side whatever side it was shown on;
    judgments without a choice code, or of a system against itself, are left out.
    """
    position = {system: index for index, system in enumerate(order)}
    counts: dict[tuple[int, int], list[int]] = {
        (a, b): [0, 0, 0] for i, a in enumerate(order) for b in order[i + 1:]
    }
    for a, b, code in zip(system_a.tolist(), system_b.tolist(), choice.tolist(), strict=True):
        if code not in (1, -1, 0) or a == b or a not in position or b not in position:
            continue
        if position[a] > position[b]:
            a, b, code = b, a, -code
        entry = counts[(a, b)]
        entry[0 if code == 1 else 1 if code == -1 else 2] += 1
    return [PairCounts(a, b, *entry) for (a, b), entry in counts.items()]


def win_rate_ci(wins: int, losses: int, ties: int, *, n_resamples: int,
                rng: np.random.Generator, confidence: float = 0.95) -> WinRate:
    """Win rate with ties as half a win, and its percentile bootstrap interval (see module)."""
    n = wins + losses + ties
    if n == 0:
        return WinRate(None, None, None, "no judgments")
    scores = np.concatenate([np.ones(wins), np.zeros(losses), np.full(ties, 0.5)])
    rate = float(scores.mean())
    if n < 2:
        return WinRate(rate, None, None, "interval undefined: a single judgment")
    interval = stats.bootstrap(
        (scores,), np.mean, confidence_level=confidence, method="percentile",
        n_resamples=n_resamples, rng=rng,
    ).confidence_interval
    return WinRate(rate, float(interval.low), float(interval.high), None)


def sign_test(wins: int, losses: int) -> SignTest:
    """p-value of scipy.stats.binomtest(wins, wins + losses, 0.5), two-sided."""
    n = wins + losses
    if n == 0:
        return SignTest(None, 0, "no decided judgments (only ties or none)")
    return SignTest(float(stats.binomtest(wins, n, 0.5).pvalue), n, None)
