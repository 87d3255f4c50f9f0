"""Reads for metric runs: outputs as OutputRecords, what a campaign can feed, run progress.

Quality-control outputs (imported control items, `Output.control` set, and the platform's
degraded/repeat copies, `Item.qc_kind` set) are never part of a metric run: every read here
that feeds a run goes through `_run_outputs`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from annotations.models import Campaign, Item, Output, System
from metrics.compute.automatic import Need, OutputRecord
from metrics.models import MetricRun, MetricValue

# Output and item columns an OutputRecord is built from (one query, no model instances).
_RECORD_FIELDS = (
    "id", "system_id", "text", "prediction", "score", "logprobs", "ranking", "boxes",
    "confidence", "returns", "latency_ms", "token_count", "item__external_id",
    "item__references", "item__label", "item__relevance", "item__gold_boxes", "item__group",
)
BATCH = 2_000


@dataclass(frozen=True)
class ChunkRecords:
    """A chunk's outputs as records, with the output and system id of each (aligned)."""

    output_ids: tuple[int, ...]
    system_ids: tuple[int, ...]
    records: tuple[OutputRecord, ...]


@dataclass(frozen=True)
class RunProgress:
    """A run's progress: chunks and outputs done, throughput and estimated time left, and how
    many values were computed and how many reused (their inputs had not changed)."""

    status: str
    chunks_done: int
    chunks_total: int
    outputs_done: int
    outputs_total: int
    outputs_per_s: float | None
    eta_s: float | None
    error: str
    segments_computed: int = 0
    segments_reused: int = 0
    corpus_computed: int = 0
    corpus_reused: int = 0


def _tuple_or_none(value: Any) -> tuple[Any, ...] | None:
    return None if value is None else tuple(value)


def _boxes(value: Any) -> tuple[tuple[float, ...], ...] | None:
    return None if value is None else tuple(tuple(box) for box in value)


# An output a metric run reads: not a control item and not on a QC copy's item.
_REAL_OUTPUT = Q(control__isnull=True) & Q(item__qc_kind="")
_QC_OUTPUT = Q(control__isnull=False) | ~Q(item__qc_kind="")


def _run_outputs() -> QuerySet[Output]:
    return Output.objects.filter(_REAL_OUTPUT)


def _record(row: dict[str, Any]) -> OutputRecord:
    return OutputRecord(
        text=row["text"], references=tuple(row["item__references"] or ()),
        label=row["item__label"], prediction=row["prediction"], score=row["score"],
        logprobs=_tuple_or_none(row["logprobs"]), ranking=_tuple_or_none(row["ranking"]),
        relevance=row["item__relevance"], boxes=_boxes(row["boxes"]),  # type: ignore[arg-type]
        confidence=_tuple_or_none(row["confidence"]),
        gold_boxes=_boxes(row["item__gold_boxes"]),  # type: ignore[arg-type]
        returns=_tuple_or_none(row["returns"]), latency_ms=row["latency_ms"],
        tokens=row["token_count"], group=row["item__group"] or None,
        item_id=row["item__external_id"],
    )


def _rows(queryset: QuerySet[Output]) -> Iterator[dict[str, Any]]:
    return queryset.order_by("id").values(*_RECORD_FIELDS).iterator(chunk_size=BATCH)


def output_id_list_for_campaign(*, campaign: Campaign) -> Iterator[int]:
    """The campaign's output ids (QC outputs left out) in ascending order, streamed."""
    return (
        _run_outputs().filter(item__campaign=campaign).order_by("id")
        .values_list("id", flat=True).iterator(chunk_size=10_000)
    )


def chunk_records_get(*, campaign_id: int, first_id: int, last_id: int) -> ChunkRecords:
    """The campaign's non-QC outputs with first_id ≤ id ≤ last_id as records, ordered by id."""
    queryset = _run_outputs().filter(
        item__campaign_id=campaign_id, id__gte=first_id, id__lte=last_id
    )
    output_ids: list[int] = []
    system_ids: list[int] = []
    records: list[OutputRecord] = []
    for row in _rows(queryset):
        output_ids.append(row["id"])
        system_ids.append(row["system_id"])
        records.append(_record(row))
    return ChunkRecords(tuple(output_ids), tuple(system_ids), tuple(records))


def system_records_get(*, system_id: int) -> list[OutputRecord]:
    """All of one system's non-QC outputs as records, ordered by output id."""
    return [_record(row) for row in _rows(_run_outputs().filter(system_id=system_id))]


def campaign_inputs_available(*, campaign: Campaign) -> frozenset[Need]:
    """The metric inputs at least one of the campaign's non-QC outputs (or its item) carries."""
    outputs = _run_outputs().filter(item__campaign=campaign)
    items = Item.objects.filter(campaign=campaign, qc_kind="")
    if not outputs.exists():
        return frozenset()
    checks: dict[Need, bool] = {
        Need.TEXT: True,
        Need.REFERENCES: items.exclude(Q(references=[]) | Q(references__isnull=True)).exists(),
        Need.LABEL: items.filter(label__isnull=False).exists(),
        Need.RELEVANCE: items.filter(relevance__isnull=False).exists(),
        Need.GOLD_BOXES: items.filter(gold_boxes__isnull=False).exists(),
        Need.PREDICTION: outputs.filter(prediction__isnull=False).exists(),
        Need.SCORE: outputs.filter(score__isnull=False).exists(),
        Need.LOGPROBS: outputs.filter(logprobs__isnull=False).exists(),
        Need.RANKING: outputs.filter(ranking__isnull=False).exists(),
        Need.BOXES: outputs.filter(boxes__isnull=False).exists(),
        Need.RETURNS: outputs.filter(returns__isnull=False).exists(),
        Need.LATENCY: outputs.filter(latency_ms__isnull=False).exists(),
        Need.TOKENS: outputs.filter(token_count__isnull=False).exists(),
    }
    return frozenset(need for need, present in checks.items() if present)


