"""GET /api/campaigns/<slug>/next/: blind work for members, 204 when done, 404 otherwise."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotations.models import Assignment, Campaign, CampaignMembership
from annotations.services import assignments
from tests.annotations.factories import (
    ItemFactory,
    MembershipFactory,
    OutputFactory,
    UserFactory,
)
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(campaign: Campaign) -> str:
    return reverse("annotations-api:campaign-next", kwargs={"slug": campaign.slug})


def test_next_returns_one_output_with_input_references_and_criteria(
        django_assert_max_num_queries):
    campaign = make_campaign(items=2, systems=2)
    rater = make_rater(campaign)
    assignments.assignment_coverage_rebuild(campaign=campaign)  # as after the first claim

    # campaign, current (none), savepoint, membership lock, last position with the new-item
    # and open-work checks (no resume query: nothing open), the candidates (fresh, lapsed,
    # already seen: one statement), item lock with its outputs, assignments, insert,
    # coverage (one statement with the insert on PostgreSQL), release, criteria (read with
    # the campaign on PostgreSQL)
    with django_assert_max_num_queries(12):
        response = client_for(rater).get(url(campaign))

    assert response.status_code == 200
    body = response.json()
    assignment = Assignment.objects.get(pk=body["assignment"])
    assert assignment.rater == rater
    assert body["outputs"] == [{"id": assignment.output_id, "text": assignment.output.text}]
    assert body["input"] == assignment.output.item.input
    assert body["references"] == ["the answer"]
    assert [c["key"] for c in body["criteria"]] == ["fluency", "accuracy"]
    assert body["criteria"][0] | {"labels": {}} == {
        "key": "fluency", "label": "Fluency", "help_text": "", "min": 1.0, "max": 5.0,
        "labels": {}, "required": True}


def test_resuming_the_current_assignment_is_cheap(django_assert_max_num_queries):
    campaign = make_campaign(items=2, systems=2)
    client = client_for(make_rater(campaign))
    first = client.get(url(campaign)).json()["assignment"]

    # campaign, the current assignment (no lock, nothing written), criteria
    with django_assert_max_num_queries(3):
        again = client.get(url(campaign)).json()["assignment"]

    assert again == first


def test_next_never_reveals_system_names():
    campaign = make_campaign(items=1, systems=2)
    rater = make_rater(campaign)

    response = client_for(rater).get(url(campaign))

    assert "sys0" not in response.content.decode().replace("sys0 answers", "")
    assert set(response.json()["outputs"][0]) == {"id", "text"}


def test_next_resumes_the_same_assignment():
    campaign = make_campaign()
    client = client_for(make_rater(campaign))

    first = client.get(url(campaign)).json()["assignment"]

    assert client.get(url(campaign)).json()["assignment"] == first


def test_pairwise_next_shows_two_outputs_of_the_same_item():
    campaign = make_campaign(items=1, systems=2, kind=Campaign.Kind.PAIRWISE)
    rater = make_rater(campaign)

    body = client_for(rater).get(url(campaign)).json()

    assignment = Assignment.objects.get(pk=body["assignment"])
    assert [o["id"] for o in body["outputs"]] == [assignment.output_id, assignment.output_b_id]


def test_next_is_204_when_nothing_is_left():
    campaign = make_campaign(items=1, systems=1, overlap=1)
    make_rater(campaign)
    client_for(make_rater(campaign)).get(url(campaign))

    response = client_for(make_rater(campaign)).get(url(campaign))

    assert response.status_code == 204


def test_next_is_204_on_a_paused_campaign():
    campaign = make_campaign()
    campaign.status = Campaign.Status.PAUSED
    campaign.save()

    response = client_for(make_rater(campaign)).get(url(campaign))

    assert response.status_code == 204


def test_anonymous_is_refused():
    campaign = make_campaign()

    response = APIClient().get(url(campaign))

    assert response.status_code in (401, 403)
    assert not Assignment.objects.exists()


@pytest.mark.parametrize("who", ["stranger", "staff", "campaign_admin"])
def test_non_raters_get_404(who):
    campaign = make_campaign()
    user = UserFactory(is_staff=who == "staff")
    if who == "campaign_admin":
        MembershipFactory(campaign=campaign, user=user, role=CampaignMembership.Role.ADMIN)

    response = client_for(user).get(url(campaign))

    assert response.status_code == 404
    assert not Assignment.objects.exists()


def test_unknown_campaign_is_404():
    response = client_for(UserFactory()).get(
        reverse("annotations-api:campaign-next", kwargs={"slug": "nope"}))
    assert response.status_code == 404


def test_a_control_item_looks_like_any_other_item():
    campaign = make_campaign(items=1, systems=1, options={"qc": {"control_rate": 1.0}})
    item = ItemFactory(campaign=campaign, external_id="ctl-secret", input="question ctl")
    OutputFactory(item=item, system=campaign.systems.get(), text="bad on purpose",
                  control={"fluency": [1, 2]})
    control = client_for(make_rater(campaign)).get(url(campaign))
    shown = Assignment.objects.get(pk=control.json()["assignment"])
    assert shown.output.control is not None  # rate 1.0: the control comes first
    campaign.options = {}
    campaign.save()
    plain = client_for(make_rater(campaign)).get(url(campaign)).json()

    body = control.json()
    assert set(body) == set(plain)
    assert set(body["outputs"][0]) == {"id", "text"}
    text = control.content.decode()
    assert "control" not in text and "ctl-secret" not in text and "[1, 2]" not in text
