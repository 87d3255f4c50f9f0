"""Metric runs: start (chunked, queued on commit as a Celery chord), chunk, finalize, fail, cancel.

A run splits the campaign's non-QC outputs into chunks of consecutive output ids
(MetricRunChunk rows). Each chunk task stores segment-level values of its outputs; the
chord's final task computes corpus-level values per system: sacrebleu's corpus BLEU/chrF/TER
and pooled perplexity over all of the system's outputs, ROUGE and METEOR as the mean of the
stored segment values. Values are upserted on the partial unique constraints, and a chunk
counts towards progress only the first time it completes, so a retried or duplicated chunk
never double-counts; finalize waits (ChunksPending) until every chunk is done.

Re-running recomputes only what changed: every stored value carries a fingerprint of its
inputs, metric, options and library versions (see "fingerprints" below); a value whose
fingerprint is unchanged is kept, and the run counts values computed and reused. Without a
broker (CELERY_TASK_ALWAYS_EAGER) the same chord runs in-process when the transaction commits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotations.models import Campaign
from metrics.compute.automatic import (
    MetricOptions,
    MetricResult,
    OutputRecord,
    metric_compute_many,
    metric_get,
    wordnet_find,
)
from metrics.compute.automatic.base import library_versions
from metrics.compute.automatic.generation import SACREBLEU_METRICS, sacrebleu_from_stats
from metrics.compute.automatic.lm import lm_identity, lm_perplexity_pooled
from metrics.models import MetricRun, MetricRunChunk, MetricValue
from metrics.selectors_runs import (
    ChunkRecords,
    campaign_inputs_available,
    chunk_records_get,
    corpus_fingerprints_get,
    output_id_list_for_campaign,
    qc_output_ids_for_campaign,
    segment_fingerprints_get,
    segment_stats_for_system,
    segment_values_for_system,
    system_id_list_for_campaign,
    system_records_get,
)

logger = logging.getLogger(__name__)

ACTIVE = (MetricRun.Status.PENDING, MetricRun.Status.RUNNING)
UNKNOWN_METRIC = "unknown metric"
VERSIONED_LIBRARIES = ("sacrebleu", "rouge-score", "nltk", "scikit-learn", "numpy", "scipy")
_OPTION_FIELDS = {f.name for f in dataclasses.fields(MetricOptions)}
_REASON_MAX = MetricValue._meta.get_field("reason").max_length or 300
_UPSERT_BATCH = 500
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(OutputRecord))
# System value = mean of the stored segment values (DESIGN §4: ROUGE and METEOR).
SEGMENT_MEAN_METRICS = frozenset({"rouge1", "rouge2", "rougeL", "rougeLsum", "meteor"})


def metric_options_for_campaign(*, campaign: Campaign) -> dict[str, Any]:
    """The MetricOptions fields set in campaign.options (`tokenizer` is read as `tokenize`)."""
    raw = dict(campaign.options or {})
    if "tokenizer" in raw and "tokenize" not in raw:
        raw["tokenize"] = raw["tokenizer"]
    return {key: value for key, value in raw.items() if key in _OPTION_FIELDS}


def _options(run: MetricRun, *, segments: bool) -> MetricOptions:
    stored = dict(run.options or {})
    if stored.get("wordnet_dir"):
        stored["wordnet_dir"] = Path(stored["wordnet_dir"])
    stored["segments"] = segments
    return MetricOptions(**stored)


def _metrics_plan(
    *, campaign: Campaign, names: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """Split requested names into computable ones and name → reason for the others."""
    available = campaign_inputs_available(campaign=campaign)
    computable: list[str] = []
    skipped: dict[str, str] = {}
    for name in dict.fromkeys(names):
        try:
            spec = metric_get(name)
        except KeyError:
            skipped[name] = UNKNOWN_METRIC
            continue
        lacking = sorted(str(need) for need in spec.needs - available)
        if lacking:
            skipped[name] = f"the campaign's outputs have no {', '.join(lacking)}"
        else:
            computable.append(name)
    return computable, skipped


def _chunk_bounds(ids: Iterable[int], chunk_size: int) -> list[tuple[int, int, int]]:
    """(first id, last id, count) per run of `chunk_size` consecutive ids in ascending order."""
    bounds: list[tuple[int, int, int]] = []
    first = last = count = 0
    for output_id in ids:
        if count == 0:
            first = output_id
        last, count = output_id, count + 1
        if count == chunk_size:
            bounds.append((first, last, count))
            count = 0
    if count:
        bounds.append((first, last, count))
    return bounds


def metric_run_start(
    *, campaign: Campaign, metrics: list[str] | None = None, chunk_size: int = 1000,
    created_by: Any = None, force: bool = False,
) -> MetricRun:
    """Create a run over the campaign's outputs in chunks and queue its chord on commit.

    Unknown metric names and metrics the campaign's data cannot feed are recorded in
    `run.skipped` with a reason; they are not errors. QC outputs are left out, and values an
    earlier run stored for them are deleted. Values whose inputs have not changed since they
    were stored are reused unless `force` is set.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    names = list(campaign.metrics or []) if metrics is None else list(metrics)
    computable, skipped = _metrics_plan(campaign=campaign, names=names)
    with transaction.atomic():
        MetricValue.objects.filter(
            campaign=campaign, output__in=qc_output_ids_for_campaign(campaign=campaign)
        ).delete()
        bounds = _chunk_bounds(output_id_list_for_campaign(campaign=campaign), chunk_size)
        run = MetricRun(
            campaign=campaign, metrics=computable, skipped=skipped,
            options=metric_options_for_campaign(campaign=campaign),
            versions=library_versions(*VERSIONED_LIBRARIES), created_by=created_by,
            chunks_total=len(bounds), outputs_total=sum(count for _, _, count in bounds),
            force=force,
        )
        run.full_clean(exclude=["metrics"])  # a run whose metrics were all skipped is valid
        run.save()
        MetricRunChunk.objects.bulk_create(
            MetricRunChunk(run=run, index=index, first_output_id=first, last_output_id=last,
                           outputs=count)
            for index, (first, last, count) in enumerate(bounds)
        )
        run_id = run.pk
        transaction.on_commit(lambda: metric_run_queue(run_id=run_id))
    return run


