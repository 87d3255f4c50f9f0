"""The engine's constants and pure helpers: leases, seeded block order, QC draws."""

from __future__ import annotations

import random
from typing import Any, cast

from annotations.models import (
    Campaign,
)

DEFAULT_LEASE_MINUTES = 30
# How many least-covered candidate items one search returns; each is tried with SKIP LOCKED,
# so concurrent raters spread over different items.
CANDIDATES = 25
# Lapsed leases looked at per search (the oldest first); all of them before saying "nothing
# left" (those at the head may all be on items this rater already had).
LAPSED = 50
LAPSED_ALL = 2**31 - 1
# Rounds of one claim: new items synced, a held item waited for, the guide recounted.
CLAIM_ROUNDS = 5
SKIP_REASON_MAX = 200

# The QC class of an item in annotations_itemcoverage.qc.
QC_NONE, QC_CONTROL, QC_DEGRADED, QC_REPEAT = 0, 1, 2, 3
QC_RATE_KEYS = (("control_rate", QC_CONTROL), ("degraded_rate", QC_DEGRADED),
                ("repeat_rate", QC_REPEAT))

Unit = tuple[int, int | None]  # (output id, output_b id or None)

COVERAGE = "annotations_itemcoverage"


def lease_minutes(campaign: Campaign) -> float:
    """The campaign's lease length in minutes (options.lease_minutes, default 30)."""
    return float((campaign.options or {}).get("lease_minutes", DEFAULT_LEASE_MINUTES))


def block_order(units: list[Unit], seed: int, *, pairwise: bool) -> list[Unit]:
    """The order (and, for pairs, the left/right sides) a block is shown in, from its seed."""
    rng = random.Random(seed)
    ordered = sorted(units, key=lambda u: (u[0], u[1] or 0))
    rng.shuffle(ordered)
    if not pairwise:
        return ordered
    # A pair's second output is never None (pairwise units are two outputs).
    return [(cast(int, b), a) if rng.random() < 0.5 else (a, b) for a, b in ordered]


def qc_draw(seed: int, options: dict[str, Any] | None) -> int:
    """The QC class a block with this seed is drawn from (QC_NONE without QC rates).

    Reproducible from the block's stored seed: one uniform draw of `random.Random(-seed - 1)`
    (a stream apart from block_order's) falls in [0, control) → control, then degraded, then
    repeat, else a regular item.
    """
    qc = (options or {}).get("qc") or {}
    rates = [(float(qc.get(key) or 0.0), kind) for key, kind in QC_RATE_KEYS]
    if not any(rate > 0 for rate, _ in rates):
        return QC_NONE
    draw = random.Random(-seed - 1).random()
    edge = 0.0
    for rate, kind in rates:
        edge += max(rate, 0.0)
        if draw < edge:
            return kind
    return QC_NONE


def _unit_key(output_id: int, output_b_id: int | None) -> Unit:
    """A side-independent key: a pair counts the same whichever output is shown left."""
    if output_b_id is None:
        return (output_id, None)
    return (min(output_id, output_b_id), max(output_id, output_b_id))
