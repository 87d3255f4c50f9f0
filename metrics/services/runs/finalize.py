"""The run's last step: corpus-level values per system, once every chunk is done."""

from __future__ import annotations

import math
from typing import Any

from django.db import transaction
from django.utils import timezone

from metrics.compute.automatic import (
    MetricResult,
    OutputRecord,
    metric_get,
)
from metrics.compute.automatic.generation import SACREBLEU_METRICS, sacrebleu_from_stats
from metrics.compute.automatic.lm import lm_perplexity_pooled
from metrics.models import MetricRun, MetricRunChunk, MetricValue
from metrics.selectors_runs import (
    corpus_fingerprints_get,
    segment_stats_for_system,
    segment_values_for_system,
    system_id_list_for_campaign,
    system_records_get,
)

from .chunks import ChunksPending, _input_digests
from .digests import _fingerprint, metric_digest
from .lifecycle import ACTIVE, SEGMENT_MEAN_METRICS, UNKNOWN_METRIC, _mark_running, _options
from .upsert import _jsonable, _reason, metric_values_upsert


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
    found = [(details or {}).get("stats") for value, details in rows if value is not None]
    stats = [stat for stat in found if stat is not None]
    if not stats or len(stats) < len(found):
        return None
    nrefs = [details["nrefs"] for value, details in rows if value is not None]
    return sacrebleu_from_stats(name, stats, nrefs, _options(run, segments=False))


def _lm_pooled_result(system_id: int, name: str) -> MetricResult | None:
    """lm_perplexity pooled from the stored per-output (NLL, tokens), so the model does not run
    over every output a second time; None to compute instead (values stored without them)."""
    if name != "lm_perplexity":
        return None
    rows = segment_stats_for_system(system_id=system_id, metric=name)
    found = [(details or {}).get("stats") for value, details in rows if value is not None]
    stats = [stat for stat in found if stat is not None]
    if not stats or len(stats) < len(found):
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
