"""Rating submission: atomic, idempotent by client key, edits keep their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from annotations.models import (
    Assignment,
    Campaign,
    Criterion,
    Item,
    Output,
    Rating,
    RatingRevision,
    RatingValue,
)
from annotations.selectors import (
    criterion_list_for_campaign,
    model_in_row,
    rating_get_for_unit,
    sql_columns,
)

from .assignments import assignment_settle_submission, rows_insert

SATISFACTION = "satisfaction"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rating_validate(*, campaign: Campaign, criteria: list[Criterion], scores: dict[str, Any],
                    satisfaction: float | None, choice: str | None,
                    preferences: dict[str, Any] | None = None) -> dict[Criterion, float]:
    """Check scores against the rubric; field errors are keyed `scores.<key>`, `choice`, ...

    Pairwise campaigns require `choice` and take optional per-criterion `preferences`
    ({criterion key: "A" | "B" | "tie"}; errors keyed `preferences.<key>`).
    """
    errors: dict[str, list[str]] = {}
    by_key = {c.key: c for c in criteria}
    scores = dict(scores or {})
    if satisfaction is not None:
        if SATISFACTION not in by_key:
            errors["satisfaction"] = ["this campaign has no satisfaction question"]
        elif SATISFACTION in scores and scores[SATISFACTION] != satisfaction:
            errors["satisfaction"] = ["differs from scores.satisfaction"]
        else:
            scores[SATISFACTION] = satisfaction
    pairwise = campaign.kind == Campaign.Kind.PAIRWISE
    if pairwise and choice not in Rating.Choice.values:
        errors["choice"] = ['pick "A", "B" or "tie"']
    elif not pairwise and choice:
        errors["choice"] = ["only pairwise campaigns take a choice"]
    _check_preferences(pairwise, by_key, preferences, errors)
    values: dict[Criterion, float] = {}
    for key, value in scores.items():
        criterion = by_key.get(key)
        if criterion is None:
            errors[f"scores.{key}"] = ["unknown criterion"]
        elif value is None:
            continue
        elif not _is_number(value) or not criterion.accepts(float(value)):
            errors[f"scores.{key}"] = [
                f"must be a number from {criterion.scale_min:g} to {criterion.scale_max:g}"]
        else:
            values[criterion] = float(value)
    if not pairwise:  # in pairwise campaigns the per-criterion preferences are optional
        for criterion in criteria:
            if criterion.required and criterion not in values and \
                    f"scores.{criterion.key}" not in errors:
                field = SATISFACTION if criterion.key == SATISFACTION else \
                    f"scores.{criterion.key}"
                errors[field] = ["this criterion is required"]
    if errors:
        raise ValidationError(errors)
    return values


def _check_preferences(pairwise: bool, by_key: dict[str, Criterion],
                       preferences: dict[str, Any] | None, errors: dict[str, list[str]]) -> None:
    if not preferences:
        return
    if not isinstance(preferences, dict):
        errors["preferences"] = ['an object of criterion key -> "A", "B" or "tie"']
        return
    if not pairwise:
        errors["preferences"] = ["only pairwise campaigns take preferences"]
        return
    for key, value in preferences.items():
        if key not in by_key:
            errors[f"preferences.{key}"] = ["unknown criterion"]
        elif value not in Rating.Choice.values:
            errors[f"preferences.{key}"] = ['pick "A", "B" or "tie"']


def _revise(rating: Rating, editor: Any) -> None:
    """Keep the rating's current state as a revision before it is overwritten."""
    old = {v.criterion.key: v.value for v in rating.values.select_related("criterion")}
    RatingRevision.objects.create(rating=rating, values=old, key=rating.key,
                                  choice=rating.choice, preferences=rating.preferences,
                                  comment=rating.comment, edited_by=editor)


