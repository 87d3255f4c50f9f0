"""Invitations: personal single-use links, revocation, crowd links and participants."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections

from annotations.models import Campaign, CampaignMembership, Invitation
from annotations.services.invitations import (
    InvitationInvalid,
    crowd_join,
    crowd_link_get_or_create,
    invitation_accept,
    invitation_accept_new_rater,
    invitation_create,
    invitation_revoke,
    participant_id_from,
)
from tests.annotations.factories import CampaignFactory, MembershipFactory, UserFactory
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign() -> Campaign:
    return CampaignFactory(status=Campaign.Status.ACTIVE)


@pytest.fixture
def admin(campaign: Campaign) -> Any:
    return MembershipFactory(campaign=campaign, role=CampaignMembership.Role.ADMIN).user


def test_an_invitation_has_an_unguessable_token_of_its_own(campaign: Campaign, admin: Any) -> None:
    first = invitation_create(campaign=campaign, email="a@example.org", by=admin)
    second = invitation_create(campaign=campaign, by=admin)

    assert first.token != second.token
    assert len(first.token) >= 40
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first.token)
    assert first.email == "a@example.org" and first.created_by == admin
    assert not first.reusable and first.role == CampaignMembership.Role.RATER


def test_accepting_joins_the_user_as_rater_once(campaign: Campaign, admin: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=admin)
    user = UserFactory()

    membership = invitation_accept(token=invitation.token, user=user)

    assert membership.campaign == campaign and membership.user == user
    assert membership.role == CampaignMembership.Role.RATER
    invitation.refresh_from_db()
    assert invitation.accepted_by == user and invitation.accepted_at is not None
    # the same user opening the link again is harmless
    assert invitation_accept(token=invitation.token, user=user).pk == membership.pk


def test_a_used_invitation_refuses_a_second_person(campaign: Campaign, admin: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=admin)
    invitation_accept(token=invitation.token, user=UserFactory())
    other = UserFactory()

    with pytest.raises(InvitationInvalid, match="already been used"):
        invitation_accept(token=invitation.token, user=other)
    assert not CampaignMembership.objects.filter(user=other).exists()


def test_a_revoked_invitation_cannot_be_accepted(campaign: Campaign, admin: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=admin)
    invitation_revoke(invitation=invitation, by=admin)
    user = UserFactory()

    with pytest.raises(InvitationInvalid, match="revoked"):
        invitation_accept(token=invitation.token, user=user)
    assert not CampaignMembership.objects.filter(user=user).exists()


@pytest.mark.parametrize("token", ["", "nope", "x" * 64])
def test_an_unknown_token_is_refused(campaign: Campaign, token: str) -> None:
    with pytest.raises(InvitationInvalid, match="not valid"):
        invitation_accept(token=token, user=UserFactory())


def test_a_closed_campaign_takes_no_new_raters(campaign: Campaign, admin: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=admin)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CLOSED)

    with pytest.raises(InvitationInvalid, match="closed"):
        invitation_accept(token=invitation.token, user=UserFactory())


def test_an_admin_is_never_demoted_by_an_invitation(campaign: Campaign, admin: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=admin)

    with pytest.raises(InvitationInvalid, match="administer"):
        invitation_accept(token=invitation.token, user=admin)
    assert CampaignMembership.objects.get(user=admin).role == CampaignMembership.Role.ADMIN


def test_a_new_rater_signs_up_through_the_invitation(campaign: Campaign, admin: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=admin)

    user, membership = invitation_accept_new_rater(token=invitation.token, username="newbie",
                                                   password="a-long-pass-phrase")

    assert user.check_password("a-long-pass-phrase")
    assert membership.campaign == campaign and membership.role == CampaignMembership.Role.RATER


def test_signing_up_with_a_taken_name_changes_nothing(campaign: Campaign, admin: Any) -> None:
    UserFactory(username="Taken")
    invitation = invitation_create(campaign=campaign, by=admin)
    before = row_counts()

    with pytest.raises(InvitationInvalid, match="taken"):
        invitation_accept_new_rater(token=invitation.token, username="taken",
                                    password="a-long-pass-phrase")
    assert row_counts() == before
    invitation.refresh_from_db()
    assert invitation.accepted_by is None


def test_signing_up_on_a_used_link_creates_no_account(campaign: Campaign, admin: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=admin)
    invitation_accept(token=invitation.token, user=UserFactory())

    with pytest.raises(InvitationInvalid):
        invitation_accept_new_rater(token=invitation.token, username="late",
                                    password="a-long-pass-phrase")
    assert not get_user_model().objects.filter(username="late").exists()


def test_the_crowd_link_is_reused_and_marks_crowd_mode(campaign: Campaign, admin: Any) -> None:
    link = crowd_link_get_or_create(campaign=campaign, by=admin)

    assert link.reusable and link.revoked_at is None
    assert crowd_link_get_or_create(campaign=campaign, by=admin).pk == link.pk
    campaign.refresh_from_db()
    assert campaign.options["crowd"] is True


def test_revoking_the_crowd_link_ends_crowd_mode_and_a_new_one_can_be_made(
        campaign: Campaign, admin: Any) -> None:
    link = crowd_link_get_or_create(campaign=campaign, by=admin)
    invitation_revoke(invitation=link, by=admin)
    campaign.refresh_from_db()
    assert campaign.options["crowd"] is False

    with pytest.raises(InvitationInvalid, match="revoked"):
        crowd_join(token=link.token, participant_id="P1")
    fresh = crowd_link_get_or_create(campaign=campaign, by=admin)
    assert fresh.pk != link.pk and fresh.token != link.token


def test_a_participant_gets_one_rater_and_a_completion_code(campaign: Campaign,
                                                            admin: Any) -> None:
    link = crowd_link_get_or_create(campaign=campaign, by=admin)

    user, membership = crowd_join(token=link.token, participant_id="5f8a9b0c1d2e3f4a5b6c7d8e")
    again_user, again = crowd_join(token=link.token, participant_id="5f8a9b0c1d2e3f4a5b6c7d8e")

    assert again_user.pk == user.pk and again.pk == membership.pk
    assert membership.role == CampaignMembership.Role.RATER
    assert membership.external_id == "5f8a9b0c1d2e3f4a5b6c7d8e"
    assert re.fullmatch(r"[0-9A-F]{16}", membership.completion_code)
    assert again.completion_code == membership.completion_code
    assert not user.has_usable_password()


def test_two_participants_get_two_raters_and_two_codes(campaign: Campaign, admin: Any) -> None:
    link = crowd_link_get_or_create(campaign=campaign, by=admin)
    UserFactory(username="crowd-W1")  # a name clash is worked around, never shared

    first, m1 = crowd_join(token=link.token, participant_id="W1")
    second, m2 = crowd_join(token=link.token, participant_id="W2")

    assert first.username != "crowd-W1"
    assert first.pk != second.pk and m1.completion_code != m2.completion_code


@pytest.mark.parametrize("participant", ["", "has space", "<script>", "x" * 65])
def test_a_bad_participant_id_is_refused_and_creates_nobody(campaign: Campaign, admin: Any,
                                                            participant: str) -> None:
    link = crowd_link_get_or_create(campaign=campaign, by=admin)
    before = row_counts()

    with pytest.raises(InvitationInvalid, match="participant id"):
        crowd_join(token=link.token, participant_id=participant)
    assert row_counts() == before


def test_a_personal_token_is_not_a_crowd_link(campaign: Campaign, admin: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=admin)

    with pytest.raises(InvitationInvalid, match="not valid"):
        crowd_join(token=invitation.token, participant_id="P1")
    link = crowd_link_get_or_create(campaign=campaign, by=admin)
    with pytest.raises(InvitationInvalid, match="not valid"):
        invitation_accept(token=link.token, user=UserFactory())
    assert Invitation.objects.get(pk=link.pk).accepted_by is None


@pytest.mark.parametrize(("params", "expected"), [
    ({"PROLIFIC_PID": "abc", "workerId": "w"}, "abc"),
    ({"workerId": "W9"}, "W9"),
    ({"participant": " p7 "}, "p7"),
    ({"other": "x"}, ""),
])
def test_the_participant_id_comes_from_the_platforms_parameter(params: dict[str, str],
                                                               expected: str) -> None:
    assert participant_id_from(params) == expected


# --- concurrency (PostgreSQL, real threads) --------------------------------------------------

THREADS = 8


def _in_threads(target: Any, args: list[tuple[Any, ...]]) -> tuple[list[Any], list[BaseException]]:
    """Run target(*a) for each a in its own thread and connection, all released together."""
    barrier = threading.Barrier(len(args))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(*a: Any) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(target(*a))
        except BaseException as error:  # noqa: BLE001 - collected for the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=a) for a in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_participant_opening_the_link_many_times_at_once_gets_one_rater() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    first, second = (CampaignFactory(status=Campaign.Status.ACTIVE) for _ in range(2))
    links = [crowd_link_get_or_create(campaign=c, by=None).token for c in (first, second)]

    results, errors = _in_threads(
        lambda token: crowd_join(token=token, participant_id="P-1"),
        [(links[i % 2],) for i in range(THREADS)])

    assert errors == []
    assert len(results) == THREADS
    members = CampaignMembership.objects.filter(external_id="P-1")
    assert sorted(members.values_list("campaign_id", flat=True)) == sorted([first.pk, second.pk])
    assert get_user_model().objects.filter(username__startswith="crowd-P-1").count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_invitation_accepted_by_many_at_once_admits_exactly_one() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    campaign = CampaignFactory(status=Campaign.Status.ACTIVE)
    token = invitation_create(campaign=campaign, by=None).token
    users = [UserFactory() for _ in range(THREADS)]

    results, errors = _in_threads(lambda user: invitation_accept(token=token, user=user),
                                  [(u,) for u in users])

    assert len(results) == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, InvitationInvalid) for e in errors)
    assert CampaignMembership.objects.filter(campaign=campaign).count() == 1
