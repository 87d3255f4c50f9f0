"""A Celery worker SIGKILLed in the middle of a chunk, then restarted, leaves correct values and
no duplicates (Redis broker with late acks, PostgreSQL).

Two ways to lose a chunk are covered:
- the whole worker dies (`--pool=solo`, process group SIGKILLed, then a new worker starts):
  the unacknowledged message comes back after the Redis visibility timeout, which the test
  shortens through CELERY_VISIBILITY_TIMEOUT;
- the pool child running the chunk dies (`--pool=prefork`): the worker's main process
  rejects the message with requeue (`task_reject_on_worker_lost`) and a new child runs it.

The kill lands mid-chunk thanks to SLOW_SPEC, a segment-level custom metric (loaded by the
worker through EVAL_CUSTOM_METRICS) that sleeps per output when SLOW_METRIC_DELAY_S is set and
writes its process id to SLOW_METRIC_MARKER when it starts on a chunk.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from metrics.compute.automatic import MetricOptions, MetricResult, MetricSpec, Need, OutputRecord

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

BROKER = "redis://127.0.0.1:6379/13"  # db 13 belongs to this test (flushed first)
ROOT = Path(__file__).resolve().parents[2]
SLOW_PATH = "tests.integration.test_celery_sigkill:SLOW_SPEC"
VISIBILITY_TIMEOUT_S = 4
DELAY_S = 0.04  # per output in the worker: a chunk of 50 outputs takes ~2 s
TIMEOUT_S = 180
TASK_LINE = re.compile(
    r"Task metrics\.tasks\.metric_run_chunk\[([0-9a-f-]+)\] (received|succeeded)"
)


def _slow_words(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Words per output (segments) and their mean; slow per output in the worker's chunks."""
    delay = float(os.environ.get("SLOW_METRIC_DELAY_S", "0")) if options.segments else 0.0
    marker = os.environ.get("SLOW_METRIC_MARKER")
    if delay and marker:
        with open(marker, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
    segments: list[float | None] = []
    for record in records:
        time.sleep(delay)
        segments.append(float(len((record.text or "").split())))
    value = sum(segments) / len(segments) if segments else None  # type: ignore[arg-type]
    return MetricResult(name="slow_words", value=value, segments=tuple(segments))


SLOW_SPEC = MetricSpec("slow_words", frozenset({Need.TEXT}), (0.0, float("inf")), True, True,
                       _slow_words, custom=True)


def _redis_or_skip() -> None:
    import redis

    try:
        client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
        client.ping()
    except redis.exceptions.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {BROKER} is unreachable: {error}")
        pytest.skip(f"Redis at {BROKER} is unreachable: {error}")
    client.flushdb()


def _env(marker: Path) -> dict[str, str]:
    from tests.integration.test_celery_worker import _database_url

    return {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": BROKER,
            "CELERY_RESULT_BACKEND": BROKER, "DJANGO_SETTINGS_MODULE": "evalproject.settings.test",
            "EVAL_CUSTOM_METRICS": SLOW_PATH, "CELERY_VISIBILITY_TIMEOUT":
            str(VISIBILITY_TIMEOUT_S), "SLOW_METRIC_DELAY_S": str(DELAY_S),
            "SLOW_METRIC_MARKER": str(marker)}


def _worker(env: dict[str, str], log: Path, pool: str, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "evalproject", "worker", "--loglevel=INFO",
         f"--pool={pool}", "--concurrency=1", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a kill takes its children too
    )


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _wait_for(predicate, what: str, logs: Sequence[Path]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n" + "\n".join(
                log.read_text() for log in logs if log.exists()))
        time.sleep(0.1)


def _chunk_tasks(log: Path) -> tuple[set[str], set[str]]:
    received: set[str] = set()
    succeeded: set[str] = set()
    for task_id, event in TASK_LINE.findall(log.read_text()):
        (received if event == "received" else succeeded).add(task_id)
    return received, succeeded


