"""Joining through links in a real browser: a personal invitation and an open crowd link."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model

from annotations.models import CampaignMembership
from annotations.services.campaigns import (
    campaign_create,
    campaign_outputs_upload,
    campaign_status_set,
)
from annotations.services.invitations import crowd_link_get_or_create, invitation_create
from annotations.services.spec import spec_validate
from tests.conftest import jsonl_bytes, output_rows

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def campaign():
    admin = get_user_model().objects.create_user("admin", is_staff=True)
    spec = spec_validate({"name": "Join me", "slug": "join-me", "criteria": [
        {"key": "fluency", "label": "Fluency", "min": 1, "max": 5}]}, "spec")
    campaign = campaign_create(spec=spec, created_by=admin)
    campaign_outputs_upload(campaign=campaign, name="o.jsonl",
                            stream=io.BytesIO(jsonl_bytes(output_rows(items=2))))
    campaign_status_set(campaign=campaign, status="active", by=admin)
    return campaign


def test_a_new_rater_signs_up_through_a_personal_invitation(page, campaign) -> None:
    invitation = invitation_create(campaign=campaign, by=None)

    page.goto(f"/invite/{invitation.token}/")
    assert page.get_by_role("heading", name="Join “Join me”").is_visible()
    page.get_by_label("Username").fill("newbie")
    page.get_by_label("Password", exact=True).fill("a-long-pass-phrase-9")
    page.get_by_label("Password again").fill("a-long-pass-phrase-9")
    with page.expect_navigation():
        page.get_by_role("button", name="Create my account and join").click()

    assert page.url.endswith("/rate/join-me/")
    assert page.locator(".who").inner_text() == "newbie"
    assert CampaignMembership.objects.get(user__username="newbie").campaign == campaign

    # the link is single use: a second visitor is told so
    page.context.clear_cookies()
    page.goto(f"/invite/{invitation.token}/")
    assert "already been used" in page.get_by_role("alert").inner_text()


def test_a_crowd_participant_arrives_logged_in(page, campaign) -> None:
    link = crowd_link_get_or_create(campaign=campaign, by=None)

    page.goto(f"/join/{link.token}/?PROLIFIC_PID=5f8a9b0c1d2e3f4a5b6c7d8e&STUDY_ID=x")

    assert page.url.endswith("/rate/join-me/")
    assert page.locator(".who").inner_text() == "crowd-5f8a9b0c1d2e3f4a5b6c7d8e"
    membership = CampaignMembership.objects.get(external_id="5f8a9b0c1d2e3f4a5b6c7d8e")
    assert membership.completion_code

    page.goto(f"/join/{link.token}/")
    assert "needs a participant id" in page.get_by_role("alert").inner_text()
