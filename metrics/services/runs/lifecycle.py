"""A run's life: options, metric plan and chunks; queued as a Celery chord; failed or
cancelled."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from annotations.models import Campaign
from metrics.compute.automatic import (
    MetricOptions,
    OutputRecord,
    metric_get,
)
from metrics.compute.automatic.base import library_versions
from metrics.models import MetricRun, MetricRunChunk, MetricValue
from metrics.selectors_runs import (
    campaign_inputs_available,
    output_id_list_for_campaign,
    qc_output_ids_for_campaign,
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
