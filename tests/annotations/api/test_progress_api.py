"""GET /api/campaigns/<slug>/progress/: own progress for raters, everything for admins."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotations.models import CampaignMembership
from annotations.services import assignment_claim_next, rating_submit
from tests.annotations.factories import MembershipFactory, UserFactory
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(campaign) -> str:
    return reverse("annotations-api:campaign-progress", kwargs={"slug": campaign.slug})


@pytest.fixture
def worked():
    """Two items × two systems, k=2; alice rated one output and holds another."""
    campaign = make_campaign(items=2, systems=2, overlap=2)
    alice = make_rater(campaign, "alice")
    assignment = assignment_claim_next(campaign=campaign, rater=alice)
    rating_submit(assignment=assignment, rater=alice, scores={"fluency": 3, "accuracy": 3},
                  satisfaction=None, comment="", key="a", choice=None, time_spent_ms=None)
    return campaign, alice


def test_rater_sees_only_their_own_progress(worked, django_assert_max_num_queries):
    campaign, alice = worked
    make_rater(campaign, "bob")

    with django_assert_max_num_queries(10):
        response = client_for(alice).get(url(campaign))

    assert response.status_code == 200
    body = response.json()
    assert body["me"] == {"rater": "alice", "done": 1, "assigned": 1, "total": 4}
    assert (body["units"], body["total"], body["done"]) == (4, 8, 1)
    assert "raters" not in body and "systems" not in body


def test_campaign_admin_sees_every_rater_and_system_coverage(worked):
    campaign, alice = worked
    admin = UserFactory()
    MembershipFactory(campaign=campaign, user=admin, role=CampaignMembership.Role.ADMIN)
    assignment_claim_next(campaign=campaign, rater=make_rater(campaign, "bob"))

    body = client_for(admin).get(url(campaign)).json()

    assert [(r["rater"], r["done"], r["assigned"]) for r in body["raters"]] == [
        ("alice", 1, 1), ("bob", 0, 2)]
    assert [s["name"] for s in body["systems"]] == ["sys0", "sys1"]
    assert sum(s["submitted"] for s in body["systems"]) == 1
    assert sum(s["assigned"] for s in body["systems"]) == 3
    assert all(s["outputs"] == 2 for s in body["systems"])


def test_staff_see_everything_without_membership(worked):
    campaign, _ = worked

    body = client_for(UserFactory(is_staff=True)).get(url(campaign)).json()

    assert len(body["raters"]) == 1


def test_anonymous_is_refused(worked):
    campaign, _ = worked
    assert APIClient().get(url(campaign)).status_code in (401, 403)


def test_non_member_gets_404(worked):
    campaign, _ = worked
    assert client_for(UserFactory()).get(url(campaign)).status_code == 404
