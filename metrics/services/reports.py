"""The campaign report (DESIGN.md §4): human scores with CIs, z-scores, deltas, agreement.

Quality-control outputs and the ratings of excluded raters never reach the report (the
selectors leave them out). Pairwise campaigns get a `pairwise` section (wins, losses, ties,
win rates with bootstrap intervals, sign tests, per-criterion preferences); campaigns that ask
for them get robustness (`options.robustness`) and the composite score (`composite` weights)
among each system's `metrics`.
"""

from __future__ import annotations

import math
import zlib
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from annotations.models import Campaign, Criterion, System
from metrics.compute.agreement import krippendorff_alpha, rater_agreement
from metrics.compute.automatic import (
    ComponentScale,
    OutputRecord,
    composite_scores,
    metric_get,
    robustness_delta,
)
from metrics.compute.pairwise import (
    PAIR_TEST,
    WIN_RATE_METHOD,
    PairCounts,
    pair_counts,
    sign_test,
    win_rate_ci,
)
from metrics.compute.scores import (
    bootstrap_mean_ci,
    correlations,
    paired_difference_test,
    unpaired_difference_test,
    z_normalize,
)
from metrics.selectors import (
    PairwiseTable,
    RatingTable,
    corpus_metric_values,
    criterion_list,
    excluded_rater_names,
    grouped_segments_get,
    pairwise_table_get,
    rater_names,
    rating_table_get,
    segment_metric_arrays,
    system_list_with_counts,
)

ROBUSTNESS_PREFIX = "robustness:"


