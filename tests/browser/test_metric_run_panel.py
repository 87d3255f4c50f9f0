"""The metric-run panel in a real browser: start (embedded mode finishes during the POST),
live progress while a run goes on, cancel, and server text shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from evalproject.celery import app as celery_app
from metrics.models import MetricRun, MetricValue
from tests.annotations.factories import UserFactory
from tests.browser.conftest import login, screenshot
from tests.metrics.api.runs_helpers import campaign_with_outputs, make_run

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.urls("tests.browser.metric_run_urls")]


@pytest.fixture
def eager() -> Iterator[None]:
    """No broker: the run's chord executes in-process when the POST commits."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.fixture
def staff_page(page):
    UserFactory(username="boss", is_staff=True)
    login(page, "boss", "pw-for-tests")
    return page


def test_run_metrics_in_embedded_mode_shows_the_bar_done(staff_page, eager) -> None:
    # given a campaign that never ran its metrics
    campaign = campaign_with_outputs(items=5, metrics=["bleu", "chrf"])
    page = staff_page
    page.goto(f"/test-run-panel/{campaign.slug}/")
    assert page.locator("[data-run-text]").inner_text() == "No metric run yet."

    # when the admin presses "Run metrics"
    page.get_by_role("button", name="Run metrics").click()

    # then the run has finished by the time the answer arrives: the bar is full
    panel = page.locator("[data-metric-run]")
    page.wait_for_selector("[data-metric-run][data-status='succeeded']")
    bar = page.locator("[data-run-bar]")
    assert bar.evaluate("b => [b.value, b.max]") == [1, 1]  # 10 outputs: one chunk
    assert page.locator("[data-run-text]").inner_text().startswith("1/1 chunks")
    assert page.locator("[data-run-text]").inner_text().endswith("succeeded")
    assert page.get_by_role("button", name="Run metrics").is_enabled()
    assert not page.get_by_role("button", name="Cancel run").is_visible()
    assert panel.get_attribute("data-run-id") == str(MetricRun.objects.get().pk)
    assert MetricValue.objects.filter(output__isnull=True, metric="bleu").count() == 2
    screenshot(page, "metric-run-done")


def test_the_bar_follows_a_running_run_until_it_finishes(staff_page) -> None:
    # given a run 12 of 40 chunks in
    campaign = campaign_with_outputs(items=1)
    run = make_run(campaign, status=MetricRun.Status.RUNNING, chunks_done=12,
                   outputs_done=8300, started_at=timezone.now() - timedelta(seconds=10))
    page = staff_page

    # when the admin opens the page
    page.goto(f"/test-run-panel/{campaign.slug}/")

    # then the bar and the live text show it, and the run cannot be started twice
    bar = page.locator("[data-run-bar]")
    assert bar.evaluate("b => [b.value, b.max]") == [12, 40]
    text = page.locator("[data-run-text]")
    assert text.inner_text().startswith("12/40 chunks · ")
    assert "outputs/s · ETA " in text.inner_text()
    assert text.get_attribute("aria-live") == "polite"
    assert page.get_by_role("button", name="Run metrics").is_disabled()
    screenshot(page, "metric-run-progress")

    # when the workers move on, and then finish
    MetricRun.objects.filter(pk=run.pk).update(chunks_done=30, outputs_done=30000)
    page.wait_for_function(
        "document.querySelector('[data-run-bar]').value === 30")
    MetricRun.objects.filter(pk=run.pk).update(
        chunks_done=40, outputs_done=42330, status=MetricRun.Status.SUCCEEDED,
        finished_at=timezone.now())

    # then polling brings the page to the finished state and stops
    page.wait_for_selector("[data-metric-run][data-status='succeeded']")
    assert bar.evaluate("b => [b.value, b.max]") == [40, 40]
    assert page.get_by_role("button", name="Run metrics").is_enabled()


def test_cancel_stops_the_run(staff_page) -> None:
    campaign = campaign_with_outputs(items=1)
    run = make_run(campaign, status=MetricRun.Status.RUNNING, chunks_done=3)
    page = staff_page
    page.goto(f"/test-run-panel/{campaign.slug}/")

    page.get_by_role("button", name="Cancel run").click()

    page.wait_for_selector("[data-metric-run][data-status='cancelled']")
    run.refresh_from_db()
    assert run.status == MetricRun.Status.CANCELLED
    assert page.locator("[data-run-text]").inner_text() == "3/40 chunks · cancelled"


def test_errors_and_refusals_are_shown_as_text(staff_page) -> None:
    # given a failed run whose error carries markup
    campaign = campaign_with_outputs(items=1, metrics=[])
    hostile = '<img src=x onerror="document.title=\'owned\'">'
    make_run(campaign, status=MetricRun.Status.FAILED, error=hostile,
             finished_at=timezone.now())
    page = staff_page
    page.goto(f"/test-run-panel/{campaign.slug}/")

    # then the error is literal text, not an element
    error = page.locator("[data-run-error]")
    assert error.inner_text() == hostile
    assert error.locator("img").count() == 0

    # when a run is refused (the campaign lists no metrics), the reason is shown as text
    page.get_by_role("button", name="Run metrics").click()
    page.wait_for_function(
        "document.querySelector('[data-run-error]').textContent.includes('no metrics')")
    assert error.inner_text() == "metrics: the campaign lists no metrics; name some"
    assert page.title() != "owned"
    assert MetricRun.objects.count() == 1


def test_pairwise_report_section_reads_well(staff_page) -> None:
    from tests.metrics.services.test_report_pairwise import add_noise, pairwise_campaign

    campaign, _ = pairwise_campaign(items=6)
    add_noise(campaign)
    page = staff_page
    page.goto(f"/test-report-extra/{campaign.slug}/")
    section = page.locator("[data-report-pairwise]")
    assert section.get_by_role("heading", name="Pairwise preferences").is_visible()
    assert page.locator("[data-excluded-raters]").inner_text().startswith(
        "Left out of every number below: spammer")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "report-pairwise")


def test_polling_survives_a_lost_connection(staff_page) -> None:
    # given a running run, and a network that drops the progress requests
    campaign = campaign_with_outputs(items=1)
    run = make_run(campaign, status=MetricRun.Status.RUNNING, chunks_done=1,
                   started_at=timezone.now())
    page = staff_page
    page.route("**/api/campaigns/*/runs/*/", lambda route: route.abort())
    page.goto(f"/test-run-panel/{campaign.slug}/")

    # then the failure is shown, the run cannot be started twice meanwhile
    page.wait_for_selector("[data-run-error]:not([hidden])")
    assert page.get_by_role("button", name="Run metrics").is_disabled()

    # when the network is back and the run has finished
    page.unroute("**/api/campaigns/*/runs/*/")
    MetricRun.objects.filter(pk=run.pk).update(
        chunks_done=40, status=MetricRun.Status.SUCCEEDED, finished_at=timezone.now())

    # then polling resumes, the error goes away and the bar is full
    page.wait_for_selector("[data-metric-run][data-status='succeeded']")
    assert page.locator("[data-run-error]").is_hidden()
    assert page.locator("[data-run-bar]").evaluate("b => [b.value, b.max]") == [40, 40]