def qc_output_ids_for_campaign(*, campaign: Campaign) -> QuerySet[Output, Any]:
    """Ids of the campaign's QC outputs (control items and QC copies), as a subquery."""
    return Output.objects.filter(_QC_OUTPUT, item__campaign=campaign).values("id")


def system_id_list_for_campaign(*, campaign_id: int) -> list[int]:
    """The campaign's system ids in ascending order."""
    return list(System.objects.filter(campaign_id=campaign_id).order_by("id")
                .values_list("id", flat=True))


def segment_fingerprints_get(
    *, campaign_id: int, first_id: int, last_id: int, metrics: Sequence[str]
) -> dict[tuple[int, str], str]:
    """(output id, metric) → stored fingerprint of the segment values in an output id range.

    Filtered on the output range alone in SQL (one range of the (output, metric) index;
    with the campaign in the WHERE the planner could read every value of the campaign per
    chunk), the campaign in Python: ids of other campaigns' outputs may fall in the range.
    """
    rows = MetricValue.objects.filter(
        output_id__gte=first_id, output_id__lte=last_id, metric__in=list(metrics),
    ).values_list("campaign_id", "output_id", "metric", "fingerprint")
    return {(output_id, metric): fingerprint
            for campaign, output_id, metric, fingerprint in rows if campaign == campaign_id}


def corpus_fingerprints_get(*, campaign_id: int) -> dict[tuple[int, str], str]:
    """(system id, metric) → stored fingerprint of the campaign's corpus-level values."""
    rows = MetricValue.objects.filter(
        campaign_id=campaign_id, output__isnull=True
    ).values_list("system_id", "metric", "fingerprint")
    return {(system_id, metric): fingerprint for system_id, metric, fingerprint in rows}


def segment_values_for_system(*, system_id: int, metric: str) -> list[float | None]:
    """The stored segment values of one metric over a system's outputs.

    Runs store segment values of non-QC outputs only (QC outputs are left out of every run),
    so the system's segment rows are read as they are, from one index range.
    """
    return list(
        MetricValue.objects.filter(system_id=system_id, metric=metric, output__isnull=False)
        .order_by().values_list("value", flat=True).iterator(chunk_size=_FETCH)
    )


def segment_stats_for_system(*, system_id: int, metric: str) -> list[tuple[float | None, Any]]:
    """(value, details) of one metric's stored segment values over a system's outputs, in
    output id order (details hold sacrebleu's segment statistics)."""
    return list(
        MetricValue.objects.filter(system_id=system_id, metric=metric, output__isnull=False)
        .order_by("output_id").values_list("value", "details").iterator(chunk_size=_FETCH)
    )


# Rows per fetch when reading a system's values (bounded memory for very large systems).
_FETCH = 50_000


def metric_run_get(*, run_id: int) -> MetricRun:
    """The run by id (DoesNotExist when absent)."""
    return MetricRun.objects.select_related("campaign").get(pk=run_id)


def metric_run_progress(*, run: MetricRun, now: datetime) -> RunProgress:
    """The run's progress; throughput and ETA from started_at (finished_at once done)."""
    rate: float | None = None
    eta: float | None = None
    if run.started_at is not None:
        elapsed = ((run.finished_at or now) - run.started_at).total_seconds()
        if elapsed > 0 and run.outputs_done:
            rate = run.outputs_done / elapsed
            eta = max(run.outputs_total - run.outputs_done, 0) / rate
    return RunProgress(
        status=run.status, chunks_done=run.chunks_done, chunks_total=run.chunks_total,
        outputs_done=run.outputs_done, outputs_total=run.outputs_total,
        outputs_per_s=rate, eta_s=eta, error=run.error,
        segments_computed=run.segments_computed, segments_reused=run.segments_reused,
        corpus_computed=run.corpus_computed, corpus_reused=run.corpus_reused,
    )


def segment_metric_values(*, campaign: Campaign) -> dict[tuple[int, str], float | None]:
    """(output id, metric) → segment-level value."""
    return {
        (output_id, metric): value
        for output_id, metric, value in MetricValue.objects.filter(
            campaign=campaign, output__isnull=False
        ).values_list("output_id", "metric", "value").iterator(chunk_size=10_000)
    }


def corpus_metric_rows(*, campaign: Campaign) -> QuerySet[MetricValue]:
    """The campaign's corpus-level (per system) metric values."""
    return MetricValue.objects.filter(campaign=campaign, output__isnull=True).order_by(
        "system_id", "metric"
    )