def metric_run_queue(*, run_id: int) -> None:
    """Send the run's chord: a group of chunk tasks, then finalize (eager without a broker).

    A failure to queue (broker down) or, in eager mode, a task's failure marks the run failed.
    """
    from celery import chord, group

    from metrics.tasks import metric_run_chunk as metric_run_chunk_task
    from metrics.tasks import metric_run_finalize as metric_run_finalize_task

    indexes = list(
        MetricRunChunk.objects.filter(run_id=run_id).order_by("index")
        .values_list("index", flat=True)
    )
    finalize = metric_run_finalize_task.si(run_id)
    try:
        if indexes:
            chord(group([metric_run_chunk_task.si(run_id, index) for index in indexes]))(finalize)
        else:
            finalize.apply_async()
    except Exception as error:  # noqa: BLE001 - stored on the run, which is what callers read
        logger.exception("metric run %s could not be queued or failed", run_id)
        metric_run_fail(run_id=run_id, error=f"{type(error).__name__}: {error}")


def _mark_running(run_id: int) -> None:
    MetricRun.objects.filter(pk=run_id, status=MetricRun.Status.PENDING).update(
        status=MetricRun.Status.RUNNING, started_at=timezone.now()
    )


# --- fingerprints: what a stored value was computed from -------------------------------------
#
# A segment value's fingerprint hashes its output's record (the output's own fields and its
# item's gold data: everything a metric can read) with the metric's digest (name, the run's
# metric options, the versions of the libraries, METEOR's WordNet). A system's corpus value
# hashes the metric's digest with the system's input digest: the number of its outputs and the
# sum modulo 2**128 of a hash of (output id, record) per output. A sum does not depend on how
# the outputs were split into chunks, so each chunk adds its part (MetricRunChunk.digests) and
# finalize adds up the parts without reading the outputs again.

