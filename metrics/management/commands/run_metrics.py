"""manage.py run_metrics CAMPAIGN [--metrics bleu,chrf] [--chunk-size N] [--force] [--wait]."""

from __future__ import annotations

import sys
import time
from typing import Any

from celery.signals import task_postrun
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from tqdm import tqdm

from annotations.models import Campaign
from metrics.models import MetricRun
from metrics.selectors_runs import metric_run_get, metric_run_progress
from metrics.services.runs import metric_run_start

FINISHED = (MetricRun.Status.SUCCEEDED, MetricRun.Status.FAILED, MetricRun.Status.CANCELLED)


class _Bar:
    """A tqdm bar of chunks done / total, refreshed from the run row."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.bar: tqdm | None = None
        self.run_id: int | None = None

    def refresh(self, run_id: int) -> MetricRun:
        run = metric_run_get(run_id=run_id)
        if self.bar is None:
            self.bar = tqdm(total=run.chunks_total, unit="chunk", file=self.stream,
                            desc=f"run {run.pk}", dynamic_ncols=True)
        progress = metric_run_progress(run=run, now=timezone.now())
        self.bar.n = progress.chunks_done
        if progress.outputs_per_s is not None:
            self.bar.set_postfix(outputs_per_s=f"{progress.outputs_per_s:.0f}", refresh=False)
        self.bar.refresh()
        return run

    def on_task(self, sender: Any = None, **kwargs: Any) -> None:
        # Eager mode runs the whole chord inside metric_run_start: refresh after each task.
        if self.run_id is not None and getattr(sender, "name", "").startswith("metrics.tasks."):
            self.refresh(self.run_id)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    # A data command: skip the system checks (they import every view, ~2 s per run).
    requires_system_checks: list[str] = []
    help = "Start a metric run over the campaign's outputs; --wait shows progress until done."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="the campaign's slug")
        parser.add_argument("--metrics", default=None,
                            help="comma-separated metric names (default: the campaign's list)")
        parser.add_argument("--chunk-size", type=int, default=1000,
                            help="outputs per chunk (default 1000)")
        parser.add_argument("--force", action="store_true",
                            help="recompute every value, even those whose inputs did not change")
        parser.add_argument("--wait", action="store_true",
                            help="show a progress bar and wait for the run to finish")
        parser.add_argument("--poll", type=float, default=0.5, help="seconds between polls")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = Campaign.objects.filter(slug=options["campaign"]).first()
        if campaign is None:
            self.stderr.write(f"campaign {options['campaign']!r} does not exist")
            sys.exit(2)
        if options["chunk_size"] < 1:
            self.stderr.write("--chunk-size must be at least 1")
            sys.exit(2)
        metrics = None
        if options["metrics"] is not None:
            metrics = [name.strip() for name in options["metrics"].split(",") if name.strip()]
        bar = _Bar(self.stderr)
        if options["wait"]:
            task_postrun.connect(bar.on_task, weak=False)
        try:
            self._start_and_wait(campaign, metrics, options, bar)
        finally:
            task_postrun.disconnect(bar.on_task)
            bar.close()

    def _start_and_wait(self, campaign: Campaign, metrics: list[str] | None,
                        options: dict[str, Any], bar: _Bar) -> None:
        run = metric_run_start(campaign=campaign, metrics=metrics,
                               chunk_size=options["chunk_size"], force=options["force"])
        bar.run_id = run.pk
        for name, reason in run.skipped.items():
            self.stderr.write(f"skipped {name}: {reason}")
        self.stdout.write(f"metric run {run.pk}: {run.chunks_total} chunks, "
                          f"{run.outputs_total} outputs, metrics {','.join(run.metrics)}")
        if not options["wait"]:
            return
        run = bar.refresh(run.pk)
        while run.status not in FINISHED:
            time.sleep(options["poll"])
            run = bar.refresh(run.pk)
        bar.close()
        if run.status != MetricRun.Status.SUCCEEDED:
            self.stderr.write(f"metric run {run.pk} {run.status}: {run.error or 'no error'}")
            sys.exit(1)
        self.stdout.write(
            f"metric run {run.pk} succeeded: segment values {run.segments_computed} computed, "
            f"{run.segments_reused} reused; system values {run.corpus_computed} computed, "
            f"{run.corpus_reused} reused"
        )
