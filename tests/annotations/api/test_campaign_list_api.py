"""GET/POST /api/campaigns/: list the campaigns you administer; staff create one from a spec."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotations.models import Campaign, CampaignMembership, Criterion, System
from tests.annotations.factories import CampaignFactory, MembershipFactory, UserFactory
from tests.conftest import SPEC

pytestmark = pytest.mark.django_db

URL = "/api/campaigns/"


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _spec(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec.pop("baseline")  # a spec created without outputs has no systems yet
    spec.update(changes)
    return spec


def _counts() -> tuple[int, int, int, int]:
    return (Campaign.objects.count(), Criterion.objects.count(), System.objects.count(),
            CampaignMembership.objects.count())


# --- GET ----------------------------------------------------------------------------------


def test_list_refuses_anonymous_requests() -> None:
    # given a campaign and no credentials
    CampaignFactory()

    # when an anonymous client lists campaigns
    response = APIClient().get(URL)

    # then it is refused
    assert response.status_code in (401, 403)


def test_list_shows_a_campaign_admin_only_the_campaigns_they_administer() -> None:
    # given a user who administers one campaign, rates in another, and a third unrelated
    user = UserFactory()
    mine = MembershipFactory(user=user, role=CampaignMembership.Role.ADMIN).campaign
    MembershipFactory(user=user, role=CampaignMembership.Role.RATER)
    CampaignFactory()

    # when they list campaigns
    response = _client(user).get(URL)

    # then they see just the one they administer
    assert response.status_code == 200
    assert [c["slug"] for c in response.json()] == [mine.slug]


def test_list_is_empty_for_a_plain_user() -> None:
    # given campaigns the user has nothing to do with
    CampaignFactory.create_batch(2)

    # when a plain user lists campaigns
    response = _client(UserFactory()).get(URL)

    # then the list is empty
    assert response.status_code == 200
    assert response.json() == []


def test_list_shows_staff_every_campaign_with_its_fields(staff_user: Any) -> None:
    # given two campaigns
    first, second = CampaignFactory(name="First"), CampaignFactory(name="Second")

    # when staff lists campaigns
    response = _client(staff_user).get(URL)

    # then both are listed (newest first) with the public fields
    assert response.status_code == 200
    payload = response.json()
    assert {c["slug"] for c in payload} == {first.slug, second.slug}
    entry = next(c for c in payload if c["slug"] == first.slug)
    assert entry == {
        "name": "First", "slug": first.slug, "kind": "rating", "status": "draft",
        "instructions": "", "overlap": 3, "metrics": [], "composite": {}, "baseline": None,
        "created_at": entry["created_at"],
    }


@pytest.mark.parametrize("campaigns", [1, 8])
def test_list_takes_a_fixed_number_of_queries(
    django_assert_num_queries: Any, campaigns: int
) -> None:
    # given a campaign admin with one or many campaigns
    user = UserFactory()
    for _ in range(campaigns):
        MembershipFactory(user=user, role=CampaignMembership.Role.ADMIN)
    client = _client(user)

    # when they list campaigns, then one query serves them all
    with django_assert_num_queries(1):
        response = client.get(URL)
    assert len(response.json()) == campaigns


# --- POST ---------------------------------------------------------------------------------


def test_staff_creates_a_campaign_from_a_spec(staff_user: Any) -> None:
    # given a valid spec
    spec = _spec()

    # when staff posts it
    response = _client(staff_user).post(URL, spec, format="json")

    # then the campaign, its rubric and the creator's admin membership exist
    assert response.status_code == 201
    payload = response.json()
    assert payload["slug"] == "tiny"
    assert payload["systems"] == []
    assert [(c["key"], c["min"], c["max"], c["level"]) for c in payload["criteria"]] == [
        ("fluency", 1.0, 5.0, "ordinal"), ("accuracy", 1.0, 5.0, "interval")]
    campaign = Campaign.objects.get(slug="tiny")
    assert campaign.created_by == staff_user
    assert campaign.memberships.get(user=staff_user).role == CampaignMembership.Role.ADMIN


@pytest.mark.parametrize("role", [None, CampaignMembership.Role.ADMIN])
def test_create_is_forbidden_for_users_who_are_not_staff(role: str | None) -> None:
    # given a non-staff user (maybe admin of some campaign)
    user = UserFactory()
    if role:
        MembershipFactory(user=user, role=role)
    before = _counts()

    # when they post a spec
    response = _client(user).post(URL, _spec(), format="json")

    # then they are refused and nothing is created
    assert response.status_code == 403
    assert _counts() == before


def test_create_refuses_anonymous_requests() -> None:
    # given no credentials
    before = _counts()

    # when a spec is posted anonymously
    response = APIClient().post(URL, _spec(), format="json")

    # then it is refused and nothing is created
    assert response.status_code in (401, 403)
    assert _counts() == before


def test_create_with_an_invalid_spec_returns_one_line_errors_and_creates_nothing(
    staff_user: Any
) -> None:
    # given a spec whose criterion has max below min and an unknown metric
    spec = _spec(criteria=[{"key": "fluency", "min": 5, "max": 1}], metrics=["blue"])
    before = _counts()

    # when staff posts it
    response = _client(staff_user).post(URL, spec, format="json")

    # then each problem is one line naming the field, and nothing is written
    assert response.status_code == 400
    assert response.json() == {"errors": [
        'request:1: field "criteria[0].max": must be greater than min (1 ≤ 5)',
        'request:1: field "metrics[0]": unknown metric "blue"',
    ]}
    assert _counts() == before


def test_create_with_a_taken_slug_returns_400_and_keeps_the_existing_campaign(
    staff_user: Any
) -> None:
    # given an existing campaign with the spec's slug
    existing = CampaignFactory(slug="tiny", name="Existing")
    before = _counts()

    # when staff posts the spec
    response = _client(staff_user).post(URL, _spec(), format="json")

    # then it is refused and the old campaign is untouched
    assert response.status_code == 400
    assert response.json() == {"errors": ['request:1: field "slug": campaign \'tiny\' already '
                                          'exists']}
    assert _counts() == before
    existing.refresh_from_db()
    assert existing.name == "Existing"
