"""GET /api/campaigns/<slug>/runs/latest/ and /runs/<id>/: a run's progress for its admins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from metrics.models import MetricRun
from tests.annotations.factories import CampaignFactory
from tests.metrics.api.runs_helpers import (
    FIXED_NOW,
    OUTSIDERS,
    admin_client,
    make_run,
    outsider_client,
    running,
)

pytestmark = pytest.mark.django_db

RUN_KEYS = {"id", "status", "active", "metrics", "skipped", "chunks_done", "chunks_total",
            "outputs_done", "outputs_total", "outputs_per_s", "eta_s", "error", "text",
            "created_at", "started_at", "finished_at"}


def at_fixed_now(client: APIClient, url: str) -> Any:
    with mock.patch("django.utils.timezone.now", return_value=FIXED_NOW):
        return client.get(url)


def test_latest_shows_chunks_throughput_and_eta_of_a_running_run(
    django_assert_num_queries: Any
) -> None:
    # given a run 10 s in: 12/40 chunks and 8,300 of 42,330 outputs done
    campaign = CampaignFactory()
    make_run(campaign, status=MetricRun.Status.SUCCEEDED)  # an older run
    run = running(campaign, FIXED_NOW)
    client = admin_client(campaign)

    # when an admin of the campaign asks for the latest run's progress
    with django_assert_num_queries(2):  # campaign joined with the membership, latest run
        response = at_fixed_now(client, f"/api/campaigns/{campaign.slug}/runs/latest/")

    # then it is that run: 830 outputs/s, 34,030 outputs left = 41 s
    assert response.status_code == 200
    body = response.json()
    assert set(body) == RUN_KEYS
    assert body["id"] == run.pk and body["status"] == "running" and body["active"] is True
    assert (body["chunks_done"], body["chunks_total"]) == (12, 40)
    assert (body["outputs_done"], body["outputs_total"]) == (8300, 42330)
    assert body["outputs_per_s"] == pytest.approx(830.0)
    assert body["eta_s"] == pytest.approx(41.0)
    assert body["text"] == "12/40 chunks · 830 outputs/s · ETA 0:41"


def test_latest_is_204_when_the_campaign_has_no_run(staff_client: APIClient) -> None:
    # given a campaign that never ran its metrics
    campaign = CampaignFactory()

    # when staff asks for the latest run
    response = staff_client.get(f"/api/campaigns/{campaign.slug}/runs/latest/")

    # then there is nothing to show
    assert response.status_code == 204
    assert response.content == b""


def test_detail_of_a_failed_run_shows_its_error_and_final_throughput(
    staff_client: APIClient, django_assert_num_queries: Any
) -> None:
    # given a run that failed after 4 s with 2,000 outputs done
    campaign = CampaignFactory()
    run = make_run(campaign, status=MetricRun.Status.FAILED, chunks_done=2, chunks_total=5,
                   outputs_done=2000, outputs_total=5000, error="OperationalError: gone",
                   started_at=FIXED_NOW - timedelta(seconds=4), finished_at=FIXED_NOW)

    # when staff asks for that run
    with django_assert_num_queries(2):  # campaign, run
        response = staff_client.get(f"/api/campaigns/{campaign.slug}/runs/{run.pk}/")

    # then the error is reported and throughput is measured up to the failure
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed" and body["active"] is False
    assert body["error"] == "OperationalError: gone"
    assert body["outputs_per_s"] == pytest.approx(500.0)
    assert body["text"] == "2/5 chunks · 500 outputs/s · failed"


def test_detail_is_404_for_a_run_of_another_campaign(staff_client: APIClient) -> None:
    # given two campaigns, the run belonging to the second
    first, second = CampaignFactory(), CampaignFactory()
    run = make_run(second)

    # when asked for through the first campaign
    response = staff_client.get(f"/api/campaigns/{first.slug}/runs/{run.pk}/")

    # then it is not found
    assert response.status_code == 404


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize("path", ["latest/", "{run}/"])
def test_progress_is_404_for_users_who_do_not_administer_the_campaign(
    who: str, path: str
) -> None:
    # given a campaign with a run, and a stranger or one of its raters
    campaign = CampaignFactory()
    run = make_run(campaign)
    client = outsider_client(campaign, who)

    # when they ask for its progress, and for a campaign that does not exist
    url = f"/api/campaigns/{campaign.slug}/runs/" + path.format(run=run.pk)
    existing = client.get(url)
    missing = client.get("/api/campaigns/no-such-campaign/runs/" + path.format(run=run.pk))

    # then both are the same 404
    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json()


@pytest.mark.parametrize("path", ["latest/", "1/"])
def test_progress_refuses_anonymous_requests(path: str) -> None:
    # given a campaign and no credentials
    campaign = CampaignFactory()

    # when an anonymous client asks for a run's progress
    response = APIClient().get(f"/api/campaigns/{campaign.slug}/runs/{path}")

    # then it is refused
    assert response.status_code in (401, 403)
