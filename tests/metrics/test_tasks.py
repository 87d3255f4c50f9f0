"""Metric run tasks: thin wrappers (service mocked), retry settings, failure handling."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError

from metrics import tasks


@pytest.mark.parametrize("task", [tasks.metric_run_chunk, tasks.metric_run_finalize])
def test_tasks_ack_late_and_retry_transient_db_errors_with_backoff(task):
    assert task.acks_late is True
    assert set(task.autoretry_for) == {OperationalError, InterfaceError}
    assert task.retry_backoff and task.retry_jitter
    assert task.max_retries == 5


def test_chunk_task_calls_its_service_with_the_ids():
    with mock.patch("metrics.services.runs.metric_run_chunk_execute", return_value=7) as service:
        assert tasks.metric_run_chunk(3, 1) == 7
    service.assert_called_once_with(run_id=3, chunk_index=1)


def test_finalize_task_calls_its_service_and_returns_the_status():
    run = mock.Mock(status="succeeded")
    with mock.patch("metrics.services.runs.metric_run_finalize", return_value=run) as service:
        assert tasks.metric_run_finalize(3) == "succeeded"
    service.assert_called_once_with(run_id=3)


def test_a_final_chunk_failure_marks_the_run_failed_with_the_chunk_and_error():
    with mock.patch("metrics.services.runs.metric_run_fail") as fail:
        tasks.metric_run_chunk.on_failure(ValueError("bad data"), "task-id", (3, 2), {}, None)
    fail.assert_called_once_with(run_id=3, error="chunk 2: ValueError: bad data")


def test_a_final_finalize_failure_marks_the_run_failed():
    with mock.patch("metrics.services.runs.metric_run_fail") as fail:
        tasks.metric_run_finalize.on_failure(OperationalError("gone"), "task-id", (), {"run_id": 4},
                                             None)
    fail.assert_called_once_with(run_id=4, error="metric_run_finalize: OperationalError: gone")


def test_a_failure_to_record_the_failure_is_logged_not_raised(caplog):
    with mock.patch("metrics.services.runs.metric_run_fail", side_effect=OperationalError("x")):
        tasks.metric_run_chunk.on_failure(ValueError("bad"), "task-id", (3, 0), {}, None)
    assert "could not mark metric run 3 failed" in caplog.text


def test_a_permanent_chunk_error_fails_the_run_at_once_and_propagates():
    with mock.patch("metrics.services.runs.metric_run_chunk_execute",
                    side_effect=KeyError("x")), \
            mock.patch("metrics.services.runs.metric_run_fail") as fail, \
            pytest.raises(KeyError):
        tasks.metric_run_chunk(3, 1)
    fail.assert_called_once_with(run_id=3, error="chunk 1: KeyError: 'x'")


def test_a_transient_error_is_left_to_the_retry_machinery():
    with mock.patch("metrics.services.runs.metric_run_finalize",
                    side_effect=OperationalError("locked")), \
            mock.patch("metrics.services.runs.metric_run_fail") as fail, \
            pytest.raises(OperationalError):
        tasks.metric_run_finalize.run(3)
    fail.assert_not_called()


def test_a_finalize_that_arrives_before_its_chunks_retries_later_without_failing_the_run():
    from celery.exceptions import Retry

    from metrics.services.runs import ChunksPending

    pending = ChunksPending("metric run 3 has chunks not done yet")
    with mock.patch("metrics.services.runs.metric_run_finalize", side_effect=pending), \
            mock.patch("metrics.services.runs.metric_run_fail") as fail, \
            mock.patch.object(tasks.metric_run_finalize, "retry",
                              side_effect=Retry("later")) as retry, \
            pytest.raises(Retry):
        tasks.metric_run_finalize(3)
    retry.assert_called_once_with(exc=pending, countdown=tasks.PENDING_RETRY_S,
                                  max_retries=tasks.PENDING_MAX_RETRIES)
    fail.assert_not_called()


@pytest.mark.parametrize("raw,expected", [(None, 3600), ("7", 7)])
def test_the_redis_visibility_timeout_comes_from_the_environment(raw, expected):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "evalproject.settings.test"}
    env.pop("CELERY_VISIBILITY_TIMEOUT", None)
    if raw is not None:
        env["CELERY_VISIBILITY_TIMEOUT"] = raw
    show = ("import django; django.setup(); from evalproject.celery import app; "
            "print(app.conf.broker_transport_options['visibility_timeout'], "
            "app.conf.result_backend_transport_options['visibility_timeout'], "
            "app.conf.task_acks_late, app.conf.task_reject_on_worker_lost)")
    shown = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[2], timeout=120, check=True)
    assert shown.stdout.split() == [str(expected), str(expected), "True", "True"]
