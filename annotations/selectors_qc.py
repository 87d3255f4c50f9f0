"""Quality-control reads: per-rater QC statistics and flags (issue 4, "Quality control").

Per rater, from a fixed handful of aggregate queries whatever the number of raters:

- controls: an imported control output (`Output.control`, criterion -> [low, high]) is
  passed when every value the rating gives to one of the control's criteria lies in its
  range; criteria the rating left empty are not judged, and a rating that gives none of them
  a value is not counted as seen. Pass rate = passed / seen.
- degraded copies (WMT's bad references, see `annotations.services.qc`): each pair is the
  rater's rating of the source output and their rating of its degraded copy, each averaged
  over the criteria both ratings scored (scale points). A pair is detected when the copy
  scores lower. The p-value is the one-sided Wilcoxon signed-rank test of original − copy
  > 0 (scipy.stats.wilcoxon, alternative="greater", zero_method="zsplit": a copy scored the
  same as its original counts half for, half against, i.e. as no evidence of telling them
  apart), the paired test WMT applies to its bad-reference pairs (Graham et al. 2017).
- repeats: mean over pairs of the mean absolute difference (over the criteria both ratings
  scored) between the rater's two ratings of the same text.
- median seconds per rating from `Rating.time_spent_ms` (ratings without a time are left
  out; imported ratings have none).

Flags need evidence: a check flags only with at least `min_qc_items` observations (and the
degraded test at least as many pairs as it needs to reach `degraded_alpha` at all: 5 at
0.05, since the smallest one-sided p-value of n pairs is 2^-n). A check the campaign uses
(it has such QC items) on which the rater has too few observations gives the note
NOT_ENOUGH instead. Thresholds come from `campaign.options["qc"]` over QC_DEFAULTS.

Value-based checks read single-output ratings only (pairwise ratings have no per-output
scores to compare).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q

from annotations.models import Campaign, CampaignMembership, Output, Rating, RatingValue
from annotations.qc_text import METHODS as DEGRADED_METHODS

QC_DEFAULTS: dict[str, float] = {
    "control_rate": 0.0, "degraded_rate": 0.0, "repeat_rate": 0.0, "min_pass_rate": 0.8,
    "min_median_seconds": 2.0, "max_repeat_diff": 1.0, "degraded_alpha": 0.05,
    "min_qc_items": 3,
}
REPEAT = "repeat"
ID_CHUNK = 2000  # output ids per query (well under SQLite's bound-parameter limit)

FLAG_CONTROLS = "fails control items"
FLAG_DEGRADED = "scores degraded outputs like the originals"
FLAG_REPEATS = "inconsistent on repeated items"
FLAG_FAST = "too fast"
NOT_ENOUGH = "not enough QC items"


@dataclass(frozen=True)
class RaterQc:
    """One rater's QC statistics in one campaign; None where there is nothing to measure.

    `ratings` counts all the rater's ratings in the campaign, QC items included (they look
    like any other item); `median_seconds` is over those with a recorded time.
    """

    rater: str
    user_id: int
    ratings: int
    median_seconds: float | None
    control_seen: int
    control_passed: int
    control_pass_rate: float | None
    degraded_pairs: int
    degraded_detected: int
    degraded_p_value: float | None
    repeat_pairs: int
    repeat_mean_abs_diff: float | None
    flags: list[str]
    excluded: bool

    @property
    def flagged(self) -> bool:
        """True when a check failed (the NOT_ENOUGH note alone is not a failure)."""
        return any(flag != NOT_ENOUGH for flag in self.flags)


def qc_settings_get(*, campaign: Campaign) -> dict[str, float]:
    """The campaign's QC thresholds: options["qc"] over QC_DEFAULTS (bad values ignored)."""
    given = (campaign.options or {}).get("qc") or {}
    settings = dict(QC_DEFAULTS)
    if isinstance(given, Mapping):
        for key in QC_DEFAULTS:
            value = given.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) \
                    and math.isfinite(value):
                settings[key] = float(value)
    settings["min_qc_items"] = max(1, int(settings["min_qc_items"]))
    return settings


# --- pure helpers (plain Python and SciPy) ----------------------------------------------------

def control_passed(values: Mapping[str, float], control: Mapping[str, Any]) -> bool | None:
    """Whether the values lie in every range of the control; None when none is scored."""
    judged = [(values[key], bounds) for key, bounds in control.items() if key in values]
    if not judged:
        return None
    return all(float(low) <= value <= float(high) for value, (low, high) in judged)


