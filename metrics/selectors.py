"""Reads that feed the report: ratings flattened into numpy arrays, loaded in chunks.

Every read here leaves out quality-control outputs (imported control items, whose `control`
is set, and the platform's degraded/repeat copies, whose item has a `qc_kind`) and the
ratings of raters an admin excluded from the campaign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotations.models import (
    Campaign,
    CampaignMembership,
    Criterion,
    Output,
    QcKind,
    Rating,
    RatingValue,
    System,
)
from metrics.models import MetricRun, MetricValue

if TYPE_CHECKING:
    from metrics.selectors_runs import RunProgress

CHUNK = 20_000


@dataclass(frozen=True)
class RatingTable:
    """All rating values of a campaign in long format, one array entry per value."""

    rater: np.ndarray  # int64 user ids
    output: np.ndarray  # int64 output ids
    item: np.ndarray  # int64 item ids
    system: np.ndarray  # int64 system ids
    criterion: np.ndarray  # int64 criterion ids
    value: np.ndarray  # float64

    def __len__(self) -> int:
        return int(self.value.shape[0])


def real_output_q(prefix: str = "") -> Q:
    """Outputs that are not quality-control copies or control items (`prefix` reaches Output)."""
    return Q(**{f"{prefix}control__isnull": True}) & Q(**{f"{prefix}item__qc_kind": QcKind.NONE})


def counted_rater_q(campaign: Campaign, rater_field: str) -> Exists:
    """Ratings whose rater an admin has not excluded from the campaign."""
    excluded = CampaignMembership.objects.filter(
        campaign=campaign, user=OuterRef(rater_field), excluded=True
    )
    return cast(Exists, ~Exists(excluded))  # Exists.__invert__ returns a negated Exists


def rating_value_queryset(*, campaign: Campaign) -> QuerySet[RatingValue]:
    """The rating values that count in the report and the long table, ordered by id."""
    # Ordered by id so exports can line rows up with arrays computed from this table.
    return RatingValue.objects.filter(
        real_output_q("rating__output__"), counted_rater_q(campaign, "rating__rater"),
        criterion__campaign=campaign, rating__output_b__isnull=True,
    ).order_by("id")


def rating_table_get(*, campaign: Campaign) -> RatingTable:
    """Flatten a campaign's single-output rating values into arrays (bounded memory per chunk)."""
    rows = rating_value_queryset(campaign=campaign).values_list(
        "rating__rater_id", "rating__output_id", "rating__output__item_id",
        "rating__output__system_id", "criterion_id", "value",
    ).iterator(chunk_size=CHUNK)
    # Tuples are turned into arrays a chunk at a time, so Python objects never pile up.
    chunks: list[np.ndarray] = []
    buffer: list[tuple] = []
    for row in rows:
        buffer.append(row)
        if len(buffer) == CHUNK:
            chunks.append(np.asarray(buffer, dtype=np.float64))
            buffer.clear()
    if buffer:
        chunks.append(np.asarray(buffer, dtype=np.float64))
    columns = np.concatenate(chunks).T if chunks else np.empty((6, 0), dtype=np.float64)
    ids = columns[:5].astype(np.int64)
    return RatingTable(rater=ids[0], output=ids[1], item=ids[2], system=ids[3],
                       criterion=ids[4], value=np.ascontiguousarray(columns[5]))


def criterion_list(*, campaign: Campaign) -> list[Criterion]:
    """The campaign's rubric in display order."""
    return list(campaign.criteria.order_by("position", "id"))


def system_list_with_counts(*, campaign: Campaign) -> list[System]:
    """Systems with `output_count` annotated, baseline first then by name."""
    return list(
        campaign.systems.annotate(
            output_count=Count("outputs", filter=real_output_q("outputs__"))
        ).order_by("-is_baseline", "name")
    )


def corpus_metric_values(*, campaign: Campaign) -> dict[int, dict[str, float | None]]:
    """System id → metric name → corpus-level value."""
    result: dict[int, dict[str, float | None]] = {}
    for system_id, metric, value in MetricValue.objects.filter(
        campaign=campaign, output__isnull=True
    ).values_list("system_id", "metric", "value"):
        result.setdefault(system_id, {})[metric] = value
    return result


