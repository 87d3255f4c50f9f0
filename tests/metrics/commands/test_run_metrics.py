"""manage.py run_metrics: start a run, --wait with a progress bar, exit codes (eager, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from unittest import mock

import pytest
import sacrebleu
from django.core.management import call_command

from evalproject.celery import app as celery_app
from metrics.models import MetricRun, MetricValue
from tests.metrics.services.test_metric_runs import make_campaign, system_texts


@pytest.fixture
def eager() -> Iterator[None]:
    """Run the chord in-process, as the embedded default (no broker) does."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


def run_command(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("run_metrics", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_wait_runs_in_process_shows_progress_and_stores_library_values(eager):
    # given a campaign of 2 systems × 10 items
    campaign = make_campaign(items=10, metrics=["bleu", "chrf", "rougeL"])
    # when run_metrics --wait runs with chunks of 6
    code, out, err = run_command(campaign.slug, "--chunk-size", "6", "--wait")
    # then it succeeds, the bar reached 4/4 chunks, and corpus BLEU is sacrebleu's
    assert code == 0, err
    run = MetricRun.objects.get(campaign=campaign)
    assert (run.status, run.chunks_done, run.chunks_total, run.outputs_done) == (
        MetricRun.Status.SUCCEEDED, 4, 4, 20)
    assert "4/4" in err
    assert f"metric run {run.pk} succeeded" in out
    for system in campaign.systems.all():
        hyps, refs = system_texts(system)
        stored = MetricValue.objects.get(system=system, metric="bleu", output__isnull=True)
        assert stored.value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert MetricValue.objects.filter(campaign=campaign, output__isnull=False).count() == 20 * 3


@pytest.mark.django_db(transaction=True)
def test_metrics_option_selects_metrics_and_reports_skipped_ones(eager):
    campaign = make_campaign(items=2)
    code, out, err = run_command(campaign.slug, "--metrics", "chrf, nope", "--wait")
    assert code == 0, err
    assert MetricRun.objects.get(campaign=campaign).metrics == ["chrf"]
    assert "skipped nope: unknown metric" in err
    assert set(MetricValue.objects.filter(campaign=campaign).values_list("metric", flat=True)) \
        == {"chrf"}


@pytest.mark.django_db(transaction=True)
def test_a_failing_run_exits_1_with_its_error(eager):
    campaign = make_campaign(items=2)
    with mock.patch("metrics.services.runs.chunks.chunk_records_get",
                    side_effect=RuntimeError("boom")):
        code, _, err = run_command(campaign.slug, "--wait")
    assert code == 1
    run = MetricRun.objects.get(campaign=campaign)
    assert run.status == MetricRun.Status.FAILED
    assert run.error == "chunk 0: RuntimeError: boom"
    assert f"metric run {run.pk} failed: chunk 0: RuntimeError: boom" in err


@pytest.mark.django_db
def test_without_wait_it_prints_the_run_and_returns(django_capture_on_commit_callbacks):
    campaign = make_campaign(items=3)
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue") as queue, \
            django_capture_on_commit_callbacks(execute=True):
        code, out, _ = run_command(campaign.slug, "--chunk-size", "4")
    run = MetricRun.objects.get(campaign=campaign)
    assert code == 0
    assert out.strip() == f"metric run {run.pk}: 2 chunks, 6 outputs, metrics bleu,rougeL"
    queue.assert_called_once_with(run_id=run.pk)


@pytest.mark.django_db
def test_an_unknown_campaign_exits_2_with_one_line():
    code, out, err = run_command("missing", "--wait")
    assert code == 2
    assert err.strip() == "campaign 'missing' does not exist"
    assert not MetricRun.objects.exists()


@pytest.mark.django_db
def test_a_bad_chunk_size_exits_2():
    campaign = make_campaign(items=1)
    code, _, err = run_command(campaign.slug, "--chunk-size", "0")
    assert code == 2 and "--chunk-size" in err
