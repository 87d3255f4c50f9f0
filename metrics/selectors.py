"""Reads that feed the report: ratings flattened into numpy arrays, loaded in chunks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import Count

from annotations.models import Campaign, Criterion, Output, RatingValue, System
from metrics.models import MetricValue

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


def rating_table_get(*, campaign: Campaign) -> RatingTable:
    """Flatten a campaign's single-output rating values into arrays (bounded memory per chunk)."""
    queryset = RatingValue.objects.filter(
        criterion__campaign=campaign, rating__output_b__isnull=True
    )
    # Ordered by id so exports can line rows up with arrays computed from this table.
    rows = queryset.order_by("id").values_list(
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
        campaign.systems.annotate(output_count=Count("outputs")).order_by("-is_baseline", "name")
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
    values: dict[str, list[float]] = {}
    for output_id, metric, value in (
        MetricValue.objects.filter(campaign=campaign, output__isnull=False, value__isnull=False)
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
    return Output.objects.filter(item__campaign=campaign).count()