def report_build(*, campaign: Campaign, now: datetime | None = None,
                 n_resamples: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Assemble the report dict for a campaign; undefined numbers are None with a reason."""
    n_resamples = settings.EVAL_BOOTSTRAP_RESAMPLES if n_resamples is None else n_resamples
    seed = settings.EVAL_BOOTSTRAP_SEED if seed is None else seed
    table = rating_table_get(campaign=campaign)
    criteria = criterion_list(campaign=campaign)
    systems = system_list_with_counts(campaign=campaign)
    baseline = next((s for s in systems if s.is_baseline), None)
    metric_values = corpus_metric_values(campaign=campaign)

    system_entries: dict[int, dict[str, Any]] = {
        s.pk: {
            "name": s.name,
            "is_baseline": s.is_baseline,
            "outputs": s.output_count,
            "attributes": s.attributes,
            "criteria": {},
            "metrics": dict(metric_values.get(s.pk, {})),
            "delta_vs_baseline": {},
        }
        for s in systems
    }
    agreement: dict[str, Any] = {}
    correlation: dict[str, Any] = {}
    segments = segment_metric_arrays(campaign=campaign)
    per_rater: dict[int, list[float]] = {}
    for criterion in criteria:
        mask = table.criterion == criterion.pk
        part = _subset(table, mask)
        z = z_normalize(part.rater, part.value)
        for system in systems:
            system_entries[system.pk]["criteria"][criterion.key] = _criterion_summary(
                part, z, system, criterion, n_resamples, seed
            )
        if baseline is not None:
            for system in systems:
                if system.pk != baseline.pk:
                    system_entries[system.pk]["delta_vs_baseline"][criterion.key] = (
                        _delta(part, system.pk, baseline.pk)
                    )
        alpha = krippendorff_alpha(
            part.output, part.value, criterion.level, n_boot=n_resamples,
            rng=np.random.default_rng([seed, _stable(criterion.key)]),
        )
        agreement[criterion.key] = _without_none_reason({
            "krippendorff_alpha": alpha.alpha, "level": alpha.level, "units": alpha.units,
            "values": alpha.values, "ci_low": alpha.ci_low, "ci_high": alpha.ci_high,
            "reason": alpha.reason,
        })
        if segments:
            correlation[criterion.key] = _metric_correlations(part, segments)
        for rater_id, score in rater_agreement(part.rater, part.output, part.value).items():
            if score is not None:
                per_rater.setdefault(rater_id, []).append(score)

    _add_robustness(campaign, systems, system_entries)
    _add_composite(campaign, criteria, system_entries)
    pairwise = None
    if campaign.kind == Campaign.Kind.PAIRWISE:
        pairwise = _pairwise(campaign, criteria, systems, n_resamples, seed)
    return {
        "campaign": campaign.slug,
        "name": campaign.name,
        "kind": campaign.kind,
        "generated_at": (now or timezone.now()).isoformat(),
        "baseline": baseline.name if baseline else None,
        "criteria": [
            {"key": c.key, "label": c.label, "min": c.scale_min, "max": c.scale_max,
             "level": c.level} for c in criteria
        ],
        "systems": list(system_entries.values()),
        "agreement": agreement,
        "raters": _raters(table, per_rater),
        "correlations": correlation,
        "excluded_raters": excluded_rater_names(campaign=campaign),
        "pairwise": pairwise,
    }


def robustness_metrics(campaign: Campaign) -> list[str]:
    """The metrics whose robustness the campaign asks for (`options.robustness`).

    A list names the metrics; `true` means every segment-level metric of the campaign.
    """
    wanted = (campaign.options or {}).get("robustness")
    if wanted is True:
        names = []
        for name in campaign.metrics or []:
            try:
                if metric_get(name).segment_level:
                    names.append(name)
            except KeyError:
                continue
        return names
    if isinstance(wanted, list):
        return [str(name) for name in wanted]
    return []


def _add_robustness(campaign: Campaign, systems: list[System],
                    entries: dict[int, dict[str, Any]]) -> None:
    """Per system and metric: mean change from each group's original to its variants."""
    names = robustness_metrics(campaign)
    if not names:
        return
    segments = grouped_segments_get(campaign=campaign, metrics=names)
    for system in systems:
        mine = [s for s in segments if s.system_id == system.pk]
        records = [OutputRecord(item_id=s.item_id, group=s.group) for s in mine]
        details = {}
        for name in names:
            result = robustness_delta(name, records, [s.values.get(name) for s in mine])
            entries[system.pk]["metrics"][ROBUSTNESS_PREFIX + name] = result.value
            details[name] = _without_none_reason(
                {"value": result.value, "groups": result.groups, "reason": result.reason})
        entries[system.pk]["robustness"] = details


def _component_scale(key: str, criteria: dict[str, Criterion]) -> ComponentScale:
    if key in criteria:
        return ComponentScale((criteria[key].scale_min, criteria[key].scale_max))
    try:
        spec = metric_get(key)
    except KeyError:
        return ComponentScale((-math.inf, math.inf))
    return ComponentScale(spec.value_range, spec.higher_is_better)


def _add_composite(campaign: Campaign, criteria: list[Criterion],
                   entries: dict[int, dict[str, Any]]) -> None:
    """The campaign's weighted composite of criterion means and metric values, per system."""
    weights = {key: float(w) for key, w in (campaign.composite or {}).items()}
    if not weights:
        return
    by_key = {c.key: c for c in criteria}
    scores = {
        pk: {key: (entry["criteria"].get(key, {}).get("mean") if key in by_key
                   else entry["metrics"].get(key)) for key in weights}
        for pk, entry in entries.items()
    }
    scales = {key: _component_scale(key, by_key) for key in weights}
    for pk, result in composite_scores(scores, weights, scales).items():
        entries[pk]["metrics"]["composite"] = result.value
        entries[pk]["composite"] = _without_none_reason({
            "value": result.value, "weights": weights, "components": result.components,
            "reason": result.reason,
        })


def _pairwise(campaign: Campaign, criteria: list[Criterion], systems: list[System],
              n_resamples: int, seed: int) -> dict[str, Any]:
    """Wins/losses/ties per system and pair, win rates with CIs, sign tests, preferences."""
    table = pairwise_table_get(campaign=campaign, criteria=[c.key for c in criteria])
    order = [s.pk for s in systems]
    names = {s.pk: s.name for s in systems}
    pairs = pair_counts(table.system_a, table.system_b, table.choice, order)
    system_entries = []
    for system in systems:
        wins, losses, ties = _totals(pairs, system.pk)
        rate = win_rate_ci(wins, losses, ties, n_resamples=n_resamples, rng=np.random.default_rng(
            [seed, _stable("pairwise"), _stable(system.name)]))
        system_entries.append(_without_none_reason({
            "name": system.name, "wins": wins, "losses": losses, "ties": ties,
            "judgments": wins + losses + ties, "win_rate": rate.win_rate,
            "ci_low": rate.ci_low, "ci_high": rate.ci_high, "reason": rate.reason,
        }))
    return {
        "judgments": int(np.count_nonzero(np.isin(table.choice, (1, -1, 0)))),
        "win_rate_method": WIN_RATE_METHOD, "confidence": 0.95, "test": PAIR_TEST,
        "systems": system_entries,
        "pairs": [_pair_entry(p, names) for p in pairs],
        "agreement": _choice_agreement(table, order, n_resamples, seed),
        "criteria": _preferences(table, order, names),
    }


def _choice_agreement(table: PairwiseTable, order: list[int], n_resamples: int,
                      seed: int) -> dict[str, Any]:
    """Krippendorff's alpha (nominal) of the overall choices: a unit is an item's pair of
    systems, a value the choice turned to the earlier system's side (1 win, -1 loss, 0 tie)."""
    lookup = {system: index for index, system in enumerate(order)}

    def position(systems: np.ndarray) -> np.ndarray:
        return np.fromiter((lookup.get(s, -1) for s in systems.tolist()), dtype=np.int64,
                           count=systems.size)

    pos_a, pos_b = position(table.system_a), position(table.system_b)
    keep = np.isin(table.choice, (1, -1, 0)) & (pos_a >= 0) & (pos_b >= 0) & (pos_a != pos_b)
    values = np.where(pos_a < pos_b, table.choice, -table.choice)[keep].astype(np.float64)
    keys = np.stack([table.item[keep], np.minimum(pos_a, pos_b)[keep],
                     np.maximum(pos_a, pos_b)[keep]], axis=1)
    units = (np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1) if keys.size
             else np.empty(0, dtype=np.int64))
    alpha = krippendorff_alpha(units, values, "nominal", n_boot=n_resamples,
                               rng=np.random.default_rng([seed, _stable("pairwise-choice")]))
    return _without_none_reason({
        "krippendorff_alpha": alpha.alpha, "level": alpha.level, "units": alpha.units,
        "values": alpha.values, "ci_low": alpha.ci_low, "ci_high": alpha.ci_high,
        "reason": alpha.reason,
    })


