"""The campaign report (DESIGN.md §4): human scores with CIs, z-scores, deltas, agreement.

Quality-control outputs and the ratings of excluded raters never reach the report (the
selectors leave them out). Pairwise campaigns get a `pairwise` section (wins, losses, ties,
win rates with bootstrap intervals, sign tests, per-criterion preferences); campaigns that ask
for them get robustness (`options.robustness`) and the composite score (`composite` weights)
among each system's `metrics`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from annotations.models import Campaign, Criterion, System
from metrics.compute.agreement import krippendorff_alpha, rater_agreement
from metrics.compute.scores import (
    bootstrap_mean_ci,
    correlations,
    paired_difference_test,
    unpaired_difference_test,
    z_normalize,
)
from metrics.selectors import (
    RatingTable,
    corpus_metric_values,
    criterion_list,
    excluded_rater_names,
    rater_names,
    rating_table_get,
    segment_metric_arrays,
    system_list_with_counts,
)

from .report_sections import (
    composite_add,
    pairwise_section,
    robustness_add,
    stable_seed,
    without_none_reason,
)


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
            "outputs": s.output_count,  # type: ignore[attr-defined]  # annotated by the selector
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
            rng=np.random.default_rng([seed, stable_seed(criterion.key)]),
        )
        agreement[criterion.key] = without_none_reason({
            "krippendorff_alpha": alpha.alpha, "level": alpha.level, "units": alpha.units,
            "values": alpha.values, "ci_low": alpha.ci_low, "ci_high": alpha.ci_high,
            "reason": alpha.reason,
        })
        if segments:
            correlation[criterion.key] = _metric_correlations(part, segments)
        for rater_id, score in rater_agreement(part.rater, part.output, part.value).items():
            if score is not None:
                per_rater.setdefault(rater_id, []).append(score)

    robustness_add(campaign, systems, system_entries)
    composite_add(campaign, criteria, system_entries)
    pairwise = None
    if campaign.kind == Campaign.Kind.PAIRWISE:
        pairwise = pairwise_section(campaign, criteria, systems, n_resamples, seed)
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


def _subset(table: RatingTable, mask: np.ndarray) -> RatingTable:
    return RatingTable(rater=table.rater[mask], output=table.output[mask], item=table.item[mask],
                       system=table.system[mask], criterion=table.criterion[mask],
                       value=table.value[mask])


def _criterion_summary(part: RatingTable, z: np.ndarray, system: System, criterion: Criterion,
                       n_resamples: int, seed: int) -> dict[str, Any]:
    mask = part.system == system.pk
    summary = bootstrap_mean_ci(
        part.value[mask], part.output[mask], n_resamples=n_resamples,
        rng=np.random.default_rng([seed, stable_seed(criterion.key), stable_seed(system.name)]),
    )
    z_system = z[mask]
    finite = z_system[np.isfinite(z_system)]
    reasons = [summary.reason] if summary.reason else []
    if finite.size == 0 and summary.n:
        reasons.append("z_mean undefined: no rater of this system has varying scores")
    return without_none_reason({
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
        result[metric] = without_none_reason({
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
        return without_none_reason({"delta": result.delta, "p_value": result.p_value,
                                     "n_items": result.n, "test": result.test,
                                     "reason": result.reason})
    result = unpaired_difference_test(np.array(list(ours.values()), dtype=float),
                                      np.array(list(theirs.values()), dtype=float))
    reason = "systems share fewer than two rated items; unpaired comparison of item means"
    return without_none_reason({"delta": result.delta, "p_value": result.p_value,
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
