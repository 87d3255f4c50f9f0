"""Celery tasks for metric runs: thin wrappers that load by id and call one service each.

A permanent error is passed to metric_run_fail at once (also in eager mode, where Celery
propagates instead of calling on_failure); a transient database error is retried with
backoff, and on_failure records it once the retries are exhausted. A finalize that arrives
before every chunk is done (a redelivered chunk can complete the chord's counter early)
retries every few seconds until they are.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# Lost connections, lock timeouts, deadlocks and serialization failures are worth a retry.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
RETRY = {
    "acks_late": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
}


def _fail(run_id: Any, step: str, exc: BaseException) -> None:
    from metrics.services.runs import metric_run_fail

    try:
        metric_run_fail(run_id=run_id, error=f"{step}: {type(exc).__name__}: {exc}")
    except Exception:  # noqa: BLE001 - the task's own failure is already being reported
        logger.exception("could not mark metric run %s failed", run_id)


def _step(name: str, args: Any, kwargs: Any) -> str:
    if name.endswith(".metric_run_chunk"):
        return f"chunk {args[1] if len(args) > 1 else kwargs.get('chunk_index')}"
    return name.rsplit(".", 1)[-1]


class MetricRunTask(Task):
    """Marks the run failed when a task fails for good (after its retries)."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any,
                   einfo: Any) -> None:
        run_id = args[0] if args else kwargs.get("run_id")
        _fail(run_id, _step(self.name, args, kwargs), exc)


@shared_task(base=MetricRunTask, **RETRY)
def metric_run_chunk(run_id: int, chunk_index: int) -> int:
    """Store one chunk's segment-level values (see metric_run_chunk_execute)."""
    from metrics.services.runs import metric_run_chunk_execute

    try:
        return metric_run_chunk_execute(run_id=run_id, chunk_index=chunk_index)
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        _fail(run_id, f"chunk {chunk_index}", exc)
        raise


# Finalize waits for pending chunks: a redelivered chunk may take a visibility timeout.
PENDING_RETRY_S = 5
PENDING_MAX_RETRIES = 2_000


@shared_task(base=MetricRunTask, bind=True, **RETRY)
def metric_run_finalize(self: Task, run_id: int) -> str:
    """Compute the run's corpus-level values and mark it succeeded; returns the status."""
    from metrics.services.runs import ChunksPending
    from metrics.services.runs import metric_run_finalize as finalize

    try:
        return str(finalize(run_id=run_id).status)
    except TRANSIENT_ERRORS:
        raise
    except ChunksPending as exc:
        raise self.retry(exc=exc, countdown=PENDING_RETRY_S,
                         max_retries=PENDING_MAX_RETRIES) from exc
    except Exception as exc:
        _fail(run_id, "metric_run_finalize", exc)
        raise
