"""POST /api/assignments/<id>/rating/: 201, 200 on replay, 400 field errors, 404 others."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotations.models import Assignment, Campaign, Rating
from annotations.services import assignment_claim_next
from tests.annotations.factories import UserFactory
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db

BODY = {"scores": {"fluency": 4, "accuracy": 3}, "satisfaction": 5, "comment": "ok",
        "key": "abc-1"}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(assignment: Assignment) -> str:
    return reverse("annotations-api:rating-submit", kwargs={"pk": assignment.pk})


@pytest.fixture
def claimed():
    campaign = make_campaign(satisfaction=True)
    rater = make_rater(campaign)
    return rater, assignment_claim_next(campaign=campaign, rater=rater)


def test_submit_creates_the_rating(claimed, django_assert_max_num_queries):
    rater, assignment = claimed

    # own assignment, savepoint, item lock + assignment state, existing rating, criteria,
    # rating, values, assignment status, release (the scores come back without a query)
    with django_assert_max_num_queries(9):
        response = client_for(rater).post(url(assignment), BODY, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["scores"] == {"fluency": 4.0, "accuracy": 3.0, "satisfaction": 5.0}
    assert (body["assignment"], body["comment"], body["key"]) == (assignment.pk, "ok", "abc-1")
    rating = Rating.objects.get(pk=body["rating"])
    assert rating.source == Rating.Source.API
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED


def test_replaying_the_key_returns_200_with_the_stored_rating(claimed):
    rater, assignment = claimed
    client = client_for(rater)
    first = client.post(url(assignment), BODY, format="json").json()

    replay = client.post(url(assignment), {**BODY, "scores": {"fluency": 1, "accuracy": 1}},
                         format="json")

    assert replay.status_code == 200
    assert replay.json() == first
    assert Rating.objects.count() == 1


def test_bad_values_give_400_with_field_errors_and_store_nothing(claimed):
    rater, assignment = claimed

    response = client_for(rater).post(
        url(assignment), {**BODY, "scores": {"fluency": 9, "bogus": 2}}, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert set(errors["scores"]) == {"fluency", "bogus", "accuracy"}
    assert not Rating.objects.exists()


def test_missing_key_is_a_400(claimed):
    rater, assignment = claimed
    body = {k: v for k, v in BODY.items() if k != "key"}

    response = client_for(rater).post(url(assignment), body, format="json")

    assert response.status_code == 400
    assert "key" in response.json()


def test_pairwise_choice_is_stored():
    campaign = make_campaign(systems=2, kind=Campaign.Kind.PAIRWISE)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    response = client_for(rater).post(url(assignment), {"key": "p1", "choice": "tie"},
                                      format="json")

    assert response.status_code == 201
    rating = Rating.objects.get()
    assert (rating.choice, rating.output_id, rating.output_b_id) == (
        "tie", assignment.output_id, assignment.output_b_id)


def test_anonymous_is_refused(claimed):
    _, assignment = claimed

    response = APIClient().post(url(assignment), BODY, format="json")

    assert response.status_code in (401, 403)
    assert not Rating.objects.exists()


def test_another_raters_assignment_is_404(claimed):
    _, assignment = claimed
    other = make_rater(assignment.campaign)

    response = client_for(other).post(url(assignment), BODY, format="json")

    assert response.status_code == 404
    assert not Rating.objects.exists()


def test_staff_cannot_rate_someone_elses_assignment(claimed):
    _, assignment = claimed

    response = client_for(UserFactory(is_staff=True)).post(url(assignment), BODY, format="json")

    assert response.status_code == 404


def test_a_removed_member_can_no_longer_submit(claimed):
    rater, assignment = claimed
    assignment.campaign.memberships.filter(user=rater).delete()

    response = client_for(rater).post(url(assignment), BODY, format="json")

    assert response.status_code == 404


def test_pairwise_preferences_are_stored_and_bad_ones_are_nested_field_errors():
    campaign = make_campaign(items=1, systems=2, kind=Campaign.Kind.PAIRWISE)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)
    client = client_for(rater)

    bad = client.post(url(assignment), {"choice": "A", "key": "p0",
                                        "preferences": {"fluency": "left", "style": "A"}},
                      format="json")
    good = client.post(url(assignment), {"choice": "B", "key": "p1",
                                         "preferences": {"fluency": "B", "accuracy": "tie"}},
                       format="json")

    assert bad.status_code == 400
    assert set(bad.json()["preferences"]) == {"fluency", "style"}
    assert good.status_code == 201
    assert good.json()["preferences"] == {"fluency": "B", "accuracy": "tie"}
    assert Rating.objects.get().preferences == {"fluency": "B", "accuracy": "tie"}


def test_pairwise_without_a_choice_is_400():
    campaign = make_campaign(items=1, systems=2, kind=Campaign.Kind.PAIRWISE)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    response = client_for(rater).post(url(assignment), {"key": "p0"}, format="json")

    assert response.status_code == 400
    assert "choice" in response.json()
    assert not Rating.objects.exists()
