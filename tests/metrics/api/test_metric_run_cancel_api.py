"""POST /api/campaigns/<slug>/runs/<id>/cancel/: campaign admins stop an unfinished run."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from metrics.models import MetricRun
from tests.annotations.factories import CampaignFactory
from tests.metrics.api.runs_helpers import OUTSIDERS, admin_client, make_run, outsider_client

pytestmark = pytest.mark.django_db


def url(run: MetricRun) -> str:
    return f"/api/campaigns/{run.campaign.slug}/runs/{run.pk}/cancel/"


def test_cancel_stops_a_running_run() -> None:
    # given a running run and the campaign's admin
    campaign = CampaignFactory()
    run = make_run(campaign, status=MetricRun.Status.RUNNING, chunks_done=5)

    # when the admin cancels it
    response = admin_client(campaign).post(url(run))

    # then it is cancelled, no longer active, and says so
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled" and body["active"] is False
    assert body["finished_at"] is not None
    assert body["text"] == "5/40 chunks · cancelled"
    run.refresh_from_db()
    assert run.status == MetricRun.Status.CANCELLED


def test_cancel_leaves_a_finished_run_as_it_was(staff_client: APIClient) -> None:
    # given a run that already succeeded
    run = make_run(CampaignFactory(), status=MetricRun.Status.SUCCEEDED, chunks_done=40)

    # when staff cancels it
    response = staff_client.post(url(run))

    # then nothing changes
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    run.refresh_from_db()
    assert run.status == MetricRun.Status.SUCCEEDED


def test_cancel_is_404_for_a_run_of_another_campaign(staff_client: APIClient) -> None:
    # given a run of another campaign
    first = CampaignFactory()
    run = make_run(CampaignFactory(), status=MetricRun.Status.RUNNING)

    # when cancelled through the first campaign
    response = staff_client.post(f"/api/campaigns/{first.slug}/runs/{run.pk}/cancel/")

    # then it is not found and keeps running
    assert response.status_code == 404
    run.refresh_from_db()
    assert run.status == MetricRun.Status.RUNNING


@pytest.mark.parametrize("who", OUTSIDERS)
def test_cancel_is_404_for_users_who_do_not_administer_the_campaign(who: str) -> None:
    # given a running run, and a stranger or one of the campaign's raters
    campaign = CampaignFactory()
    run = make_run(campaign, status=MetricRun.Status.RUNNING)
    client = outsider_client(campaign, who)

    # when they try to cancel it, and a run of a campaign that does not exist
    existing = client.post(url(run))
    missing = client.post(f"/api/campaigns/no-such-campaign/runs/{run.pk}/cancel/")

    # then both are the same 404 and the run goes on
    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json()
    run.refresh_from_db()
    assert run.status == MetricRun.Status.RUNNING


def test_cancel_refuses_anonymous_requests() -> None:
    run = make_run(CampaignFactory(), status=MetricRun.Status.RUNNING)
    response = APIClient().post(url(run))
    assert response.status_code in (401, 403)
    run.refresh_from_db()
    assert run.status == MetricRun.Status.RUNNING
