"""templates/metrics/_run_panel.html rendered server-side: the state before any JavaScript."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.template import engines
from django.test import RequestFactory
from django.utils import timezone

from metrics.models import MetricRun
from tests.annotations.factories import CampaignFactory, UserFactory
from tests.metrics.api.runs_helpers import FIXED_NOW, make_run, running

pytestmark = pytest.mark.django_db

PAGE = '{% include "metrics/_run_panel.html" %}'


def render(campaign: object) -> str:
    request = RequestFactory().get("/")
    request.user = UserFactory(is_staff=True)
    return engines["django"].from_string(PAGE).render({"campaign": campaign}, request)


def test_panel_without_runs_offers_the_button_and_an_empty_bar() -> None:
    campaign = CampaignFactory(slug="c1")
    html = render(campaign)
    assert 'data-start-url="/api/campaigns/c1/runs/"' in html
    assert 'data-latest-url="/api/campaigns/c1/runs/latest/"' in html
    assert 'max="1"' in html and 'value="0"' in html
    assert "No metric run yet." in html
    assert 'data-csrf="' in html and 'data-csrf=""' not in html
    assert "/static/metrics/run_progress.js" in html


def test_panel_of_a_running_run_shows_its_progress_and_disables_start() -> None:
    campaign = CampaignFactory()
    run = running(campaign, FIXED_NOW)
    with mock.patch("django.utils.timezone.now", return_value=FIXED_NOW):
        html = render(campaign)
    assert 'max="40"' in html and 'value="12"' in html
    assert "12/40 chunks · 830 outputs/s · ETA 0:41" in html
    assert f'data-run-id="{run.pk}"' in html and 'data-status="running"' in html
    assert "data-run-start disabled" in html


def test_panel_escapes_a_failed_runs_error_and_lists_skipped_metrics() -> None:
    campaign = CampaignFactory()
    make_run(campaign, status=MetricRun.Status.FAILED, error="<script>alert(1)</script>",
             skipped={"perplexity": "the campaign's outputs have no logprobs"},
             started_at=timezone.now() - timedelta(seconds=1), finished_at=timezone.now())
    html = render(campaign)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Not computed: perplexity (the campaign&#x27;s outputs have no logprobs)" in html
