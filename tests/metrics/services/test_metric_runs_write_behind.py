"""A worker's chunk writes its values from a second connection while it computes (PostgreSQL).

Run outside a test transaction (transaction=True), as a Celery task runs: the writer thread's
connection must see committed rows only, and the chunk is done only once every value is in.
"""

from __future__ import annotations

import threading
from unittest import mock

import pytest
import sacrebleu
from django.db import OperationalError, connection

from metrics.models import MetricRunChunk, MetricValue
from metrics.services.runs import metric_run_chunk_execute, metric_run_start
from metrics.services.runs.chunks import _write_behind_ok
from tests.metrics.services.test_metric_runs import make_campaign, run_all, system_texts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

METRICS = ["bleu", "chrf", "rouge1", "rougeL"]


def _start(campaign):
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue"):
        return metric_run_start(campaign=campaign, metrics=METRICS, chunk_size=4)


def test_values_written_behind_equal_the_libraries_and_the_writer_thread_is_gone():
    if connection.vendor != "postgresql":
        pytest.skip("the write-behind path runs on PostgreSQL")
    campaign = make_campaign(items=6)
    run = _start(campaign)
    assert _write_behind_ok()  # outside any transaction, like a worker's task
    threads_before = threading.active_count()

    run = run_all(run)

    assert run.status == "succeeded"
    assert threading.active_count() == threads_before  # the writer thread was shut down
    assert MetricValue.objects.filter(campaign=campaign, output__isnull=False).count() \
        == len(METRICS) * 12
    for system in campaign.systems.all():
        hyps, refs = system_texts(system)
        stored = MetricValue.objects.get(system=system, output__isnull=True, metric="bleu")
        assert stored.value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score,
                                             abs=1e-9)


def test_a_failed_write_leaves_the_chunk_not_done_and_a_retry_completes_it():
    if connection.vendor != "postgresql":
        pytest.skip("the write-behind path runs on PostgreSQL")
    campaign = make_campaign(items=2)
    run = _start(campaign)

    with mock.patch("metrics.services.runs.chunks._upsert_batch",
                    side_effect=OperationalError("connection lost")), \
            pytest.raises(OperationalError):
        metric_run_chunk_execute(run_id=run.pk, chunk_index=0)

    chunk = MetricRunChunk.objects.get(run=run, index=0)
    assert chunk.done_at is None
    assert metric_run_chunk_execute(run_id=run.pk, chunk_index=0) == 4  # the retry
    chunk.refresh_from_db()
    assert chunk.done_at is not None
    assert MetricValue.objects.filter(campaign=campaign, output__isnull=False).count() \
        == len(METRICS) * 4