def _lock_for_submit(assignment_id: int) -> Assignment:
    """Lock the assignment's item row and read the assignment (one written-out query).

    The ORM form of this statement (select_for_update(of=...) + select_related + only)
    cost ~1.5 ms of CPU to compile on every submission.
    """
    sql = _LOCK_SQL.get(connection.vendor)
    if sql is None:
        tables = (Assignment._meta.db_table, Output._meta.db_table, Item._meta.db_table)
        sql = (f"SELECT {sql_columns(Assignment, 'a')} FROM \"{tables[0]}\" a"
               f' JOIN "{tables[1]}" o ON o."id" = a."output_id"'
               f' JOIN "{tables[2]}" i ON i."id" = o."item_id" WHERE a."id" = %s')
        if connection.features.has_select_for_update_of:
            sql += " FOR UPDATE OF i"
        _LOCK_SQL[connection.vendor] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql, [assignment_id])
        row = cursor.fetchone()
    if row is None:
        raise Assignment.DoesNotExist("assignment deleted")
    return model_in_row(Assignment, row, 0)


_LOCK_SQL: dict[str, str] = {}


def rating_submit(*, assignment: Assignment, rater: Any, scores: dict[str, float],
                  satisfaction: float | None, comment: str, key: str, choice: str | None,
                  time_spent_ms: int | None, now: datetime | None = None,
                  source: str = Rating.Source.FORM,
                  preferences: dict[str, str] | None = None) -> tuple[Rating, bool]:
    """Store the rater's judgment of the assignment; returns (rating, created).

    Replaying the same non-empty key returns the stored rating unchanged. A new submission
    on an already rated output edits the rating and keeps the previous state as a
    RatingRevision. A submission after the lease ran out is stored all the same.
    """
    if assignment.rater_id != rater.pk:
        raise PermissionDenied("not your assignment")
    now = now or timezone.now()
    campaign = assignment.campaign
    with transaction.atomic():
        # The item lock serialises this with claims and with a double-clicked twin; the
        # same query reads the assignment's state as of the lock.
        locked = _lock_for_submit(assignment.pk)
        assignment.status = locked.status
        assignment.submitted_at = locked.submitted_at
        assignment.lease_expires_at = locked.lease_expires_at
        existing = rating_get_for_unit(rater_id=rater.pk, output_id=assignment.output_id,
                                       output_b_id=assignment.output_b_id)
        if existing is not None and key and (
            existing.key == key or existing.revisions.filter(key=key).exists()
        ):
            # A replay, even of a submission an edit has since superseded: nothing changes.
            return existing, False
        criteria = criterion_list_for_campaign(campaign=campaign)
        values = rating_validate(campaign=campaign, criteria=criteria, scores=scores,
                                 satisfaction=satisfaction, choice=choice,
                                 preferences=preferences)
        if existing is None:
            rating = Rating(rater=rater, output_id=assignment.output_id,
                            output_b_id=assignment.output_b_id, assignment=assignment,
                            time_spent_ms=time_spent_ms)
        else:
            _revise(existing, rater)
            existing.values.all().delete()
            rating = existing
            if time_spent_ms is not None:  # time on task accumulates over edits
                rating.time_spent_ms = (rating.time_spent_ms or 0) + time_spent_ms
            rating.assignment = assignment
        rating.choice = choice or ""
        rating.preferences = dict(preferences or {})
        rating.comment = comment or ""
        rating.key = key or ""
        rating.source = source
        # Relations and uniqueness are the database's job (one query each would be wasted).
        rating.full_clean(exclude=["rater", "output", "output_b", "assignment"],
                          validate_unique=False, validate_constraints=False)
        if existing is None:
            rows_insert(objs=[rating])
        else:
            rating.save()
        rows_insert(objs=[RatingValue(rating=rating, criterion=c, value=v)
                          for c, v in values.items()])
        assignment_settle_submission(assignment=assignment, now=now)
    rating._scores = {c.key: v for c, v in values.items()}  # type: ignore[attr-defined]
    return rating, existing is None


def rating_scores(*, rating: Rating) -> dict[str, float]:
    """The rating's values by criterion key (known without a query right after a submit)."""
    known = getattr(rating, "_scores", None)
    if known is not None:
        return dict(known)
    return dict(rating.values.values_list("criterion__key", "value"))
