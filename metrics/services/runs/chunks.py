"""One chunk of a run: segment-level values of its outputs, reusing unchanged ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from metrics.compute.automatic import (
    MetricResult,
    metric_compute_many,
    metric_get,
)
from metrics.compute.automatic.generation import ROUGE_TYPES
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
    with _ValueWriter(background=_write_behind_ok()) as writer:
        computed, reused = _chunk_values(run, names, data, digests, stored, timezone.now(),
                                         writer.write)
        writer.wait()  # every value stored (or the writer's error raised) before "done"
        with transaction.atomic():
            metric_values_upsert(values=writer.held, level="segment")
            counted = MetricRunChunk.objects.filter(pk=chunk.pk, done_at__isnull=True).update(
                done_at=timezone.now(), digests=_system_digests(data, digests)
            )
            if counted:
                MetricRun.objects.filter(pk=run_id).update(
                    chunks_done=F("chunks_done") + 1,
                    outputs_done=F("outputs_done") + len(data.output_ids),
                    segments_computed=F("segments_computed") + computed,
                    segments_reused=F("segments_reused") + reused,
                )
    return len(data.output_ids) if counted else 0


def _write_behind_ok() -> bool:
    """Write values from a second connection while computing: PostgreSQL, outside any
    transaction (a worker's task; not inside a test's or a caller's atomic block, whose
    uncommitted rows another connection could not see)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


class _ValueWriter:
    """Stores a chunk's values as each metric family is computed.

    In the background (a worker's task on PostgreSQL) each batch is upserted by one writer
    thread with its own connection, in its own transaction, while the next family is
    computed: the database's work overlaps the metric libraries' instead of following it.
    The chunk is marked done only after every batch is stored; a failure leaves it not
    done, to be retried (upserts are idempotent, and a stored value whose fingerprint
    matches is reused). Otherwise the values are held and stored with the chunk's
    completion, in one transaction.
    """

    def __init__(self, *, background: bool) -> None:
        self.held: list[MetricValue] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="metric-values") \
            if background else None
        self._pending: list[Future[None]] = []

    def write(self, values: list[MetricValue]) -> None:
        if self._pool is None:
            self.held.extend(values)
        elif values:
            self._pending.append(self._pool.submit(_upsert_batch, values))

    def wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def __enter__(self) -> _ValueWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            # Let queued writes finish, then close the writer thread's connection.
            for future in self._pending:
                future.exception()
            self._pool.submit(_close_connection).result()
            self._pool.shutdown(wait=True)


def _close_connection() -> None:
    connection.close()  # looked up in the calling thread: the writer's own connection


def _upsert_batch(values: list[MetricValue]) -> None:
    with transaction.atomic():
        metric_values_upsert(values=values, level="segment")


def _chunk_values(
    run: MetricRun, names: Sequence[str], data: ChunkRecords, digests: Sequence[bytes],
    stored: Mapping[tuple[int, str], str], now: Any,
    write: Callable[[list[MetricValue]], None],
) -> tuple[int, int]:
    """Compute a chunk's segment values, handing each metric family's to `write`; returns
    (values computed, stored values kept).

    Only the records whose fingerprint changed are computed (a segment value depends on its
    own record alone, the contract of a segment-level metric). Metrics with the same changed
    records are computed family by family (metric_compute_many: ROUGE types share one
    scorer). sacrebleu metrics keep each segment's statistics in `details` for finalize.
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
    computed = reused = 0
    for changed, group in groups.items():
        reused += (len(data.output_ids) - len(changed)) * len(group)
        if not changed:
            continue
        records = [data.records[i] for i in changed]
        for family in _families(group):
            results = metric_compute_many(family, records, _options(run, segments=True))
            values: list[MetricValue] = []
            for name in family:
                values.extend(_segment_values(run, name, results[name], data, changed,
                                              prints[name], now))
            write(values)
            computed += len(values)
    return computed, reused


def _families(names: Sequence[str]) -> list[list[str]]:
    """Metrics computed together: the ROUGE types (one shared scorer), each other alone."""
    rouge = [name for name in names if name in ROUGE_TYPES]
    return ([rouge] if rouge else []) + [[name] for name in names if name not in ROUGE_TYPES]


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
