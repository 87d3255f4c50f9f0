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

Modules: `lifecycle` (start, queue, fail, cancel), `digests` (fingerprints), `chunks`,
`finalize`, `upsert` (writing values).
"""

from .chunks import ChunksPending, metric_run_chunk_execute
from .digests import metric_digest, record_digest
from .finalize import DETAILS_PROBE, metric_run_finalize
from .lifecycle import (
    ACTIVE,
    SEGMENT_MEAN_METRICS,
    UNKNOWN_METRIC,
    VERSIONED_LIBRARIES,
    metric_options_for_campaign,
    metric_run_cancel,
    metric_run_fail,
    metric_run_queue,
    metric_run_start,
)
from .upsert import metric_values_upsert

__all__ = [
    "ACTIVE",
    "DETAILS_PROBE",
    "SEGMENT_MEAN_METRICS",
    "UNKNOWN_METRIC",
    "VERSIONED_LIBRARIES",
    "ChunksPending",
    "metric_digest",
    "metric_options_for_campaign",
    "metric_run_cancel",
    "metric_run_chunk_execute",
    "metric_run_fail",
    "metric_run_finalize",
    "metric_run_queue",
    "metric_run_start",
    "metric_values_upsert",
    "record_digest",
]
