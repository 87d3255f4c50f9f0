"""POST /api/campaigns/<slug>/runs/: campaign admins start a metric run (queued on commit)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import sacrebleu
from rest_framework.test import APIClient

from evalproject.celery import app as celery_app
from metrics.models import MetricRun, MetricValue
from tests.annotations.factories import UserFactory
from tests.metrics.api.runs_helpers import (
    OUTSIDERS,
    admin_client,
    campaign_with_outputs,
    client_for,
    make_run,
    outsider_client,
)

pytestmark = pytest.mark.django_db


def url(campaign: Any) -> str:
    return f"/api/campaigns/{campaign.slug}/runs/"


def test_start_creates_a_pending_run_of_the_campaigns_metrics_and_queues_it_on_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given a campaign of 2 systems × 3 items listing bleu and chrf, and its admin
    campaign = campaign_with_outputs(items=3)
    client = admin_client(campaign)

    # when the admin starts a run without naming metrics
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue") as queue, \
            django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(campaign), {}, format="json")

    # then a pending run over the campaign's 6 outputs is created and queued once committed
    assert response.status_code == 201, response.content
    body = response.json()
    run = MetricRun.objects.get()
    assert body["id"] == run.pk and body["status"] == "pending" and body["active"] is True
    assert body["metrics"] == ["bleu", "chrf"]
    assert (body["outputs_done"], body["outputs_total"]) == (0, 6)
    assert body["chunks_done"] == 0 and body["chunks_total"] == run.chunks_total >= 1
    assert run.created_by is not None
    queue.assert_called_once_with(run_id=run.pk)


def test_start_with_a_metric_list_runs_those_metrics_only(staff_client: APIClient) -> None:
    # given a campaign listing bleu and chrf
    campaign = campaign_with_outputs()

    # when staff asks for chrf and rougeL (chrf twice)
    response = staff_client.post(url(campaign), {"metrics": ["chrf", "rougeL", "chrf"]},
                                 format="json")

    # then the run computes exactly those, once each
    assert response.status_code == 201
    assert response.json()["metrics"] == ["chrf", "rougeL"]
    assert MetricRun.objects.get().metrics == ["chrf", "rougeL"]


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"metrics": ["bleu", "blue"]}, "metrics", "unknown metric: blue"),
    ({"metrics": "bleu"}, "metrics", 'Expected a list of items but got type "str".'),
    ({"metrics": []}, "metrics", "This list may not be empty."),
])
def test_start_refuses_a_bad_metric_list_and_creates_nothing(
    staff_client: APIClient, payload: dict[str, Any], field: str, message: str
) -> None:
    # given a campaign
    campaign = campaign_with_outputs()

    # when staff sends a bad metric list
    response = staff_client.post(url(campaign), payload, format="json")

    # then a one-line error names the problem and no run exists
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert not MetricRun.objects.exists()


def test_start_needs_metrics_when_the_campaign_lists_none(staff_client: APIClient) -> None:
    # given a campaign without automatic metrics
    campaign = campaign_with_outputs(metrics=[])

    # when staff starts a run without naming any
    response = staff_client.post(url(campaign), {}, format="json")

    # then it is refused with a reason
    assert response.status_code == 400
    assert response.json() == {"metrics": ["the campaign lists no metrics; name some"]}
    assert not MetricRun.objects.exists()


def test_start_while_a_run_is_active_returns_that_run_with_409(staff_client: APIClient) -> None:
    # given a campaign whose run is still going
    campaign = campaign_with_outputs()
    active = make_run(campaign, status=MetricRun.Status.RUNNING, chunks_done=3)

    # when staff asks to start another (a double click, two tabs)
    response = staff_client.post(url(campaign), {}, format="json")

    # then the running one is shown and no second run is created
    assert response.status_code == 409
    assert response.json()["id"] == active.pk
    assert MetricRun.objects.count() == 1


@pytest.mark.parametrize("who", OUTSIDERS)
def test_start_is_404_for_users_who_do_not_administer_the_campaign(who: str) -> None:
    # given a campaign and a stranger or one of its raters
    campaign = campaign_with_outputs()
    client = outsider_client(campaign, who)

    # when they try to start a run, here and on a campaign that does not exist
    existing = client.post(url(campaign), {}, format="json")
    missing = client.post("/api/campaigns/no-such-campaign/runs/", {}, format="json")

    # then both are the same 404 and nothing starts
    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json()
    assert not MetricRun.objects.exists()


def test_start_refuses_anonymous_requests() -> None:
    campaign = campaign_with_outputs()
    response = APIClient().post(url(campaign), {}, format="json")
    assert response.status_code in (401, 403)
    assert not MetricRun.objects.exists()


@pytest.fixture
def eager() -> Iterator[None]:
    """Run the chord in-process, as the embedded default (no broker) does."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


@pytest.mark.django_db(transaction=True)
def test_embedded_mode_run_has_finished_when_the_post_returns(eager: None) -> None:
    # given a campaign and staff, with no broker (tasks run in-process on commit)
    campaign = campaign_with_outputs(items=4, metrics=["bleu"])
    client = client_for(UserFactory(is_staff=True))

    # when staff starts a run
    response = client.post(url(campaign), {}, format="json")

    # then the answer already shows it done, with sacrebleu's corpus BLEU stored per system
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "succeeded" and body["active"] is False
    assert body["chunks_done"] == body["chunks_total"]
    assert body["outputs_done"] == body["outputs_total"] == 8
    for system in campaign.systems.all():
        rows = system.outputs.order_by("id").values_list("text", "item__references")
        expected = sacrebleu.corpus_bleu([t for t, _ in rows], [[r[0] for _, r in rows]]).score
        stored = MetricValue.objects.get(system=system, output__isnull=True, metric="bleu")
        assert stored.value == pytest.approx(expected, abs=1e-9)