_MOD = 1 << 128


def _hash(*parts: bytes) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part)
    return digest.digest()


def record_digest(record: OutputRecord) -> bytes:
    """A hash of every field of an output record (canonical JSON, sorted keys)."""
    fields = tuple(getattr(record, name) for name in _RECORD_FIELDS)
    return _hash(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
                              default=str))


def metric_digest(*, run: MetricRun, name: str) -> bytes:
    """A hash of what besides the inputs decides a metric's values in this run."""
    spec = metric_get(name)
    identity: dict[str, Any] = {
        "metric": name, "options": run.options, "versions": run.versions,
        "segment_level": spec.segment_level, "custom": spec.custom,
    }
    if name == "meteor":
        folder = wordnet_find(_options(run, segments=True).wordnet_dir)
        identity["wordnet"] = str(folder) if folder else None
    if name == "lm_perplexity":
        # Another model (or the extra installed later) must not reuse the old values.
        identity["lm"] = lm_identity()
    return _hash(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS, default=str))


def _fingerprint(*parts: bytes) -> str:
    return _hash(*parts).hex()


def _system_digests(data: ChunkRecords, digests: Sequence[bytes]) -> dict[str, list[Any]]:
    """system id → [outputs, hex of Σ hash(output id, record) mod 2**128] over one chunk."""
    sums: dict[str, list[Any]] = {}
    for output_id, system_id, digest in zip(data.output_ids, data.system_ids, digests,
                                            strict=True):
        entry = sums.setdefault(str(system_id), [0, 0])
        entry[0] += 1
        entry[1] = (entry[1] + int.from_bytes(_hash(str(output_id).encode(), digest))) % _MOD
    return {key: [count, f"{total:032x}"] for key, (count, total) in sums.items()}


# --- chunks ----------------------------------------------------------------------------------


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


def metric_run_finalize(*, run_id: int) -> MetricRun:
    """Compute corpus-level values per system and metric, then mark the run succeeded.

    ROUGE and METEOR system values are the mean of the stored segment values (DESIGN §4);
    the other metrics (sacrebleu's corpus BLEU/chrF/TER, pooled perplexity, …) are computed
    over all of the system's outputs. A (system, metric) value whose inputs, metric, options
    and library versions have not changed is kept. Raises ChunksPending when chunks remain.
    """
    run = MetricRun.objects.select_related("campaign").get(pk=run_id)
    if run.status not in ACTIVE:
        return run
    if MetricRunChunk.objects.filter(run_id=run_id, done_at__isnull=True).exists():
        raise ChunksPending(f"metric run {run_id} has chunks not done yet")
    _mark_running(run_id)
    now = timezone.now()
    inputs = _input_digests(run)
    stored = {} if run.force else corpus_fingerprints_get(campaign_id=run.campaign_id)
    keys = {name: metric_digest(run=run, name=name) for name in run.metrics}
    values: list[MetricValue] = []
    reused = 0
    for system_id in system_id_list_for_campaign(campaign_id=run.campaign_id):
        records: list[OutputRecord] | None = None
        system_inputs = inputs.get(system_id, b"0:" + b"0" * 32)
        for name in run.metrics:
            fingerprint = _fingerprint(keys[name], system_inputs)
            if stored.get((system_id, name)) == fingerprint:
                reused += 1
                continue
            result = (_segment_mean_result(run, system_id, name)
                      or _segment_stats_result(run, system_id, name)
                      or _lm_pooled_result(system_id, name))
            if result is None:
                if records is None:
                    records = system_records_get(system_id=system_id)
                result = metric_get(name).compute(records, _options(run, segments=False))
            values.append(_corpus_value(run, system_id, result, now, fingerprint))
        for name, reason in run.skipped.items():
            if reason != UNKNOWN_METRIC:
                values.append(_corpus_value(
                    run, system_id, MetricResult(name=name, value=None, reason=reason), now, ""
                ))
    with transaction.atomic():
        locked = MetricRun.objects.select_for_update().get(pk=run_id)
        if locked.status not in ACTIVE:
            return locked
        metric_values_upsert(values=values, level="corpus")
        locked.status = MetricRun.Status.SUCCEEDED
        locked.finished_at = timezone.now()
        locked.started_at = locked.started_at or now
        locked.corpus_computed = sum(1 for value in values if value.fingerprint)
        locked.corpus_reused = reused
        locked.save(update_fields=["status", "finished_at", "started_at", "corpus_computed",
                                   "corpus_reused"])
    return locked


