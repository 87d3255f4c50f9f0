"""Claiming: the rater's current assignment, or a new item block drawn from its seed."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotations.models import (
    Assignment,
    Campaign,
    QcKind,
)
from annotations.selectors import (
    assignment_current_for_rater,
    assignment_list_open_for_rater,
    live_q,
)

from .base import (
    CLAIM_ROUNDS,
    LAPSED,
    LAPSED_ALL,
    QC_NONE,
    Unit,
    block_order,
    lease_minutes,
    qc_draw,
)
from .coverage import _coverage_sync, _coverage_write_sql
from .rows import _lock_item, _lock_items, rows_insert
from .search import _Busy, _ItemState, _last_position, _membership_lock, _search, _unit_q


def _claim_block(campaign: Campaign, rater: Any, item_id: int, state: _ItemState,
                 units: list[Unit], now: datetime, lease: timedelta, seed: int,
                 start: int) -> Assignment:
    """Create the rater's assignments for one item's free units, in seeded order.

    Returns the first of the block (the rater's current assignment), outputs attached.
    """
    pairwise = campaign.kind == Campaign.Kind.PAIRWISE
    # Lapsed leases on the units taken here lose their slot for good.
    reclaimed = [u for u in units if u in state.lapsed]
    expired = Assignment.objects.filter(
        _unit_q(reclaimed), output__item_id=item_id, status=Assignment.Status.ASSIGNED,
        lease_expires_at__lte=now).update(status=Assignment.Status.EXPIRED) if reclaimed else 0
    created = [
        Assignment(campaign=campaign, rater=rater, output_id=a, output_b_id=b, seed=seed,
                   position=start + i, lease_expires_at=now + lease)
        for i, (a, b) in enumerate(block_order(units, seed, pairwise=pairwise))
    ]
    # positions are distinct within the block; the guide's row written by the same statement
    rows_insert(objs=created, match="position", also=_coverage_write_sql(
        campaign, item_id, state.qc, len(state.units), state.taken - expired + len(units)))
    first = created[0]
    first.output = state.outputs[first.output_id]
    if first.output_b_id is not None:
        first.output_b = state.outputs[first.output_b_id]
    return first


def _current(campaign: Campaign, rater: Any, now: datetime, *, member_only: bool = False
             ) -> Assignment | None:
    """The rater's first open assignment with a live lease, with its outputs and item."""
    return assignment_current_for_rater(campaign=campaign, rater=rater, now=now,
                                        member_only=member_only)


def _resume(campaign: Campaign, rater: Any, now: datetime,
            lease: timedelta) -> Assignment | None:
    """The rater's current assignment; a lapsed block comes back if nobody reclaimed it."""
    held = assignment_list_open_for_rater(campaign=campaign, rater=rater)
    current = [a for a in held if a.lease_expires_at and a.lease_expires_at > now]
    if current or not held:
        return current[0] if current else None
    _lock_items({a.output.item_id for a in held})
    # A claim that reclaims a lapsed slot marks it EXPIRED under the item lock, so whatever
    # is still ASSIGNED now never lost its slot and can be renewed safely.
    Assignment.objects.filter(pk__in=[a.pk for a in held],
                              status=Assignment.Status.ASSIGNED).update(
        lease_expires_at=now + lease)
    return _current(campaign, rater, now)


def _real_q() -> Q:
    """Assignments on real outputs (not control items or QC copies)."""
    return Q(output__control__isnull=True) & Q(output__item__qc_kind=QcKind.NONE)


def _quota_left(campaign: Campaign, rater: Any, now: datetime) -> int | None:
    """Real units the rater may still take (QC items do not use up the quota)."""
    quota = (campaign.options or {}).get("quota")
    if quota is None:
        return None
    held = Assignment.objects.filter(live_q(now), _real_q(), campaign=campaign,
                                     rater=rater).count()
    return max(int(quota) - held, 0)


_EMPTY = object()  # a search found no work: recount the guide once, then say so
_NEW_ITEMS = object()  # the guide is missing new items: sync it outside the claim first


def assignment_claim_next(*, campaign: Campaign, rater: Any, now: datetime | None = None,
                          rng: random.Random | None = None) -> Assignment | None:
    """The rater's current assignment, or a newly claimed item block; None when none is left."""
    if campaign.status != Campaign.Status.ACTIVE:
        return None
    now = now or timezone.now()
    # Most calls only resume the block in hand: one read, no lock, no commit to flush.
    current = _current(campaign, rater, now, member_only=True)
    if current is not None:
        return current
    rng = rng or random.SystemRandom()
    seed = rng.getrandbits(62)
    check_new, wait_for, recounted = True, None, False
    for _ in range(CLAIM_ROUNDS):
        claimed = _claim(campaign, rater, now, seed, check_new=check_new, wait_for=wait_for,
                         thorough=recounted)
        if claimed is _NEW_ITEMS:
            # Items the guide does not know yet (an import, QC copies): add them, then claim.
            _coverage_sync(campaign, full=False)
            check_new = False
        elif isinstance(claimed, _Busy):
            # Only items other claimers held were left: wait for one of them, in a fresh
            # transaction that holds no other item lock (so the wait cannot deadlock).
            wait_for = claimed.item_id
        elif claimed is _EMPTY and not recounted:
            # Out of work per the guide: recount it once before answering "nothing left".
            _coverage_sync(campaign, full=True)
            check_new, wait_for, recounted = False, None, True
        else:
            break
    return claimed if isinstance(claimed, Assignment) else None


def _claim(campaign: Campaign, rater: Any, now: datetime, seed: int, *,
           check_new: bool = True, wait_for: int | None = None, thorough: bool = False) -> Any:
    """Resume, or claim a block drawn by seed; None at the quota, _EMPTY if nothing found,
    _Busy if only held items were left, _NEW_ITEMS (with check_new) when the guide must
    first learn about new items. wait_for: an item to wait for (lock) before searching;
    thorough: look at every lapsed lease, not only the oldest (before saying "nothing left").
    """
    lease = timedelta(minutes=lease_minutes(campaign))
    with transaction.atomic():
        # One claim at a time per rater (a double click must not hand out two blocks).
        excluded = _membership_lock(campaign, rater)
        if excluded:  # an admin excluded this rater: no more work, open or new
            return None
        last, news, has_open = _last_position(campaign, rater, check_new=check_new)
        if has_open:  # a block in hand (lapsed, or claimed by a double-clicked twin)
            resumed = _resume(campaign, rater, now, lease)
            if resumed is not None:
                return resumed
        quota_left = _quota_left(campaign, rater, now)
        if quota_left == 0:  # QC items come within the work, never after the quota
            return None
        if news:
            return _NEW_ITEMS
        if wait_for is not None:
            # Held only by a claim or a submission for a moment; then the search sees it.
            _lock_item(wait_for, skip_locked=False)
        qc = qc_draw(seed, campaign.options)
        start, last_item = (0, None) if last is None else (last[0] + 1, last[1])
        found: Any = None
        busy = None
        for kind in dict.fromkeys([qc, QC_NONE]):  # a QC draw with nothing eligible: regular
            found = _search(campaign, rater, now, qc=kind, last_item=last_item,
                            quota_left=quota_left, lapsed=LAPSED_ALL if thorough else LAPSED)
            if isinstance(found, _Busy):
                busy, found = busy or found, None
            if found is not None:
                break
        if found is None:
            return busy or _EMPTY
        item_id, state, units = found
        return _claim_block(campaign, rater, item_id, state, units, now, lease, seed, start)