def pair_means(first: Mapping[Any, float], second: Mapping[Any, float]
               ) -> tuple[float, float, float] | None:
    """(mean of first, mean of second, mean |first − second|) over their common criteria."""
    common = [key for key in first if key in second]
    if not common:
        return None
    a = np.array([first[k] for k in common], dtype=float)
    b = np.array([second[k] for k in common], dtype=float)
    return float(a.mean()), float(b.mean()), float(np.abs(a - b).mean())


def degraded_p_value(differences: Iterable[float]) -> float | None:
    """One-sided Wilcoxon signed-rank p of original − degraded > 0; None below two pairs.

    (One pair is no test, and SciPy refuses a single zero difference.)
    """
    from scipy.stats import wilcoxon  # SciPy's import is slow; only QC reports need it

    d = np.asarray(list(differences), dtype=float)
    if d.size < 2:
        return None
    return float(wilcoxon(d, alternative="greater", zero_method="zsplit").pvalue)


def pairs_needed(alpha: float, min_items: int) -> int:
    """Pairs the one-sided signed-rank test needs before it can reject at alpha (2^-n < α)."""
    if not 0 < alpha < 1:
        return min_items
    return max(min_items, math.floor(math.log2(1 / alpha)) + 1)


# --- the queries ------------------------------------------------------------------------------