def _segment_stats_result(run: MetricRun, system_id: int, name: str) -> MetricResult | None:
    """A sacrebleu corpus value from the stored segment statistics (equal to corpus_score over
    the system's outputs), or None to compute instead (values stored without statistics)."""
    if name not in SACREBLEU_METRICS:
        return None
    rows = segment_stats_for_system(system_id=system_id, metric=name)
    stats = [(details or {}).get("stats") for value, details in rows if value is not None]
    if not stats or any(stat is None for stat in stats):
        return None
    nrefs = [details["nrefs"] for value, details in rows if value is not None]
    return sacrebleu_from_stats(name, stats, nrefs, _options(run, segments=False))


def _lm_pooled_result(system_id: int, name: str) -> MetricResult | None:
    """lm_perplexity pooled from the stored per-output (NLL, tokens), so the model does not run
    over every output a second time; None to compute instead (values stored without them)."""
    if name != "lm_perplexity":
        return None
    rows = segment_stats_for_system(system_id=system_id, metric=name)
    stats = [(details or {}).get("stats") for value, details in rows if value is not None]
    if not stats or any(stat is None for stat in stats):
        return None
    return lm_perplexity_pooled(stats)


# A probe record: computing a mean-of-segments metric on it yields the result's details
# (tokenizer, stemmer, WordNet mode, versions) without touching the system's outputs.
DETAILS_PROBE = OutputRecord(text="a", references=("a",))


def _segment_mean_result(run: MetricRun, system_id: int, name: str) -> MetricResult | None:
    """ROUGE/METEOR as the mean of the stored segment values, or None to compute instead.

    The mean is math.fsum over the defined values / their number, as the metric's own
    segment_mean; with no defined value the caller computes the metric for its reason.
    """
    if name not in SEGMENT_MEAN_METRICS:
        return None
    defined = [value for value in segment_values_for_system(system_id=system_id, metric=name)
               if value is not None]
    if not defined:
        return None
    probe = metric_get(name).compute([DETAILS_PROBE], _options(run, segments=True))
    details = {**probe.details, "n": len(defined), "from": "mean of stored segment values"}
    return MetricResult(name=name, value=math.fsum(defined) / len(defined), details=details)


def _corpus_value(run: MetricRun, system_id: int, result: MetricResult, now: Any,
                  fingerprint: str) -> MetricValue:
    return MetricValue(
        run_id=run.pk, campaign_id=run.campaign_id, system_id=system_id, output=None,
        metric=result.name, value=result.value,
        reason="" if result.value is not None else _reason(result, "undefined"),
        details=_jsonable({**result.details, "run": run.pk}), fingerprint=fingerprint,
        updated_at=now,
    )


def _reason(result: MetricResult, default: str) -> str:
    return (result.reason or default)[:_REASON_MAX]


