"""Changes to handed-out work: submission, skip, reset and reassignment."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Rating,
)
from annotations.selectors import (
    live_q,
)

from .base import SKIP_REASON_MAX, Unit, _unit_key, lease_minutes
from .coverage import _coverage_write
from .rows import _lock_items
from .search import _item_state


def assignment_settle_submission(*, assignment: Assignment, now: datetime) -> Assignment:
    """Mark a submitted assignment; a late one keeps its slot only if the unit has room.

    The caller holds the item lock (see rating_submit). A lease that lapsed without being
    reclaimed still holds its slot. A reclaimed, skipped or released one fills a slot if the
    unit is below k; otherwise the rating is kept as an extra one and the status stays.
    """
    fills_slot = assignment.status in (Assignment.Status.ASSIGNED, Assignment.Status.SUBMITTED)
    item_id = assignment.output.item_id
    takes_slot = False
    if not fills_slot:
        key = _unit_key(assignment.output_id, assignment.output_b_id)
        others = Assignment.objects.filter(live_q(now), output__item_id=item_id
                                           ).exclude(pk=assignment.pk)
        held = sum(1 for a, b in others.values_list("output_id", "output_b_id")
                   if _unit_key(a, b) == key)
        fills_slot = takes_slot = held < assignment.campaign.overlap
    if fills_slot:
        assignment.status = Assignment.Status.SUBMITTED
    if assignment.submitted_at is None or fills_slot:
        assignment.submitted_at = now
    with connection.cursor() as cursor:  # save(update_fields=...) written out: ~1 ms less CPU
        cursor.execute(
            f'UPDATE "{Assignment._meta.db_table}" SET "status" = %s, "submitted_at" = %s '
            f'WHERE "id" = %s',
            [assignment.status, connection.ops.adapt_datetimefield_value(assignment.submitted_at),
             assignment.pk])
    if takes_slot:
        state = _item_state(assignment.campaign, item_id, None, now)
        _coverage_write(assignment.campaign, item_id, state.qc, len(state.units), state.taken)
    return assignment


# --- skip, reset, reassign -------------------------------------------------------------------


def _release(campaign: Campaign, assignments: list[Assignment], status: str, reason: str,
             now: datetime) -> int:
    """Give these (locked items') open assignments up; the coverage guide follows."""
    if not assignments:
        return 0
    changed = Assignment.objects.filter(
        pk__in=[a.pk for a in assignments], status=Assignment.Status.ASSIGNED,
    ).update(status=status, skip_reason=reason[:SKIP_REASON_MAX])
    for item_id in sorted({a.output.item_id for a in assignments}):
        state = _item_state(campaign, item_id, None, now)
        _coverage_write(campaign, item_id, state.qc, len(state.units), state.taken)
    return changed


def assignment_skip(*, assignment: Assignment, rater: Any, reason: str,
                    now: datetime | None = None) -> Assignment:
    """Skip an open assignment with a reason; its slot goes back to the pool for others.

    The rater never gets that output (or pair) again: the skipped row stays in their history.
    Skipping an already skipped assignment is a no-op; a submitted one cannot be skipped.
    """
    if assignment.rater_id != rater.pk:
        raise PermissionDenied("not your assignment")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["say why you skip this item"]})
    if len(reason) > SKIP_REASON_MAX:
        raise ValidationError({"reason": [f"at most {SKIP_REASON_MAX} characters"]})
    now = now or timezone.now()
    with transaction.atomic():
        _lock_items({assignment.output.item_id})
        assignment.refresh_from_db(fields=["status", "skip_reason"])
        if assignment.status == Assignment.Status.SKIPPED:
            return assignment
        if assignment.status == Assignment.Status.SUBMITTED:
            raise ValidationError({"reason": ["this item is already rated; edit it instead"]})
        # An EXPIRED one lost its slot already; it is marked skipped all the same.
        Assignment.objects.filter(pk=assignment.pk).update(
            status=Assignment.Status.SKIPPED, skip_reason=reason)
        state = _item_state(assignment.campaign, assignment.output.item_id, None, now)
        _coverage_write(assignment.campaign, assignment.output.item_id, state.qc,
                        len(state.units), state.taken)
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = reason
    return assignment