class _Median(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _rating_counts(campaign: Campaign) -> dict[int, tuple[int, int, float | None]]:
    """rater id -> (ratings, timed ratings, median seconds)."""
    ratings = Rating.objects.filter(output__item__campaign=campaign).order_by()
    if connection.vendor == "postgresql":
        rows = ratings.values("rater_id").annotate(
            n=Count("pk"), timed=Count("time_spent_ms"), median=_Median("time_spent_ms"))
        return {r["rater_id"]: (r["n"], r["timed"],
                                None if r["median"] is None else r["median"] / 1000)
                for r in rows}
    counts: dict[int, int] = defaultdict(int)
    times: dict[int, list[int]] = defaultdict(list)
    for rater_id, ms in ratings.values_list("rater_id", "time_spent_ms").iterator(5000):
        counts[rater_id] += 1
        if ms is not None:
            times[rater_id].append(ms)
    return {rater: (n, len(times[rater]),
                    float(np.median(times[rater])) / 1000 if times[rater] else None)
            for rater, n in counts.items()}


def _values_of(output_ids: list[int], *fields: str) -> Iterator[tuple[Any, ...]]:
    """Rating values of single-output ratings of these outputs, as `fields` tuples.

    The outputs are given as ids (a few thousand QC outputs at most), in chunks, so the
    database looks ratings up by output whatever its statistics say about the tables.
    """
    for start in range(0, len(output_ids), ID_CHUNK):
        chunk = output_ids[start:start + ID_CHUNK]
        yield from (RatingValue.objects
                    .filter(rating__output_id__in=chunk, rating__output_b__isnull=True)
                    .values_list(*fields).iterator(5000))


def _control_stats(campaign: Campaign) -> dict[int, tuple[int, int]]:
    """rater id -> (control ratings seen, passed)."""
    controls: dict[int, dict[str, Any]] = {
        pk: control for pk, control in
        Output.objects.filter(item__campaign=campaign, control__isnull=False)
        .values_list("pk", "control") if control is not None}
    ratings: dict[int, tuple[int, dict[str, Any], dict[str, float]]] = {}
    for rater_id, rating_id, output_id, key, value in _values_of(
            list(controls), "rating__rater_id", "rating_id", "rating__output_id",
            "criterion__key", "value"):
        ratings.setdefault(rating_id, (rater_id, controls[output_id], {}))[2][key] = value
    stats: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for rater_id, control, values in ratings.values():
        passed = control_passed(values, control)
        if passed is not None:
            stats[rater_id][0] += 1
            stats[rater_id][1] += int(passed)
    return {rater: (seen, passed) for rater, (seen, passed) in stats.items()}


@dataclass(frozen=True)
class _Pairs:
    degraded: dict[int, list[float]]  # rater id -> original − degraded, per pair
    repeats: dict[int, list[float]]  # rater id -> mean |first − second|, per pair


def _copy_pairs(campaign: Campaign) -> _Pairs:
    """Pair each rating of a QC copy with the same rater's rating of the copy's source."""
    copies = {pk: (source, method) for pk, source, method in Output.objects.filter(
        item__campaign=campaign, qc_source__isnull=False).values_list(
        "pk", "qc_source_id", "qc_method")}
    fields = ("rating__rater_id", "rating__output_id", "criterion_id", "value")
    copied: dict[tuple[int, int], dict[int, float]] = defaultdict(dict)
    for rater_id, output_id, criterion_id, value in _values_of(sorted(copies), *fields):
        copied[(rater_id, output_id)][criterion_id] = value
    sources = sorted({source for source, _ in copies.values()})
    originals: dict[tuple[int, int], dict[int, float]] = defaultdict(dict)
    for rater_id, output_id, criterion_id, value in _values_of(sources, *fields):
        originals[(rater_id, output_id)][criterion_id] = value
    pairs = _Pairs(defaultdict(list), defaultdict(list))
    for (rater_id, output_id), values in sorted(copied.items()):
        source_id, method = copies[output_id]
        means = pair_means(originals.get((rater_id, source_id), {}), values)
        if means is None:
            continue
        if method == REPEAT:
            pairs.repeats[rater_id].append(means[2])
        elif method in DEGRADED_METHODS:
            pairs.degraded[rater_id].append(means[0] - means[1])
    return pairs


def _in_use(campaign: Campaign) -> dict[str, int]:
    return Output.objects.filter(item__campaign=campaign).aggregate(
        controls=Count("pk", filter=Q(control__isnull=False)),
        degraded=Count("pk", filter=Q(qc_method__in=DEGRADED_METHODS)),
        repeats=Count("pk", filter=Q(qc_method=REPEAT)),
    )


def _raters(campaign: Campaign, rated: Mapping[int, Any]) -> dict[int, tuple[str, bool]]:
    """user id -> (username, excluded) for the campaign's raters and anyone who rated."""
    members = CampaignMembership.objects.filter(campaign=campaign).values_list(
        "user_id", "user__username", "excluded", "role")
    raters = {uid: (name, excluded) for uid, name, excluded, role in members
              if role == CampaignMembership.Role.RATER or uid in rated}
    missing = set(rated) - set(raters)
    if missing:  # ratings without a membership: never hide a rater
        raters.update({uid: (name, False) for uid, name in get_user_model().objects
                       .filter(pk__in=missing).values_list("pk", "username")})
    return raters


def qc_rater_stats(*, campaign: Campaign) -> list[RaterQc]:
    """Every rater's QC statistics and flags, ordered by username."""
    settings = qc_settings_get(campaign=campaign)
    counts = _rating_counts(campaign)
    controls = _control_stats(campaign)
    pairs = _copy_pairs(campaign)
    in_use = _in_use(campaign)
    raters = _raters(campaign, counts)
    result = [
        _rater_qc(uid, name, excluded, counts.get(uid, (0, 0, None)), controls.get(uid, (0, 0)),
                  pairs.degraded.get(uid, []), pairs.repeats.get(uid, []), in_use, settings)
        for uid, (name, excluded) in raters.items()
    ]
    return sorted(result, key=lambda r: r.rater)


def _rater_qc(uid: int, name: str, excluded: bool, counts: tuple[int, int, float | None],
              control: tuple[int, int], degraded: list[float], repeats: list[float],
              in_use: Mapping[str, int], s: Mapping[str, float]) -> RaterQc:
    ratings, timed, median = counts
    seen, passed = control
    pass_rate = passed / seen if seen else None
    p_value = degraded_p_value(degraded)
    repeat_diff = float(np.mean(repeats)) if repeats else None
    minimum = int(s["min_qc_items"])
    flags: list[str] = []
    short = False
    if seen >= minimum:
        if pass_rate is not None and pass_rate < s["min_pass_rate"]:
            flags.append(FLAG_CONTROLS)
    elif in_use["controls"]:
        short = True
    if len(degraded) >= pairs_needed(s["degraded_alpha"], minimum):
        if p_value is not None and p_value >= s["degraded_alpha"]:
            flags.append(FLAG_DEGRADED)
    elif in_use["degraded"]:
        short = True
    if len(repeats) >= minimum:
        if repeat_diff is not None and repeat_diff > s["max_repeat_diff"]:
            flags.append(FLAG_REPEATS)
    elif in_use["repeats"]:
        short = True
    if timed >= minimum and median is not None and median < s["min_median_seconds"]:
        flags.append(FLAG_FAST)
    if short:
        flags.append(NOT_ENOUGH)
    return RaterQc(
        rater=name, user_id=uid, ratings=ratings, median_seconds=median, control_seen=seen,
        control_passed=passed, control_pass_rate=pass_rate, degraded_pairs=len(degraded),
        degraded_detected=sum(d > 0 for d in degraded), degraded_p_value=p_value,
        repeat_pairs=len(repeats), repeat_mean_abs_diff=repeat_diff, flags=flags,
        excluded=excluded,
    )
