"""The rater's work: assignments with their outputs and items, the rubric, ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.http import Http404
from rest_framework.authtoken.models import Token

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Criterion,
    Item,
    Output,
    Rating,
)

from .sql import _fetch_one, _tables, model_from_row, model_in_row, sql_columns

_WORK_SQL: dict[str, str] = {}


def _work_sql(name: str) -> str:
    """An assignment with its output, item and output_b (+ campaign for "mine"), by name:
    "current" / "current_member" (the rater's first live open one, the latter only for a
    non-excluded member), "mine" (one by pk, if the rater owns it and rates the campaign)."""
    sql = _WORK_SQL.get(name)
    if sql is not None:
        return sql
    t = _tables()
    select = (f"SELECT {sql_columns(Assignment, 'a')}, {sql_columns(Output, 'o')}, "
              f"{sql_columns(Item, 'i')}, {sql_columns(Output, 'ob')}")
    joins = (f' FROM "{t["assignment"]}" a'
             f' JOIN "{t["output"]}" o ON o."id" = a."output_id"'
             f' JOIN "{t["item"]}" i ON i."id" = o."item_id"'
             f' LEFT JOIN "{t["output"]}" ob ON ob."id" = a."output_b_id"')
    member = (f' AND EXISTS (SELECT 1 FROM "{t["membership"]}" m'
              f' WHERE m."campaign_id" = a."campaign_id" AND m."user_id" = a."rater_id"')
    current = (f'{joins} WHERE a."campaign_id" = %s AND a."rater_id" = %s'
               f' AND a."status" = %s AND a."lease_expires_at" > %s')
    order = ' ORDER BY a."position", a."id" LIMIT 1'
    _WORK_SQL.update({
        "open": (f'{select}{joins} WHERE a."campaign_id" = %s AND a."rater_id" = %s'
                 f' AND a."status" = %s ORDER BY a."position", a."id"'),
        "current": f"{select}{current}{order}",
        "current_member": f'{select}{current}{member} AND m."excluded" = %s){order}',
        "mine": (f"{select}, {sql_columns(Campaign, 'c')}{joins}"
                 f' JOIN "{t["campaign"]}" c ON c."id" = a."campaign_id"'
                 f' WHERE a."id" = %s AND a."rater_id" = %s{member} AND m."role" = %s)'),
    })
    return _WORK_SQL[name]


def _work_from_row(row: tuple[Any, ...]) -> Assignment:
    """Split a _work_sql row into the assignment with its output, item and output_b."""
    n_a, n_o, n_i = (len(m._meta.concrete_fields) for m in (Assignment, Output, Item))
    assignment = model_in_row(Assignment, row, 0)
    output = model_in_row(Output, row, n_a)
    output.item = model_in_row(Item, row, n_a + n_o)
    assignment.output = output
    assignment.output_b = model_from_row(Output, row, n_a + n_o + n_i)
    return assignment


def assignment_list_open_for_rater(*, campaign: Campaign, rater: Any) -> list[Assignment]:
    """The rater's ASSIGNED assignments (lapsed or not) in queue order, outputs and item
    loaded."""
    with connection.cursor() as cursor:
        cursor.execute(_work_sql("open"), [campaign.pk, rater.pk, Assignment.Status.ASSIGNED])
        return [_work_from_row(row) for row in cursor.fetchall()]


def item_outputs_get(*, item_id: int) -> list[Output]:
    """The item's outputs in id order, each with the item loaded (one query)."""
    if "item_outputs" not in _WORK_SQL:
        t = _tables()
        _WORK_SQL["item_outputs"] = (
            f"SELECT {sql_columns(Output, 'o')}, {sql_columns(Item, 'i')}"
            f' FROM "{t["output"]}" o JOIN "{t["item"]}" i ON i."id" = o."item_id"'
            f' WHERE o."item_id" = %s ORDER BY o."id"')
    n_o = len(Output._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(_WORK_SQL["item_outputs"], [item_id])
        rows = cursor.fetchall()
    if not rows:
        return []
    item = model_in_row(Item, rows[0], n_o)  # one instance shared by the item's outputs
    outputs = [model_in_row(Output, row, 0) for row in rows]
    for output in outputs:
        output.item = item
    return outputs


def item_assignments_get(*, output_ids: list[int]) -> list[Assignment]:
    """Every assignment on these outputs (one item's: any status, any rater; one query).

    By output id rather than joined through the item: an index probe per output whatever
    the planner's statistics say (a join was planned as a scan of every assignment while
    the table had not been analysed yet).
    """
    if not output_ids:
        return []
    sql = (f"SELECT {sql_columns(Assignment, 'a')} FROM \"{Assignment._meta.db_table}\" a"
           f' WHERE a."output_id" IN ({", ".join(["%s"] * len(output_ids))})')
    with connection.cursor() as cursor:
        cursor.execute(sql, output_ids)
        return [model_in_row(Assignment, row, 0) for row in cursor.fetchall()]


def assignment_current_for_rater(*, campaign: Campaign, rater: Any, now: datetime,
                                 member_only: bool = False) -> Assignment | None:
    """The rater's first open assignment with a live lease, outputs and item loaded.

    member_only: only while the rater is a non-excluded member (one query either way).
    """
    params = [campaign.pk, rater.pk, Assignment.Status.ASSIGNED,
              connection.ops.adapt_datetimefield_value(now)]
    if member_only:
        params += [False]
    row = _fetch_one(_work_sql("current_member" if member_only else "current"), params)
    return None if row is None else _work_from_row(row)


def token_get_with_user(*, key: str) -> Token | None:
    """The API token with this key and its user (one query); None if there is none."""
    if "token" not in _WORK_SQL:
        user_model = get_user_model()
        _WORK_SQL["token"] = (
            f"SELECT {sql_columns(Token, 't')}, {sql_columns(user_model, 'u')}"
            f' FROM "{Token._meta.db_table}" t'
            f' JOIN "{user_model._meta.db_table}" u ON u."id" = t."user_id"'
            f' WHERE t."key" = %s')
    row = _fetch_one(_WORK_SQL["token"], [key])
    if row is None:
        return None
    token = model_in_row(Token, row, 0)
    token.user = model_in_row(get_user_model(), row, len(Token._meta.concrete_fields))
    return token


# --- the rater flow ---------------------------------------------------------------------

# The rubric as raters see it, aggregated in the campaign's own statement (PostgreSQL).
_RUBRIC_JSON = (
    "(SELECT json_agg(json_build_object('key', k.\"key\", 'label', k.\"label\","
    " 'help_text', k.\"help_text\", 'min', k.\"scale_min\", 'max', k.\"scale_max\","
    " 'labels', k.\"scale_labels\", 'required', k.\"required\")"
    ' ORDER BY k."position", k."id") FROM "{criterion}" k WHERE k."campaign_id" = c."id")'
)


def campaign_get_for_rater(*, user: Any, slug: str, with_rubric: bool = False) -> Campaign:
    """The campaign if the user is one of its raters; 404 otherwise (no existence leak).

    with_rubric: on PostgreSQL the same statement also reads the rubric payload, which
    criterion_payload_list then returns without a query of its own.
    """
    rubric = with_rubric and connection.vendor == "postgresql"
    name = "rater_campaign_rubric" if rubric else "rater_campaign"
    if name not in _WORK_SQL:
        t = _tables()
        extra = ", " + _RUBRIC_JSON.format(criterion=Criterion._meta.db_table) if rubric else ""
        _WORK_SQL[name] = (
            f"SELECT {sql_columns(Campaign, 'c')}{extra} FROM \"{t['campaign']}\" c"
            f' WHERE c."slug" = %s AND EXISTS (SELECT 1 FROM "{t["membership"]}" m'
            f' WHERE m."campaign_id" = c."id" AND m."user_id" = %s AND m."role" = %s)')
    row = _fetch_one(_WORK_SQL[name], [slug, user.pk, CampaignMembership.Role.RATER])
    if row is None:
        raise Http404("no such campaign")
    campaign = model_in_row(Campaign, row, 0)
    if rubric:
        campaign._rubric_payload = [  # type: ignore[attr-defined]
            {**criterion, "min": float(criterion["min"]), "max": float(criterion["max"])}
            for criterion in row[-1] or []]
    return campaign


def criterion_list_for_campaign(*, campaign: Campaign) -> list[Criterion]:
    """The campaign's rubric in order (position, id), as `campaign.criteria.all()`."""
    if "criteria" not in _WORK_SQL:
        _WORK_SQL["criteria"] = (
            f"SELECT {sql_columns(Criterion, 'k')} FROM \"{Criterion._meta.db_table}\" k"
            f' WHERE k."campaign_id" = %s ORDER BY k."position", k."id"')
    with connection.cursor() as cursor:
        cursor.execute(_WORK_SQL["criteria"], [campaign.pk])
        return [model_in_row(Criterion, row, 0) for row in cursor.fetchall()]


def criterion_payload_list(*, campaign: Campaign) -> list[dict[str, Any]]:
    """The rubric as raters see it (key, label, help_text, min, max, labels, required).

    One query, in rubric order (none when campaign_get_for_rater read it with the
    campaign); the rater `next` payload embeds it as is.
    """
    known = getattr(campaign, "_rubric_payload", None)
    if known is not None:
        return [dict(criterion) for criterion in known]
    return [{"key": c.key, "label": c.label, "help_text": c.help_text,
             "min": float(c.scale_min), "max": float(c.scale_max), "labels": c.scale_labels,
             "required": c.required}
            for c in criterion_list_for_campaign(campaign=campaign)]


def rating_get_for_unit(*, rater_id: int, output_id: int,
                        output_b_id: int | None) -> Rating | None:
    """The rater's rating of this output (or ordered pair), if any (one query)."""
    name = "rating_unit" if output_b_id is None else "rating_pair"
    if name not in _WORK_SQL:
        base = (f"SELECT {sql_columns(Rating, 'r')} FROM \"{Rating._meta.db_table}\" r"
                f' WHERE r."rater_id" = %s AND r."output_id" = %s AND r."output_b_id"')
        _WORK_SQL["rating_unit"] = f"{base} IS NULL ORDER BY r.\"id\" LIMIT 1"
        _WORK_SQL["rating_pair"] = f"{base} = %s ORDER BY r.\"id\" LIMIT 1"
    params = [rater_id, output_id] + ([] if output_b_id is None else [output_b_id])
    row = _fetch_one(_WORK_SQL[name], params)
    return None if row is None else model_in_row(Rating, row, 0)


def assignment_get_for_rater(*, user: Any, pk: int) -> Assignment:
    """The user's own assignment in a campaign they rate; 404 for anyone else's.

    Loaded with its campaign, outputs and item, in one query.
    """
    row = _fetch_one(_work_sql("mine"), [pk, user.pk, CampaignMembership.Role.RATER])
    if row is None:
        raise Http404("no such assignment")
    assignment = _work_from_row(row)
    n_row = len(row) - len(Campaign._meta.concrete_fields)
    assignment.campaign = model_in_row(Campaign, row, n_row)
    return assignment


def assignment_previous_for_rater(*, user: Any, campaign: Campaign,
                                  before: Assignment | None = None) -> Assignment | None:
    """The user's most recent submitted assignment (before `before` in their queue), or None.

    Loaded with its outputs, item and campaign, ready for the edit form.
    """
    queryset = (Assignment.objects.select_related("campaign", "output__item", "output_b")
                .filter(campaign=campaign, rater=user, status=Assignment.Status.SUBMITTED))
    if before is not None:
        queryset = queryset.filter(Q(position__lt=before.position)
                                   | Q(position=before.position, pk__lt=before.pk))
    return queryset.order_by("-position", "-pk").first()


def rating_get_for_assignment(*, user: Any, assignment: Assignment) -> Rating | None:
    """The user's rating of the assignment's output (or pair), with its values; None if none.

    Only the user's own assignment: anyone else's gives None.
    """
    if assignment.rater_id != user.pk:
        return None
    return (Rating.objects.prefetch_related("values__criterion")
            .filter(rater=user, output_id=assignment.output_id,
                    output_b_id=assignment.output_b_id).first())


def campaign_get_for_progress(*, user: Any, slug: str) -> tuple[Campaign, bool]:
    """The campaign and whether the user administers it; 404 for non-members."""
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        raise Http404("no such campaign")
    role = (CampaignMembership.objects.filter(campaign=campaign, user=user)
            .values_list("role", flat=True).first())
    if user.is_staff or role == CampaignMembership.Role.ADMIN:
        return campaign, True
    if role is None:
        raise Http404("no such campaign")
    return campaign, False