def _open_assignments(campaign: Campaign, rater: Any) -> list[Assignment]:
    return list(Assignment.objects.select_related("output")
                .filter(campaign=campaign, rater=rater, status=Assignment.Status.ASSIGNED)
                .order_by("position", "pk"))


def assignment_reset_for_rater(*, campaign: Campaign, rater: Any, by: Any,
                               now: datetime | None = None) -> int:
    """Release the rater's unsubmitted assignments back to the pool; returns how many.

    Their submitted ratings are kept. Released rows stay in the rater's history (EXPIRED,
    reason "reset by <admin>"), so the rater is never handed those outputs again.
    """
    now = now or timezone.now()
    with transaction.atomic():
        list(CampaignMembership.objects.select_for_update()
             .filter(campaign=campaign, user=rater).values_list("pk", flat=True))
        held = _open_assignments(campaign, rater)
        if not held:
            return 0
        _lock_items({a.output.item_id for a in held})
        return _release(campaign, held, Assignment.Status.EXPIRED,
                        f"reset by {by.get_username() if by else 'admin'}", now)


def assignment_reassign(*, campaign: Campaign, from_rater: Any, to_rater: Any, by: Any,
                        now: datetime | None = None) -> int:
    """Move from_rater's unsubmitted work to to_rater; returns how many units moved.

    A unit goes over only if to_rater never had that output (or pair) and never rated it;
    the rest goes back to the pool. Submitted ratings stay with whoever made them.
    """
    if from_rater.pk == to_rater.pk:
        raise ValidationError({"to_rater": ["choose a different rater"]})
    if not CampaignMembership.objects.filter(campaign=campaign, user=to_rater,
                                             role=CampaignMembership.Role.RATER).exists():
        raise ValidationError({"to_rater": ["not a rater of this campaign"]})
    now = now or timezone.now()
    lease = timedelta(minutes=lease_minutes(campaign))
    label = f"reassigned by {by.get_username() if by else 'admin'}"
    with transaction.atomic():
        # Both raters' claims wait (membership locks in id order: no deadlock).
        list(CampaignMembership.objects.select_for_update()
             .filter(campaign=campaign, user__in=[from_rater, to_rater]).order_by("pk")
             .values_list("pk", flat=True))
        held = _open_assignments(campaign, from_rater)
        if not held:
            return 0
        _lock_items({a.output.item_id for a in held})
        _release(campaign, held, Assignment.Status.EXPIRED, label, now)
        blocked = _units_had(campaign, to_rater, {a.output.item_id for a in held})
        movable = [a for a in held if _unit_key(a.output_id, a.output_b_id) not in blocked]
        last = (Assignment.objects.filter(campaign=campaign, rater=to_rater)
                .order_by("-position").values_list("position", flat=True).first())
        start = 0 if last is None else last + 1
        Assignment.objects.bulk_create([
            Assignment(campaign=campaign, rater=to_rater, output_id=a.output_id,
                       output_b_id=a.output_b_id, seed=a.seed, position=start + i,
                       lease_expires_at=now + lease)
            for i, a in enumerate(movable)
        ])
        for item_id in sorted({a.output.item_id for a in movable}):
            state = _item_state(campaign, item_id, None, now)
            _coverage_write(campaign, item_id, state.qc, len(state.units), state.taken)
        return len(movable)


def _units_had(campaign: Campaign, rater: Any, item_ids: set[int]) -> set[Unit]:
    """Units of these items the rater was ever assigned or rated."""
    had = {_unit_key(a, b) for a, b in Assignment.objects.filter(
        rater=rater, output__item_id__in=item_ids).values_list("output_id", "output_b_id")}
    had |= {_unit_key(a, b) for a, b in Rating.objects.filter(
        rater=rater, output__item_id__in=item_ids).values_list("output_id", "output_b_id")}
    return had
