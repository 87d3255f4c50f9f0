"""Object-level permissions on every rater endpoint: others' work is 404, anonymous 401/403."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotations.models import Assignment, Rating
from annotations.services import assignment_claim_next
from tests.annotations.factories import UserFactory
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db

RATING = {"scores": {"fluency": 3, "accuracy": 3}, "key": "k"}
SKIP = {"reason": "cannot judge"}


@pytest.fixture
def setup():
    campaign = make_campaign(items=2, systems=2)
    owner = make_rater(campaign, "owner")
    assignment = assignment_claim_next(campaign=campaign, rater=owner)
    return campaign, owner, assignment


def requests_for(campaign, assignment):
    """(method, url, body) of every rater endpoint."""
    return [
        ("get", reverse("annotations-api:campaign-next", kwargs={"slug": campaign.slug}), None),
        ("get", reverse("annotations-api:campaign-progress", kwargs={"slug": campaign.slug}),
         None),
        ("post", reverse("annotations-api:rating-submit", kwargs={"pk": assignment.pk}), RATING),
        ("post", reverse("annotations-api:assignment-skip", kwargs={"pk": assignment.pk}), SKIP),
    ]


def call(client: APIClient, method: str, url: str, body):
    if method == "get":
        return client.get(url)
    return client.post(url, body, format="json")


def unchanged(assignment: Assignment) -> bool:
    assignment.refresh_from_db()
    return assignment.status == Assignment.Status.ASSIGNED and not Rating.objects.exists()


@pytest.mark.parametrize("endpoint", range(4))
def test_anonymous_is_refused_everywhere(setup, endpoint):
    campaign, _, assignment = setup
    method, url, body = requests_for(campaign, assignment)[endpoint]

    response = call(APIClient(), method, url, body)

    assert response.status_code in (401, 403)
    assert unchanged(assignment)


@pytest.mark.parametrize("endpoint", range(4))
def test_a_non_member_gets_404_everywhere(setup, endpoint):
    campaign, _, assignment = setup
    method, url, body = requests_for(campaign, assignment)[endpoint]
    client = APIClient()
    client.force_authenticate(UserFactory(username="stranger"))

    response = call(client, method, url, body)

    assert response.status_code == 404
    assert unchanged(assignment)
    assert not Assignment.objects.filter(rater__username="stranger").exists()


@pytest.mark.parametrize("endpoint", [2, 3])
def test_another_rater_of_the_same_campaign_gets_404_on_the_assignment(setup, endpoint):
    campaign, _, assignment = setup
    method, url, body = requests_for(campaign, assignment)[endpoint]
    client = APIClient()
    client.force_authenticate(make_rater(campaign, "other"))

    response = call(client, method, url, body)

    assert response.status_code == 404
    assert unchanged(assignment)


@pytest.mark.parametrize("endpoint", [2, 3])
def test_a_rater_of_another_campaign_gets_404_on_the_assignment(setup, endpoint):
    campaign, _, assignment = setup
    method, url, body = requests_for(campaign, assignment)[endpoint]
    client = APIClient()
    client.force_authenticate(make_rater(make_campaign(items=1, systems=1), "elsewhere"))

    response = call(client, method, url, body)

    assert response.status_code == 404
    assert unchanged(assignment)


def test_the_owner_may_use_every_endpoint(setup):
    campaign, owner, assignment = setup
    client = APIClient()
    client.force_authenticate(owner)
    statuses = [call(client, *request).status_code
                for request in requests_for(campaign, assignment)]
    # next, progress, rating (201), then skip of the now rated assignment (400)
    assert statuses == [200, 200, 201, 400]
