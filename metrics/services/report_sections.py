"""Report sections beyond human scores: robustness and the composite score (in each system's
`metrics`) and the pairwise section (wins, win rates, sign tests, agreement, preferences)."""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from annotations.models import Campaign, Criterion, System
from metrics.compute.agreement import krippendorff_alpha
from metrics.compute.pairwise import (
    PAIR_TEST,
    WIN_RATE_METHOD,
    PairCounts,
    pair_counts,
    sign_test,
    win_rate_ci,
)
from metrics.selectors import PairwiseTable, grouped_segments_get, pairwise_table_get

if TYPE_CHECKING:
    from metrics.compute.automatic import ComponentScale

# metrics.compute.automatic loads sacrebleu, rouge-score, nltk and scikit-learn (about a
# second); it is imported inside the functions below, only for campaigns that ask for
# robustness or a composite, so export_report and the report API stay quick to start.

ROBUSTNESS_PREFIX = "robustness:"


def stable_seed(text: str) -> int:
    """A seed part from a name, so the same data reproduces in any database (not from pks)."""
    return zlib.crc32(text.encode("utf-8"))


def without_none_reason(entry: dict[str, Any]) -> dict[str, Any]:
    """Drop `reason` when nothing is undefined; turn NaN into None so JSON stays valid."""
    cleaned = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
               for k, v in entry.items()}
    if cleaned.get("reason") is None:
        cleaned.pop("reason", None)
    return cleaned


def robustness_metrics(campaign: Campaign) -> list[str]:
    """The metrics whose robustness the campaign asks for (`options.robustness`).

    A list names the metrics; `true` means every segment-level metric of the campaign.
    """
    wanted = (campaign.options or {}).get("robustness")
    if wanted is True:
        from metrics.compute.automatic import metric_get


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


def robustness_add(campaign: Campaign, systems: list[System],
                    entries: dict[int, dict[str, Any]]) -> None:
    """Per system and metric: mean change from each group's original to its variants."""
    names = robustness_metrics(campaign)
    if not names:
        return
    from metrics.compute.automatic import OutputRecord, robustness_delta

    segments = grouped_segments_get(campaign=campaign, metrics=names)
    for system in systems:
        mine = [s for s in segments if s.system_id == system.pk]
        records = [OutputRecord(item_id=s.item_id, group=s.group) for s in mine]
        details = {}
        for name in names:
            result = robustness_delta(name, records, [s.values.get(name) for s in mine])
            entries[system.pk]["metrics"][ROBUSTNESS_PREFIX + name] = result.value
            details[name] = without_none_reason(
                {"value": result.value, "groups": result.groups, "reason": result.reason})
        entries[system.pk]["robustness"] = details


def _component_scale(key: str, criteria: dict[str, Criterion]) -> ComponentScale:
    from metrics.compute.automatic import ComponentScale, metric_get

    if key in criteria:
        return ComponentScale((criteria[key].scale_min, criteria[key].scale_max))
    try:
        spec = metric_get(key)
    except KeyError:
        return ComponentScale((-math.inf, math.inf))
    return ComponentScale(spec.value_range, spec.higher_is_better)


def composite_add(campaign: Campaign, criteria: list[Criterion],
                   entries: dict[int, dict[str, Any]]) -> None:
    """The campaign's weighted composite of criterion means and metric values, per system."""
    weights = {key: float(w) for key, w in (campaign.composite or {}).items()}
    if not weights:
        return
    from metrics.compute.automatic import composite_scores

    by_key = {c.key: c for c in criteria}
    scores = {
        pk: {key: (entry["criteria"].get(key, {}).get("mean") if key in by_key
                   else entry["metrics"].get(key)) for key in weights}
        for pk, entry in entries.items()
    }
    scales = {key: _component_scale(key, by_key) for key in weights}
    for pk, result in composite_scores(scores, weights, scales).items():
        entries[pk]["metrics"]["composite"] = result.value
        entries[pk]["composite"] = without_none_reason({
            "value": result.value, "weights": weights, "components": result.components,
            "reason": result.reason,
        })


def pairwise_section(campaign: Campaign, criteria: list[Criterion], systems: list[System],
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
            [seed, stable_seed("pairwise"), stable_seed(system.name)]))
        system_entries.append(without_none_reason({
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
                               rng=np.random.default_rng([seed, stable_seed("pairwise-choice")]))
    return without_none_reason({
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
    return without_none_reason({
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