def _jsonable(value: Any) -> Any:
    """Details as JSON-safe values: numpy scalars/arrays unwrapped, NaN/inf → None."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def metric_run_fail(*, run_id: int, error: str) -> None:
    """Mark an unfinished run failed with the error (the first error wins)."""
    MetricRun.objects.filter(pk=run_id, status__in=ACTIVE).update(
        status=MetricRun.Status.FAILED, error=error, finished_at=timezone.now()
    )


def metric_run_cancel(*, run: MetricRun) -> MetricRun:
    """Cancel an unfinished run: its remaining chunks and its final step do nothing."""
    MetricRun.objects.filter(pk=run.pk, status__in=ACTIVE).update(
        status=MetricRun.Status.CANCELLED, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


_CONFLICT = {
    "segment": (("output_id", "metric"), "output_id IS NOT NULL"),
    "corpus": (("system_id", "metric"), "output_id IS NULL"),
}
_COLUMNS = ("run_id", "campaign_id", "system_id", "output_id", "metric", "value", "reason",
            "details", "fingerprint", "updated_at")
_UPDATED = ("run_id", "value", "reason", "details", "fingerprint", "updated_at")
# PostgreSQL array types of _COLUMNS for the one-array-per-column upsert.
_PG_TYPES = ("bigint", "bigint", "bigint", "bigint", "text", "double precision", "text",
             "jsonb", "text", "timestamptz")
_UNNEST_BATCH = 5_000
# What JSONField's json.dumps accepts too: int keys (class labels) become strings.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _upsert_unnest(values: Sequence[MetricValue], level: str) -> None:
    """PostgreSQL: the same upsert with one array parameter per column (INSERT … SELECT FROM
    unnest): ten parameters per statement instead of ten per row, so neither our code nor
    psycopg formats a placeholder per value (a third of a chunk's database time before)."""
    keys, predicate = _CONFLICT[level]
    quote = connection.ops.quote_name
    ordered = sorted(values, key=lambda v: tuple(getattr(v, key) for key in keys))
    arrays = ", ".join(f"%s::{kind}[]" for kind in _PG_TYPES)
    sql = (
        f"INSERT INTO {quote(MetricValue._meta.db_table)} "
        f"({', '.join(quote(c) for c in _COLUMNS)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) WHERE {predicate} DO UPDATE SET "
        + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in _UPDATED)
    )
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), _UNNEST_BATCH):
            batch = ordered[start:start + _UNNEST_BATCH]
            columns: list[list[Any]] = [[getattr(v, column) for v in batch]
                                        for column in _COLUMNS]
            # details go as JSON text (cast to jsonb by the array type), like JSONField saves.
            columns[_COLUMNS.index("details")] = [
                orjson.dumps(v.details, option=_JSON_OPTIONS).decode() for v in batch]
            cursor.execute(sql, columns)


def metric_values_upsert(*, values: Sequence[MetricValue], level: str) -> None:
    """INSERT … ON CONFLICT DO UPDATE on the partial unique index of `level` (segment/corpus).

    Django's bulk_create(update_conflicts=True) cannot name a partial index's predicate,
    which PostgreSQL and SQLite both require, hence this statement. Rows are sorted by their
    conflict key so concurrent duplicate chunks lock rows in the same order (no deadlock).
    """
    if not values:
        return
    if connection.vendor == "postgresql":
        _upsert_unnest(values, level)
        return
    keys, predicate = _CONFLICT[level]
    meta = MetricValue._meta
    fields = [meta.get_field(column.removesuffix("_id")) for column in _COLUMNS]
    quote = connection.ops.quote_name
    ordered = sorted(values, key=lambda v: tuple(getattr(v, key) for key in keys))
    row_sql = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    head = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in _COLUMNS)}) VALUES "
    )
    tail = (
        f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) WHERE {predicate} DO UPDATE SET "
        + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in _UPDATED)
    )
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), _UPSERT_BATCH):
            batch = ordered[start:start + _UPSERT_BATCH]
            params: list[Any] = []
            for value in batch:
                params.extend(
                    field.get_db_prep_save(getattr(value, field.attname), connection)
                    for field in fields
                )
            cursor.execute(head + ", ".join([row_sql] * len(batch)) + tail, params)