def segment_metric_arrays(*, campaign: Campaign) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Metric name → (output ids, values) of the segment-level values, as arrays sorted by id."""
    ids: dict[str, list[int]] = {}
    values: dict[str, list[float | None]] = {}  # never None: filtered in the query
    for output_id, metric, value in (
        MetricValue.objects.filter(real_output_q("output__"), campaign=campaign,
                                   output__isnull=False, value__isnull=False)
        .order_by("output_id").values_list("output_id", "metric", "value")
        .iterator(chunk_size=CHUNK)
    ):
        ids.setdefault(metric, []).append(output_id)
        values.setdefault(metric, []).append(value)
    return {m: (np.asarray(ids[m], dtype=np.int64), np.asarray(values[m], dtype=np.float64))
            for m in ids}


def rater_names(*, user_ids: list[int]) -> dict[int, str]:
    """User id → username."""
    return dict(get_user_model().objects.filter(pk__in=user_ids).values_list("id", "username"))


def output_count(*, campaign: Campaign) -> int:
    """Number of outputs in the campaign."""
    return Output.objects.filter(real_output_q(), item__campaign=campaign).count()


def excluded_rater_names(*, campaign: Campaign) -> list[str]:
    """Usernames of the raters an admin excluded from the campaign, sorted."""
    return sorted(CampaignMembership.objects.filter(campaign=campaign, excluded=True)
                  .values_list("user__username", flat=True))


@dataclass(frozen=True)
class PairwiseTable:
    """A pairwise campaign's judgments, one array entry per rating (A is `output`)."""

    rater: np.ndarray  # int64 user ids
    item: np.ndarray  # int64 item ids
    system_a: np.ndarray  # int64 system ids of output (shown as A)
    system_b: np.ndarray  # int64 system ids of output_b (shown as B)
    choice: np.ndarray  # int8: 1 = A, -1 = B, 0 = tie, CHOICE_NONE = no overall choice
    preferences: dict[str, np.ndarray]  # criterion key -> int8 codes as `choice`

    def __len__(self) -> int:
        return int(self.choice.shape[0])


CHOICE_NONE = -2
_CHOICE_CODES: dict[str, int] = {Rating.Choice.A: 1, Rating.Choice.B: -1, Rating.Choice.TIE: 0}


def _choice_code(value: object) -> int:
    return _CHOICE_CODES.get(value, CHOICE_NONE) if isinstance(value, str) else CHOICE_NONE


def pair_rating_queryset(*, campaign: Campaign) -> QuerySet[Rating]:
    """The pair ratings that count: both outputs real, rater not excluded; ordered by id."""
    return Rating.objects.filter(
        real_output_q("output__"), real_output_q("output_b__"),
        counted_rater_q(campaign, "rater"),
        output__item__campaign=campaign, output_b__isnull=False,
    ).order_by("id")


def pairwise_table_get(*, campaign: Campaign, criteria: list[str]) -> PairwiseTable:
    """The campaign's pair ratings (both outputs real, rater not excluded) as arrays."""
    rows = (
        pair_rating_queryset(campaign=campaign)
        .values_list("rater_id", "output__item_id", "output__system_id", "output_b__system_id",
                     "choice", "preferences")
        .iterator(chunk_size=CHUNK)
    )
    # One int64 row per judgment (4 ids, choice, one code per criterion), turned into arrays
    # a chunk at a time so Python tuples never pile up.
    chunks: list[np.ndarray] = []
    buffer: list[list[int]] = []
    for rater, item, system_a, system_b, choice, prefs in rows:
        prefs = prefs if isinstance(prefs, dict) else {}
        buffer.append([rater, item, system_a, system_b, _choice_code(choice),
                       *(_choice_code(prefs.get(key)) for key in criteria)])
        if len(buffer) == CHUNK:
            chunks.append(np.asarray(buffer, dtype=np.int64))
            buffer.clear()
    if buffer:
        chunks.append(np.asarray(buffer, dtype=np.int64))
    width = 5 + len(criteria)
    columns = np.concatenate(chunks).T if chunks else np.empty((width, 0), dtype=np.int64)
    return PairwiseTable(
        rater=columns[0], item=columns[1], system_a=columns[2], system_b=columns[3],
        choice=columns[4].astype(np.int8),
        preferences={key: columns[5 + i].astype(np.int8) for i, key in enumerate(criteria)},
    )


