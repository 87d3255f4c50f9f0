"""Pairwise preferences, choice required, and the going-back selectors."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotations.models import Campaign, Rating, RatingRevision
from annotations.selectors import assignment_previous_for_rater, rating_get_for_assignment
from annotations.services import assignment_claim_next, rating_submit
from tests.annotations.services.test_assignments import block, make_campaign, make_rater

pytestmark = pytest.mark.django_db


def pairwise_claim():
    campaign = make_campaign(items=2, systems=2, kind=Campaign.Kind.PAIRWISE)
    rater = make_rater(campaign)
    return campaign, rater, assignment_claim_next(campaign=campaign, rater=rater)


def submit(assignment, rater, **overrides):
    arguments = {"scores": {}, "satisfaction": None, "comment": "", "key": "k1",
                 "choice": "A", "time_spent_ms": 100}
    arguments.update(overrides)
    return rating_submit(assignment=assignment, rater=rater, **arguments)


def test_pairwise_preferences_are_stored_and_an_edit_keeps_them_in_the_revision():
    _, rater, assignment = pairwise_claim()

    rating, _ = submit(assignment, rater, preferences={"fluency": "A", "accuracy": "tie"})
    edited, created = submit(assignment, rater, key="k2", choice="B",
                             preferences={"fluency": "B"})

    assert created is False and edited.pk == rating.pk
    edited.refresh_from_db()
    assert (edited.choice, edited.preferences) == ("B", {"fluency": "B"})
    revision = RatingRevision.objects.get(rating=rating)
    assert (revision.choice, revision.preferences) == ("A", {"fluency": "A", "accuracy": "tie"})


@pytest.mark.parametrize(("preferences", "field"), [
    ({"style": "A"}, "preferences.style"),
    ({"fluency": "left"}, "preferences.fluency"),
    ({"fluency": 1}, "preferences.fluency"),
])
def test_bad_preferences_are_field_errors_and_store_nothing(preferences, field):
    _, rater, assignment = pairwise_claim()

    with pytest.raises(ValidationError) as error:
        submit(assignment, rater, preferences=preferences)

    assert field in error.value.message_dict
    assert not Rating.objects.exists()


def test_pairwise_needs_a_choice_and_rating_campaigns_take_no_preferences():
    _, rater, assignment = pairwise_claim()
    with pytest.raises(ValidationError) as error:
        submit(assignment, rater, choice=None, preferences={"fluency": "A"})
    assert "choice" in error.value.message_dict

    campaign = make_campaign()
    other = make_rater(campaign)
    single = assignment_claim_next(campaign=campaign, rater=other)
    with pytest.raises(ValidationError) as error:
        submit(single, other, choice=None, scores={"fluency": 3, "accuracy": 3},
               preferences={"fluency": "A"})
    assert "preferences" in error.value.message_dict
    assert not Rating.objects.exists()


def test_previous_is_the_latest_submitted_assignment_before_the_given_one():
    campaign = make_campaign(items=1, systems=3)
    rater = make_rater(campaign)
    assignment_claim_next(campaign=campaign, rater=rater)
    first, second, third = block(campaign, rater)
    assert assignment_previous_for_rater(user=rater, campaign=campaign) is None
    for assignment in (first, second):
        rating_submit(assignment=assignment, rater=rater, scores={"fluency": 3, "accuracy": 4},
                      satisfaction=None, comment="", key=f"k{assignment.pk}", choice=None,
                      time_spent_ms=1)

    assert assignment_previous_for_rater(user=rater, campaign=campaign) == second
    assert assignment_previous_for_rater(user=rater, campaign=campaign, before=third) == second
    assert assignment_previous_for_rater(user=rater, campaign=campaign, before=second) == first
    assert assignment_previous_for_rater(user=rater, campaign=campaign, before=first) is None
    assert assignment_previous_for_rater(user=make_rater(campaign), campaign=campaign) is None


def test_rating_for_assignment_is_the_raters_own_only():
    campaign = make_campaign(items=1, systems=1)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)
    assert rating_get_for_assignment(user=rater, assignment=assignment) is None
    rating, _ = rating_submit(assignment=assignment, rater=rater,
                              scores={"fluency": 2, "accuracy": 5}, satisfaction=None,
                              comment="", key="k", choice=None, time_spent_ms=1)

    found = rating_get_for_assignment(user=rater, assignment=assignment)

    assert found == rating
    assert {v.criterion.key: v.value for v in found.values.all()} == {"fluency": 2.0,
                                                                      "accuracy": 5.0}
    assert rating_get_for_assignment(user=make_rater(campaign), assignment=assignment) is None