def _totals(pairs: list[PairCounts], system_id: int) -> tuple[int, int, int]:
    wins = losses = ties = 0
    for p in pairs:
        if p.first == system_id:
            wins, losses, ties = wins + p.wins, losses + p.losses, ties + p.ties
        elif p.second == system_id:
            wins, losses, ties = wins + p.losses, losses + p.wins, ties + p.ties
    return wins, losses, ties


def _pair_entry(p: PairCounts, names: dict[int, str]) -> dict[str, Any]:
    test = sign_test(p.wins, p.losses)
    return _without_none_reason({
        "system_a": names[p.first], "system_b": names[p.second], "wins_a": p.wins,
        "wins_b": p.losses, "ties": p.ties, "judgments": p.judgments,
        "win_rate_a": (p.wins + p.ties / 2) / p.judgments if p.judgments else None,
        "p_value": test.p_value, "reason": test.reason,
    })


def _preferences(table: PairwiseTable, order: list[int],
                 names: dict[int, str]) -> dict[str, Any]:
    """Per criterion: preference counts per system and per pair from Rating.preferences."""
    result: dict[str, Any] = {}
    for key, codes in table.preferences.items():
        pairs = pair_counts(table.system_a, table.system_b, codes, order)
        systems = []
        for pk in order:
            wins, losses, ties = _totals(pairs, pk)
            systems.append({"name": names[pk], "preferred": wins, "not_preferred": losses,
                            "ties": ties})
        result[key] = {
            "judgments": int(np.count_nonzero(np.isin(codes, (1, -1, 0)))),
            "systems": systems,
            "pairs": [{"system_a": names[p.first], "system_b": names[p.second],
                       "prefer_a": p.wins, "prefer_b": p.losses, "ties": p.ties}
                      for p in pairs],
        }
    return result


def _stable(text: str) -> int:
    """A seed part from a name, so the same data reproduces in any database (not from pks)."""
    return zlib.crc32(text.encode("utf-8"))


def _subset(table: RatingTable, mask: np.ndarray) -> RatingTable:
    return RatingTable(rater=table.rater[mask], output=table.output[mask], item=table.item[mask],
                       system=table.system[mask], criterion=table.criterion[mask],
                       value=table.value[mask])


