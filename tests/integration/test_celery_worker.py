"""A real `celery worker` process (Redis broker, PostgreSQL) computes a chunked metric run
over 5,000 outputs in 5 chunks whose values equal the in-process (eager) run's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from evalproject.celery import app as celery_app
from metrics.models import MetricRun, MetricValue
from metrics.selectors_runs import segment_metric_values
from metrics.services.runs import metric_run_start
from tests.metrics.services.test_metric_runs import make_campaign

# Deselected from the SQLite pass (-m "not postgres"); the PostgreSQL pass runs it.
pytestmark = [pytest.mark.postgres, pytest.mark.integration]

BROKER = "redis://127.0.0.1:6379/14"
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120
METRICS = ["bleu", "chrf", "rougeL"]


def _redis_or_skip() -> None:
    import redis

    try:
        client = redis.Redis.from_url(BROKER, socket_connect_timeout=2)
        client.ping()
    except redis.exceptions.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {BROKER} is unreachable: {error}")
        pytest.skip(f"Redis at {BROKER} is unreachable: {error}")
    client.flushdb()  # db 14 belongs to this test: drop messages of an earlier, killed run


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": BROKER,
            "CELERY_RESULT_BACKEND": BROKER, "DJANGO_SETTINGS_MODULE": "evalproject.settings.test"}


def _values(campaign) -> tuple[dict, dict]:
    corpus = {(v.system_id, v.metric): v.value
              for v in MetricValue.objects.filter(campaign=campaign, output__isnull=True)}
    return segment_metric_values(campaign=campaign), corpus


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_computes_the_same_values_as_the_in_process_run(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a shared PostgreSQL database")
    _redis_or_skip()
    # given a campaign of 5,000 outputs (5 systems × 1,000 items) and a running worker
    campaign = make_campaign(items=1000, systems=("base", "a", "b", "c", "d"), metrics=METRICS)
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "evalproject", "worker", "--loglevel=INFO",
         "--concurrency=2", "--pool=prefork", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-n", f"metrics-test-{os.getpid()}@%h"],
        cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        # when run_metrics starts a run of 5 chunks through the broker and waits for it
        command = subprocess.run(
            [sys.executable, "manage.py", "run_metrics", campaign.slug, "--chunk-size", "1000",
             "--wait"],
            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=TIMEOUT_S,
        )
        assert command.returncode == 0, command.stderr + (tmp_path / "worker.log").read_text()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
    # then the run succeeded in 5 chunks, each counted once
    run = MetricRun.objects.get(campaign=campaign)
    assert (run.status, run.chunks_done, run.chunks_total, run.outputs_done) == (
        MetricRun.Status.SUCCEEDED, 5, 5, 5000)
    assert (run.segments_computed, run.segments_reused, run.corpus_computed) == (15000, 0, 15)
    # and the worker, not the starting process, ran the 5 chunks and the final step
    worker_log = (tmp_path / "worker.log").read_text()
    done = [line for line in worker_log.splitlines() if " succeeded in " in line]
    assert sum("metrics.tasks.metric_run_chunk[" in line for line in done) == 5, worker_log
    assert sum("metrics.tasks.metric_run_finalize[" in line for line in done) == 1, worker_log
    worker_values = _values(campaign)
    assert MetricValue.objects.filter(campaign=campaign).count() == 5000 * 3 + 5 * 3
    # and an in-process (eager) run over the same data, forced to recompute every value
    # (otherwise it would reuse the worker's), gives identical values
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        eager_run = metric_run_start(campaign=campaign, chunk_size=1000, force=True)
    finally:
        celery_app.conf.task_always_eager = previous
    eager_run.refresh_from_db()
    assert eager_run.status == MetricRun.Status.SUCCEEDED, eager_run.error
    assert (eager_run.segments_computed, eager_run.corpus_computed) == (15000, 15)
    assert set(MetricValue.objects.filter(campaign=campaign)
               .values_list("run_id", flat=True)) == {eager_run.pk}
    assert _values(campaign) == worker_values
    assert MetricValue.objects.filter(campaign=campaign).count() == 5000 * 3 + 5 * 3
