"""Robustness: how a metric's segment values change between an item and its perturbed variants.

Convention: records sharing a `group` form one group; the original is the record whose
`item_id` equals the group id, or, when none does, the group's first record (input order).
Every other record of the group is a perturbed variant. Per group the change is
mean(variant − original) over variants with a segment value; the result is the mean over
groups (negative = the metric drops under perturbation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from metrics.compute.automatic.base import OutputRecord


@dataclass(frozen=True)
class RobustnessResult:
    """Mean change over groups, the per-group changes and how many groups counted."""

    metric: str
    value: float | None
    groups: int
    group_deltas: dict[str, float] = field(default_factory=dict)
    reason: str | None = None


def robustness_delta(
    metric: str, records: Sequence[OutputRecord], segments: Sequence[float | None]
) -> RobustnessResult:
    """Mean over groups of mean(segment(variant) − segment(original)) (see module doc)."""
    if len(segments) != len(records):
        raise ValueError("segments must be aligned with records")
    groups: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        if record.group is not None:
            groups.setdefault(str(record.group), []).append(i)
    deltas: dict[str, float] = {}
    for group, members in groups.items():
        original = next((i for i in members if records[i].item_id == group), members[0])
        base = segments[original]
        if base is None:
            continue
        changes = [s - base for i in members if i != original
                   if (s := segments[i]) is not None]
        if changes:
            deltas[group] = math.fsum(changes) / len(changes)
    if not deltas:
        reason = "no groups" if not groups else "no group with a scored original and variant"
        return RobustnessResult(metric=metric, value=None, groups=0, reason=reason)
    return RobustnessResult(metric=metric, value=math.fsum(deltas.values()) / len(deltas),
                            groups=len(deltas), group_deltas=deltas)
