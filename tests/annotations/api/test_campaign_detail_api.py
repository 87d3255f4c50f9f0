"""GET/PATCH/DELETE /api/campaigns/<slug>/: one campaign, for its admins (and staff)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from annotations.models import Campaign, CampaignMembership, Item, Output
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    MembershipFactory,
    OutputFactory,
    SystemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _url(slug: str) -> str:
    return f"/api/campaigns/{slug}/"


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def campaign() -> Campaign:
    """A campaign with two criteria, a baseline and a fine-tuned system."""
    campaign = CampaignFactory(name="Support bot", slug="support", metrics=["bleu"])
    CriterionFactory(campaign=campaign, key="fluency", label="Fluency", position=0)
    CriterionFactory(campaign=campaign, key="accuracy", label="Accuracy", position=1,
                     level="interval", scale_max=7)
    baseline = SystemFactory(campaign=campaign, name="base", is_baseline=True)
    SystemFactory(campaign=campaign, name="ft")
    campaign.baseline = baseline
    campaign.save()
    OutputFactory(item__campaign=campaign, system=baseline)
    return campaign


@pytest.fixture
def campaign_admin(campaign: Campaign) -> Any:
    """A non-staff user with the admin role in `campaign`."""
    return MembershipFactory(campaign=campaign, role=CampaignMembership.Role.ADMIN).user


# --- GET ----------------------------------------------------------------------------------


def test_campaign_admin_reads_the_campaign_with_rubric_and_systems(
    campaign: Campaign, campaign_admin: Any
) -> None:
    # given a campaign and its (non-staff) admin
    client = _client(campaign_admin)

    # when they fetch it
    response = client.get(_url(campaign.slug))

    # then the payload has the campaign, its criteria in order and its systems
    assert response.status_code == 200
    payload = response.json()
    assert payload["name"] == "Support bot"
    assert payload["slug"] == "support"
    assert payload["baseline"] == "base"
    assert payload["metrics"] == ["bleu"]
    assert payload["systems"] == ["base", "ft"]
    assert [(c["key"], c["label"], c["min"], c["max"], c["level"])
            for c in payload["criteria"]] == [
        ("fluency", "Fluency", 1.0, 5.0, "ordinal"), ("accuracy", "Accuracy", 1.0, 7.0, "interval"),
    ]


def test_staff_reads_any_campaign(campaign: Campaign, staff_user: Any) -> None:
    # given staff with no membership
    client = _client(staff_user)

    # when they fetch the campaign
    response = client.get(_url(campaign.slug))

    # then they see it
    assert response.status_code == 200
    assert response.json()["slug"] == campaign.slug


def test_detail_refuses_anonymous_requests(campaign: Campaign) -> None:
    # given no credentials
    client = APIClient()

    # when the campaign is fetched
    response = client.get(_url(campaign.slug))

    # then it is refused
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("role", [None, CampaignMembership.Role.RATER])
def test_detail_is_404_for_a_user_who_does_not_administer_it(
    campaign: Campaign, role: str | None
) -> None:
    # given a plain user, or one of the campaign's raters
    user = UserFactory()
    if role:
        MembershipFactory(campaign=campaign, user=user, role=role)
    client = _client(user)

    # when they fetch the campaign and a campaign that does not exist
    existing = client.get(_url(campaign.slug))
    missing = client.get(_url("no-such-campaign"))

    # then both are the same 404: existence does not leak
    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json()


def test_admin_of_another_campaign_gets_404(campaign: Campaign) -> None:
    # given the admin of some other campaign
    other_admin = MembershipFactory(role=CampaignMembership.Role.ADMIN).user

    # when they fetch this campaign
    response = _client(other_admin).get(_url(campaign.slug))

    # then it is not found
    assert response.status_code == 404


def test_detail_takes_a_fixed_number_of_queries(
    campaign: Campaign, campaign_admin: Any, django_assert_num_queries: Any
) -> None:
    # given the campaign admin
    client = _client(campaign_admin)

    # when they fetch the campaign, then it takes campaign + criteria + systems
    with django_assert_num_queries(3):
        response = client.get(_url(campaign.slug))
    assert response.status_code == 200


# --- PATCH --------------------------------------------------------------------------------


def test_campaign_admin_updates_the_editable_fields(
    campaign: Campaign, campaign_admin: Any
) -> None:
    # given the campaign admin
    client = _client(campaign_admin)

    # when they patch name, status, overlap and instructions
    response = client.patch(_url(campaign.slug), {
        "name": "Renamed", "status": "active", "overlap": 5, "instructions": "Be fair.",
    }, format="json")

    # then the campaign changes and the response shows it
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status, campaign.overlap, campaign.instructions) == (
        "Renamed", "active", 5, "Be fair.")


@pytest.mark.parametrize("payload", [
    {"status": "finished"}, {"overlap": 0}, {"name": ""},
])
def test_patch_with_invalid_values_returns_400_and_changes_nothing(
    campaign: Campaign, campaign_admin: Any, payload: dict[str, Any]
) -> None:
    # given the campaign admin
    client = _client(campaign_admin)

    # when they patch with an invalid value
    response = client.patch(_url(campaign.slug), payload, format="json")

    # then the field is named in the error and nothing changed
    assert response.status_code == 400
    assert set(response.json()) == set(payload)
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status, campaign.overlap) == ("Support bot", "draft", 3)


def test_patch_by_a_user_who_does_not_administer_it_is_404(campaign: Campaign) -> None:
    # given a plain user
    client = _client(UserFactory())

    # when they try to rename the campaign
    response = client.patch(_url(campaign.slug), {"name": "Hijacked"}, format="json")

    # then it is not found and unchanged
    assert response.status_code == 404
    campaign.refresh_from_db()
    assert campaign.name == "Support bot"


def test_patch_refuses_anonymous_requests(campaign: Campaign) -> None:
    # given no credentials
    client = APIClient()

    # when the campaign is patched
    response = client.patch(_url(campaign.slug), {"name": "Hijacked"}, format="json")

    # then it is refused and unchanged
    assert response.status_code in (401, 403)
    campaign.refresh_from_db()
    assert campaign.name == "Support bot"


# --- DELETE -------------------------------------------------------------------------------


def test_campaign_admin_deletes_the_campaign_with_its_contents(
    campaign: Campaign, campaign_admin: Any
) -> None:
    # given the campaign admin
    client = _client(campaign_admin)

    # when they delete the campaign
    response = client.delete(_url(campaign.slug))

    # then it and its items and outputs are gone
    assert response.status_code == 204
    assert not Campaign.objects.filter(slug=campaign.slug).exists()
    assert Item.objects.count() == Output.objects.count() == 0


@pytest.mark.parametrize("role", [None, CampaignMembership.Role.RATER])
def test_delete_by_a_user_who_does_not_administer_it_is_404(
    campaign: Campaign, role: str | None
) -> None:
    # given a plain user or a rater of the campaign
    user = UserFactory()
    if role:
        MembershipFactory(campaign=campaign, user=user, role=role)

    # when they delete the campaign
    response = _client(user).delete(_url(campaign.slug))

    # then it is not found and still exists
    assert response.status_code == 404
    assert Campaign.objects.filter(slug=campaign.slug).exists()


def test_delete_refuses_anonymous_requests(campaign: Campaign) -> None:
    # given no credentials
    client = APIClient()

    # when the campaign is deleted
    response = client.delete(_url(campaign.slug))

    # then it is refused and still exists
    assert response.status_code in (401, 403)
    assert Campaign.objects.filter(slug=campaign.slug).exists()
