"""One chunk of a run: segment-level values of its outputs, reusing unchanged ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from metrics.compute.automatic import (
    MetricResult,
    metric_compute_many,
    metric_get,
)
from metrics.models import MetricRun, MetricRunChunk, MetricValue
from metrics.selectors_runs import (
    ChunkRecords,
    chunk_records_get,
    segment_fingerprints_get,
)

from .digests import _MOD, _fingerprint, _system_digests, metric_digest, record_digest
from .lifecycle import ACTIVE, _mark_running, _options
from .upsert import _reason, metric_values_upsert


def metric_run_chunk_execute(*, run_id: int, chunk_index: int) -> int:
    """Store segment-level values for one chunk's outputs; returns the outputs counted.

    Values whose fingerprint matches the stored one are kept (reused), the others are computed
    and upserted. Idempotent: values are upserted per (output, metric), and the run's counters
    move only when the chunk row goes from not done to done. A cancelled or finished run is
    left alone.
    """
    run = MetricRun.objects.get(pk=run_id)
    if run.status not in ACTIVE:
        return 0
    chunk = MetricRunChunk.objects.get(run_id=run_id, index=chunk_index)
    if chunk.done_at is not None:
        return 0
    _mark_running(run_id)
    data = chunk_records_get(campaign_id=run.campaign_id, first_id=chunk.first_output_id,
                             last_id=chunk.last_output_id)
    digests = [record_digest(record) for record in data.records]
    names = [name for name in run.metrics if metric_get(name).segment_level]
    stored = {} if run.force or not data.records else segment_fingerprints_get(
        campaign_id=run.campaign_id, first_id=chunk.first_output_id,
        last_id=chunk.last_output_id, metrics=names,
    )
    values, reused = _chunk_values(run, names, data, digests, stored, timezone.now())
    with transaction.atomic():
        metric_values_upsert(values=values, level="segment")
        counted = MetricRunChunk.objects.filter(pk=chunk.pk, done_at__isnull=True).update(
            done_at=timezone.now(), digests=_system_digests(data, digests)
        )
        if counted:
            MetricRun.objects.filter(pk=run_id).update(
                chunks_done=F("chunks_done") + 1,
                outputs_done=F("outputs_done") + len(data.output_ids),
                segments_computed=F("segments_computed") + len(values),
                segments_reused=F("segments_reused") + reused,
            )
    return len(data.output_ids) if counted else 0


def _chunk_values(
    run: MetricRun, names: Sequence[str], data: ChunkRecords, digests: Sequence[bytes],
    stored: Mapping[tuple[int, str], str], now: Any,
) -> tuple[list[MetricValue], int]:
    """The segment values to store for a chunk, and how many stored ones are kept.

    Only the records whose fingerprint changed are computed (a segment value depends on its
    own record alone, the contract of a segment-level metric). Metrics with the same changed
    records are computed together (metric_compute_many: ROUGE types share one scorer).
    sacrebleu metrics keep each segment's statistics in `details` for finalize.
    """
    prints: dict[str, list[str]] = {}
    groups: dict[tuple[int, ...], list[str]] = {}
    for name in names:
        key = metric_digest(run=run, name=name)
        prints[name] = [_fingerprint(digest, key) for digest in digests]
        changed = tuple(i for i, (output_id, fingerprint) in enumerate(
            zip(data.output_ids, prints[name], strict=True))
            if stored.get((output_id, name)) != fingerprint)
        groups.setdefault(changed, []).append(name)
    values: list[MetricValue] = []
    reused = 0
    for changed, group in groups.items():
        reused += (len(data.output_ids) - len(changed)) * len(group)
        if not changed:
            continue
        results = metric_compute_many(group, [data.records[i] for i in changed],
                                      _options(run, segments=True))
        for name in group:
            values.extend(_segment_values(run, name, results[name], data, changed,
                                          prints[name], now))
    return values, reused


def _segment_values(run: MetricRun, name: str, result: MetricResult, data: ChunkRecords,
                    changed: Sequence[int], prints: Sequence[str], now: Any) -> list[MetricValue]:
    segments = result.segments or (None,) * len(changed)
    stats = result.details.get("segment_stats") or (None,) * len(changed)
    nrefs = result.details.get("segment_nrefs") or (None,) * len(changed)
    return [
        MetricValue(
            run_id=run.pk, campaign_id=run.campaign_id, system_id=data.system_ids[i],
            output_id=data.output_ids[i], metric=name, value=value,
            reason="" if value is not None else _reason(result, "no value for this output"),
            details={} if stat is None else {"stats": stat, "nrefs": nref},
            fingerprint=prints[i], updated_at=now,
        )
        for i, value, stat, nref in zip(changed, segments, stats, nrefs, strict=True)
    ]


# --- finalize --------------------------------------------------------------------------------


class ChunksPending(Exception):
    """Finalize was called before every chunk of the run was done (a duplicated chunk task
    can make the chord's counter complete early); the task retries later."""


def _input_digests(run: MetricRun) -> dict[int, bytes]:
    """system id → digest of the system's inputs (outputs and Σ of their hashes)."""
    totals: dict[int, list[int]] = {}
    for digests in MetricRunChunk.objects.filter(run_id=run.pk).values_list("digests",
                                                                            flat=True):
        for system, (count, total) in (digests or {}).items():
            entry = totals.setdefault(int(system), [0, 0])
            entry[0] += count
            entry[1] = (entry[1] + int(total, 16)) % _MOD
    return {system: f"{count}:{total:032x}".encode()
            for system, (count, total) in totals.items()}
