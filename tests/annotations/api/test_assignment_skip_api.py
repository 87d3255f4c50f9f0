"""POST /api/assignments/<id>/skip/: own open assignments only, with a reason."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotations.models import Assignment
from annotations.services import assignment_claim_next
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(assignment: Assignment) -> str:
    return reverse("annotations-api:assignment-skip", kwargs={"pk": assignment.pk})


def test_skip_marks_the_assignment_skipped_with_the_reason(django_assert_max_num_queries):
    campaign = make_campaign(items=1, systems=2)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    with django_assert_max_num_queries(12):
        response = client_for(rater).post(url(assignment), {"reason": "cannot judge"},
                                          format="json")

    assert response.status_code == 200
    assert response.json() == {"assignment": assignment.pk, "status": "skipped",
                               "skip_reason": "cannot judge"}
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SKIPPED


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 201}])
def test_a_missing_or_too_long_reason_is_400_and_changes_nothing(body):
    campaign = make_campaign(items=1, systems=1)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    response = client_for(rater).post(url(assignment), body, format="json")

    assert response.status_code == 400
    assert "reason" in response.json()
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ASSIGNED


def test_skipping_a_rated_assignment_is_400():
    campaign = make_campaign(items=1, systems=1)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)
    client = client_for(rater)
    client.post(reverse("annotations-api:rating-submit", kwargs={"pk": assignment.pk}),
                {"scores": {"fluency": 3, "accuracy": 3}, "key": "k"}, format="json")

    response = client.post(url(assignment), {"reason": "broken output"}, format="json")

    assert response.status_code == 400
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED


def test_skip_is_in_the_schema():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/assignments/{id}/skip/" in response.json()["paths"]