@pytest.mark.parametrize("killed", ["worker", "pool-child"])
@pytest.mark.django_db(transaction=True)
def test_a_chunk_killed_mid_way_is_redone_with_correct_values_and_no_duplicates(
    tmp_path, killed
):
    from unittest import mock

    from evalproject.celery import app as celery_app
    from metrics.compute.automatic.registry import REGISTRY
    from metrics.models import MetricRun, MetricRunChunk, MetricValue
    from metrics.services.runs import metric_run_start
    from tests.integration.test_celery_worker import _values
    from tests.metrics.services.test_metric_runs import make_campaign

    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a shared PostgreSQL database")
    _redis_or_skip()
    # given 200 outputs (4 systems × 50 items) to score with BLEU and the slow metric in 4
    # chunks, and one worker with a single process
    campaign = make_campaign(items=50, systems=("base", "a", "b", "c"),
                             metrics=["bleu", "slow_words"])
    marker = tmp_path / "started"
    env = _env(marker)
    first_log, second_log = tmp_path / "worker1.log", tmp_path / "worker2.log"
    pool = "solo" if killed == "worker" else "prefork"
    workers = [_worker(env, first_log, pool, "sigkill-1")]
    try:
        subprocess.run([sys.executable, "manage.py", "run_metrics", campaign.slug,
                        "--chunk-size", "50"], cwd=ROOT, env=env, check=True,
                       capture_output=True, text=True, timeout=TIMEOUT_S)
        run = MetricRun.objects.get(campaign=campaign)
        # when the process running the first chunk is SIGKILLed while it computes
        _wait_for(marker.exists, "the first chunk to start", [first_log])
        time.sleep(0.5)
        if killed == "worker":
            os.killpg(workers[0].pid, signal.SIGKILL)
            workers[0].wait()
        else:
            os.kill(int(marker.read_text().split()[0]), signal.SIGKILL)
        killed_at = MetricRun.objects.get(pk=run.pk)
        assert killed_at.chunks_done == 0 and killed_at.status == MetricRun.Status.RUNNING
        assert MetricRunChunk.objects.filter(run=run, done_at__isnull=False).count() == 0
        received, succeeded = _chunk_tasks(first_log)
        lost = received - succeeded
        assert len(lost) == 1, first_log.read_text()
        # and a new worker starts (the pool restarts its child by itself)
        if killed == "worker":
            workers.append(_worker(env, second_log, pool, "sigkill-2"))

        def finished() -> bool:
            run.refresh_from_db()
            return run.status != MetricRun.Status.RUNNING and run.status != "pending"

        _wait_for(finished, "the run to finish", [first_log, second_log])
    finally:
        for worker in workers:
            _stop(worker)
    # then the run succeeded, each chunk counted once, every value computed once
    assert run.status == MetricRun.Status.SUCCEEDED, run.error
    assert (run.chunks_done, run.chunks_total, run.outputs_done) == (4, 4, 200)
    assert (run.segments_computed + run.segments_reused, run.corpus_computed) == (400, 8)
    assert MetricRunChunk.objects.filter(run=run, done_at__isnull=True).count() == 0
    # and the lost chunk's message was delivered again and succeeded
    logs = [first_log] + ([second_log] if killed == "worker" else [])
    done = set().union(*(_chunk_tasks(log)[1] for log in logs))
    assert lost <= done, "\n".join(log.read_text() for log in logs)
    # and no (output, metric) or (system, metric) pair is stored twice
    values = MetricValue.objects.filter(campaign=campaign)
    assert values.count() == 200 * 2 + 4 * 2
    for level, key in ((False, "output"), (True, "system")):
        twice = (values.filter(output__isnull=level).values(key, "metric")
                 .annotate(n=Count("id")).filter(n__gt=1))
        assert not twice.exists()
    worker_values = _values(campaign)
    # and the values equal an in-process (eager) run's, forced to recompute everything
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with mock.patch.dict(REGISTRY._specs, {"slow_words": SLOW_SPEC}), \
                mock.patch.dict(os.environ, {"SLOW_METRIC_DELAY_S": "0"}):
            eager_run = metric_run_start(campaign=campaign, chunk_size=50, force=True)
    finally:
        celery_app.conf.task_always_eager = previous
    eager_run.refresh_from_db()
    assert eager_run.status == MetricRun.Status.SUCCEEDED, eager_run.error
    assert _values(campaign) == worker_values
    assert values.count() == 200 * 2 + 4 * 2
