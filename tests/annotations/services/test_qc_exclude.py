"""rater_exclude: an admin excludes a rater (or takes them back); nothing else changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied

from annotations.models import CampaignMembership
from annotations.services import QcError, rater_exclude
from tests.annotations.factories import CampaignFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def setup():
    campaign = CampaignFactory(slug="demo")
    admin = MembershipFactory(campaign=campaign, role=CampaignMembership.Role.ADMIN).user
    rater = MembershipFactory(campaign=campaign).user
    return campaign, admin, rater


def test_excluding_marks_the_membership_with_the_time(setup):
    campaign, admin, rater = setup

    membership = rater_exclude(campaign=campaign, user=rater, excluded=True, by=admin, now=NOW)

    assert membership.excluded is True and membership.excluded_at == NOW
    stored = CampaignMembership.objects.get(campaign=campaign, user=rater)
    assert stored.excluded is True and stored.excluded_at == NOW


def test_excluding_twice_keeps_the_first_time(setup):
    campaign, admin, rater = setup
    rater_exclude(campaign=campaign, user=rater, excluded=True, by=admin, now=NOW)

    rater_exclude(campaign=campaign, user=rater, excluded=True, by=admin, now=LATER)

    assert CampaignMembership.objects.get(user=rater).excluded_at == NOW


def test_exclusion_is_reversible(setup):
    campaign, admin, rater = setup
    rater_exclude(campaign=campaign, user=rater, excluded=True, by=admin, now=NOW)

    membership = rater_exclude(campaign=campaign, user=rater, excluded=False, by=admin)

    assert membership.excluded is False and membership.excluded_at is None
    assert CampaignMembership.objects.get(user=rater).excluded is False


def test_staff_may_exclude_without_a_membership(setup):
    campaign, _, rater = setup
    staff = UserFactory(is_staff=True)

    assert rater_exclude(campaign=campaign, user=rater, excluded=True, by=staff).excluded


def test_a_non_admin_cannot_exclude_and_nothing_changes(setup):
    campaign, _, rater = setup
    other_rater = MembershipFactory(campaign=campaign).user

    with pytest.raises(PermissionDenied):
        rater_exclude(campaign=campaign, user=rater, excluded=True, by=other_rater)

    assert not CampaignMembership.objects.filter(excluded=True).exists()


def test_someone_who_is_not_a_rater_of_the_campaign_is_refused(setup):
    campaign, admin, _ = setup
    outsider = UserFactory(username="outsider")
    MembershipFactory(user=outsider)  # a rater elsewhere

    with pytest.raises(QcError, match="'outsider' is not a rater of 'demo'"):
        rater_exclude(campaign=campaign, user=outsider, excluded=True, by=admin)
    with pytest.raises(QcError, match="is not a rater"):
        rater_exclude(campaign=campaign, user=admin, excluded=True, by=admin)

    assert not CampaignMembership.objects.filter(excluded=True).exists()


def test_excluding_a_rater_releases_their_open_work_to_the_pool():
    # given a rater holding a block of unsubmitted work
    from annotations.models import Assignment
    from annotations.services import assignment_claim_next
    from tests.annotations.services.test_assignments import make_campaign, make_rater

    campaign = make_campaign(items=2, systems=3, overlap=1)
    admin = MembershipFactory(campaign=campaign, role=CampaignMembership.Role.ADMIN).user
    rater = make_rater(campaign)
    assert assignment_claim_next(campaign=campaign, rater=rater) is not None
    held = set(Assignment.objects.filter(rater=rater, status=Assignment.Status.ASSIGNED)
               .values_list("output_id", flat=True))
    assert len(held) == 3

    # when an admin excludes them
    rater_exclude(campaign=campaign, user=rater, excluded=True, by=admin)

    # then nothing is assigned to them any more and another rater can take those outputs
    assert not Assignment.objects.filter(rater=rater, status=Assignment.Status.ASSIGNED).exists()
    other = make_rater(campaign)
    taken = set()
    while (assignment := assignment_claim_next(campaign=campaign, rater=other)) is not None:
        taken.add(assignment.output_id)
        Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.SUBMITTED)
    assert held <= taken
