"""create_rater USERNAME --campaign SLUG [--email E]: a rater and their token, last line."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotations.models import CampaignMembership
from tests.annotations.factories import CampaignFactory, MembershipFactory, UserFactory
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_creates_a_rater_and_prints_a_working_token_last():
    campaign = CampaignFactory(slug="demo")

    code, out, _ = run("create_rater", "alice", "--campaign", "demo", "--email", "a@x.org")

    assert code == 0
    token = out.strip().splitlines()[-1]
    user = get_user_model().objects.get(username="alice")
    assert user.email == "a@x.org"
    assert not user.has_usable_password()
    assert Token.objects.get(user=user).key == token
    assert CampaignMembership.objects.get(campaign=campaign, user=user).role == "rater"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(f"/api/campaigns/{campaign.slug}/progress/")
    assert response.status_code == 200


def test_running_twice_reuses_the_user_and_the_token():
    CampaignFactory(slug="demo")
    _, first, _ = run("create_rater", "alice", "--campaign", "demo")

    code, second, _ = run("create_rater", "alice", "--campaign", "demo")

    assert code == 0
    assert second.strip().splitlines()[-1] == first.strip().splitlines()[-1]
    assert get_user_model().objects.filter(username="alice").count() == 1
    assert CampaignMembership.objects.count() == 1


def test_an_existing_user_joins_a_second_campaign():
    CampaignFactory(slug="one")
    CampaignFactory(slug="two")
    run("create_rater", "alice", "--campaign", "one")

    run("create_rater", "alice", "--campaign", "two")

    assert CampaignMembership.objects.filter(user__username="alice").count() == 2


def test_a_campaign_admin_is_not_demoted():
    campaign = CampaignFactory(slug="demo")
    boss = UserFactory(username="boss")
    MembershipFactory(campaign=campaign, user=boss, role=CampaignMembership.Role.ADMIN)

    code, _, _ = run("create_rater", "boss", "--campaign", "demo")

    assert code == 0
    assert CampaignMembership.objects.get(user=boss).role == "admin"


def test_unknown_campaign_exits_2_with_one_line_and_changes_nothing():
    before = row_counts()

    code, out, err = run("create_rater", "alice", "--campaign", "nope")

    assert code == 2
    assert err.strip().splitlines() == ["campaign 'nope' does not exist"]
    assert out == ""
    assert row_counts() == before


def test_invalid_username_exits_2_with_one_line():
    CampaignFactory(slug="demo")

    code, _, err = run("create_rater", "bad name!", "--campaign", "demo")

    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert not get_user_model().objects.filter(username="bad name!").exists()