@dataclass(frozen=True)
class GroupedSegment:
    """One real output of a perturbation group with a metric's segment value (None: none)."""

    system_id: int
    item_id: str
    group: str
    values: dict[str, float | None]


def grouped_segments_get(*, campaign: Campaign, metrics: list[str]) -> list[GroupedSegment]:
    """Real outputs whose item has a perturbation `group`, with their segment metric values."""
    outputs = (
        Output.objects.filter(real_output_q(), item__campaign=campaign)
        .exclude(item__group="").order_by("id")
        .values_list("id", "system_id", "item__external_id", "item__group")
    )
    found: dict[int, GroupedSegment] = {
        pk: GroupedSegment(system_id=system, item_id=item, group=group, values={})
        for pk, system, item, group in outputs.iterator(chunk_size=CHUNK)
    }
    if not found or not metrics:
        return list(found.values())
    values = MetricValue.objects.filter(
        real_output_q("output__"), campaign=campaign, output__isnull=False, metric__in=metrics,
    ).exclude(output__item__group="").values_list("output_id", "metric", "value")
    for output_id, metric, value in values.iterator(chunk_size=CHUNK):
        if output_id in found:
            found[output_id].values[metric] = value
    return list(found.values())


RUN_ACTIVE = (MetricRun.Status.PENDING, MetricRun.Status.RUNNING)


def metric_run_latest_for_campaign(*, campaign: Campaign) -> MetricRun | None:
    """The campaign's most recently created metric run, or None."""
    return MetricRun.objects.filter(campaign=campaign).order_by("-created_at", "-id").first()


def metric_run_active_for_campaign(*, campaign: Campaign) -> MetricRun | None:
    """The campaign's most recent pending or running metric run, or None."""
    return (MetricRun.objects.filter(campaign=campaign, status__in=RUN_ACTIVE)
            .order_by("-created_at", "-id").first())


def metric_run_get_for_campaign(*, campaign: Campaign, run_id: int) -> MetricRun:
    """The campaign's run with this id; 404 when it is not one of the campaign's runs."""
    run = MetricRun.objects.filter(campaign=campaign, pk=run_id).first()
    if run is None:
        raise Http404("no such metric run")
    return run


def duration_text(seconds: float) -> str:
    """0:41, 12:05 or 1:02:03 (rounded to whole seconds)."""
    total = max(int(round(seconds)), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(run: MetricRun, progress: RunProgress) -> str:
    """The one-line summary shown next to the bar: "12/40 chunks · 830 outputs/s · ETA 0:41"."""
    parts = [f"{progress.chunks_done}/{progress.chunks_total} chunks"]
    if progress.outputs_per_s is not None:
        parts.append(f"{progress.outputs_per_s:,.0f} outputs/s")
    if run.status in RUN_ACTIVE:
        if progress.eta_s is not None:
            parts.append(f"ETA {duration_text(progress.eta_s)}")
    else:
        parts.append(run.get_status_display().lower())
    return " · ".join(parts)


def metric_run_status_get(*, run: MetricRun, now: datetime | None = None) -> dict[str, Any]:
    """The run with its progress (as of `now`) and a one-line summary, for the API and UI."""
    # Imported here: selectors_runs loads the metric library, which report reads don't need.
    from metrics.selectors_runs import metric_run_progress

    progress = metric_run_progress(run=run, now=now or timezone.now())
    return {
        "id": run.pk, "status": progress.status, "active": run.status in RUN_ACTIVE,
        "metrics": list(run.metrics), "skipped": dict(run.skipped),
        "chunks_done": progress.chunks_done, "chunks_total": progress.chunks_total,
        "outputs_done": progress.outputs_done, "outputs_total": progress.outputs_total,
        "outputs_per_s": progress.outputs_per_s, "eta_s": progress.eta_s,
        "error": progress.error, "text": progress_text(run, progress),
        "created_at": run.created_at, "started_at": run.started_at,
        "finished_at": run.finished_at,
    }