def _criterion_summary(part: RatingTable, z: np.ndarray, system: System, criterion: Criterion,
                       n_resamples: int, seed: int) -> dict[str, Any]:
    mask = part.system == system.pk
    summary = bootstrap_mean_ci(
        part.value[mask], part.output[mask], n_resamples=n_resamples,
        rng=np.random.default_rng([seed, _stable(criterion.key), _stable(system.name)]),
    )
    z_system = z[mask]
    finite = z_system[np.isfinite(z_system)]
    reasons = [summary.reason] if summary.reason else []
    if finite.size == 0 and summary.n:
        reasons.append("z_mean undefined: no rater of this system has varying scores")
    return _without_none_reason({
        "mean": summary.mean, "ci_low": summary.ci_low, "ci_high": summary.ci_high,
        "n": summary.n, "z_mean": float(finite.mean()) if finite.size else None,
        "reason": "; ".join(reasons) or None,
    })


def _metric_correlations(part: RatingTable,
                         segments: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Per output: the mean human score against each metric's segment value (scipy.stats)."""
    outputs, inverse = np.unique(part.output, return_inverse=True)
    means = np.bincount(inverse, weights=part.value) / np.bincount(inverse)
    result = {}
    for metric, (ids, values) in sorted(segments.items()):
        common, ours, theirs = np.intersect1d(outputs, ids, assume_unique=True,
                                              return_indices=True)
        found = correlations(means[ours], values[theirs])
        result[metric] = _without_none_reason({
            "pearson": found.pearson, "spearman": found.spearman, "kendall": found.kendall,
            "n": found.n, "reason": found.reason,
        })
    return result


def _item_means(part: RatingTable, system_id: int) -> dict[int, float]:
    mask = part.system == system_id
    items, inverse = np.unique(part.item[mask], return_inverse=True)
    sums = np.bincount(inverse, weights=part.value[mask], minlength=items.size)
    counts = np.bincount(inverse, minlength=items.size)
    return dict(zip(items.tolist(), (sums / counts).tolist(), strict=True))


def _delta(part: RatingTable, system_id: int, baseline_id: int) -> dict[str, Any]:
    """Paired by item (each item's mean for the system minus the baseline's); when the two
    systems share fewer than two rated items, unpaired over per-output means instead."""
    ours = _item_means(part, system_id)
    theirs = _item_means(part, baseline_id)
    common = sorted(ours.keys() & theirs.keys())
    if len(common) >= 2:
        result = paired_difference_test(np.array([ours[i] for i in common], dtype=float),
                                        np.array([theirs[i] for i in common], dtype=float))
        return _without_none_reason({"delta": result.delta, "p_value": result.p_value,
                                     "n_items": result.n, "test": result.test,
                                     "reason": result.reason})
    result = unpaired_difference_test(np.array(list(ours.values()), dtype=float),
                                      np.array(list(theirs.values()), dtype=float))
    reason = "systems share fewer than two rated items; unpaired comparison of item means"
    return _without_none_reason({"delta": result.delta, "p_value": result.p_value,
                                 "n_items": 0, "n_system": len(ours), "n_baseline": len(theirs),
                                 "test": result.test,
                                 "reason": f"{reason}; {result.reason}" if result.reason
                                 else reason})


def _raters(table: RatingTable, per_rater: dict[int, list[float]]) -> list[dict[str, Any]]:
    if len(table) == 0:
        return []
    pairs = np.unique(np.stack([table.rater, table.output]), axis=1)
    raters, counts = np.unique(pairs[0], return_counts=True)
    names = rater_names(user_ids=raters.tolist())
    entries = []
    for rater_id, count in zip(raters.tolist(), counts.tolist(), strict=True):
        scores = per_rater.get(rater_id, [])
        entry = {"rater": names.get(rater_id, str(rater_id)), "ratings": count,
                 "agreement_with_others": float(np.mean(scores)) if scores else None}
        if not scores:
            entry["reason"] = "too few outputs shared with other raters"
        entries.append(entry)
    return sorted(entries, key=lambda e: e["rater"])


def _without_none_reason(entry: dict[str, Any]) -> dict[str, Any]:
    """Drop `reason` when nothing is undefined; turn NaN into None so JSON stays valid."""
    cleaned = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in entry.items()}
    if cleaned.get("reason") is None:
        cleaned.pop("reason", None)
    return cleaned
