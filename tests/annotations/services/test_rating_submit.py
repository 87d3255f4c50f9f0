"""rating_submit: validation, idempotent keys, edits with history, late submissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from annotations.models import Assignment, Campaign, Rating, RatingRevision, RatingValue
from annotations.services import assignment_claim_next, rating_submit
from annotations.services.ratings import rating_scores
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db

GOOD = {"fluency": 4, "accuracy": 5}


def submit(assignment, rater, **overrides):
    arguments = {"scores": GOOD, "satisfaction": None, "comment": "", "key": "k1",
                 "choice": None, "time_spent_ms": 1200}
    arguments.update(overrides)
    return rating_submit(assignment=assignment, rater=rater, **arguments)


def test_submission_stores_values_and_marks_the_assignment_submitted():
    campaign = make_campaign()
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    rating, created = submit(assignment, rater, comment="fine")

    assert created is True
    assert rating_scores(rating=rating) == {"fluency": 4.0, "accuracy": 5.0}
    assert (rating.output_id, rating.assignment_id, rating.comment) == (
        assignment.output_id, assignment.pk, "fine")
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED
    assert assignment.submitted_at is not None


def test_replaying_the_same_key_returns_the_stored_rating_unchanged():
    campaign = make_campaign()
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)
    first, _ = submit(assignment, rater)

    again, created = submit(assignment, rater, scores={"fluency": 1, "accuracy": 1})

    assert created is False
    assert again.pk == first.pk
    assert rating_scores(rating=again) == {"fluency": 4.0, "accuracy": 5.0}
    assert Rating.objects.count() == 1
    assert not RatingRevision.objects.exists()


def test_a_new_key_edits_the_rating_and_keeps_the_previous_values():
    campaign = make_campaign()
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)
    submit(assignment, rater, comment="first")

    rating, created = submit(assignment, rater, key="k2", scores={"fluency": 2, "accuracy": 3},
                             comment="second", time_spent_ms=800)

    assert created is False
    assert rating_scores(rating=rating) == {"fluency": 2.0, "accuracy": 3.0}
    assert rating.time_spent_ms == 2000
    revision = RatingRevision.objects.get(rating=rating)
    assert revision.values == {"fluency": 4.0, "accuracy": 5.0}
    assert revision.comment == "first"
    assert RatingValue.objects.filter(rating=rating).count() == 2


def test_a_late_replay_of_a_superseded_key_changes_nothing():
    # given a rating first sent with k1, then edited with k2
    campaign = make_campaign()
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)
    submit(assignment, rater)
    submit(assignment, rater, key="k2", scores={"fluency": 2, "accuracy": 3})
    # when a network retry of the k1 request arrives late
    rating, created = submit(assignment, rater, key="k1")
    # then it is recognised as a replay: the edit stands and no new revision is written
    assert created is False
    assert rating_scores(rating=rating) == {"fluency": 2.0, "accuracy": 3.0}
    assert RatingRevision.objects.filter(rating=rating).count() == 1
    assert RatingRevision.objects.get(rating=rating).key == "k1"


@pytest.mark.parametrize(("scores", "field"), [
    ({"fluency": 4}, "scores.accuracy"),
    ({"fluency": 6, "accuracy": 3}, "scores.fluency"),
    ({"fluency": "4", "accuracy": 3}, "scores.fluency"),
    ({"fluency": True, "accuracy": 3}, "scores.fluency"),
    ({"fluency": float("nan"), "accuracy": 3}, "scores.fluency"),
    ({"fluency": 4, "accuracy": 3, "style": 2}, "scores.style"),
])
def test_bad_scores_raise_field_errors_and_store_nothing(scores, field):
    campaign = make_campaign()
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    with pytest.raises(ValidationError) as error:
        submit(assignment, rater, scores=scores)

    assert field in error.value.message_dict
    assert not Rating.objects.exists()
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ASSIGNED


def test_top_level_satisfaction_maps_to_the_satisfaction_criterion():
    campaign = make_campaign(satisfaction=True)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    rating, _ = submit(assignment, rater, satisfaction=5)

    assert rating_scores(rating=rating)["satisfaction"] == 5.0


def test_satisfaction_without_such_a_criterion_is_an_error():
    campaign = make_campaign()
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    with pytest.raises(ValidationError) as error:
        submit(assignment, rater, satisfaction=5)

    assert "satisfaction" in error.value.message_dict


def test_late_submission_on_a_lapsed_lease_is_stored_and_fills_its_free_slot():
    campaign = make_campaign(items=1, systems=1, overlap=1)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    rating, created = submit(assignment, rater, now=timezone.now() + timedelta(hours=3))

    assert created is True
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED


def test_late_submission_after_the_slot_was_reclaimed_is_kept_as_an_extra_rating():
    campaign = make_campaign(items=1, systems=1, overlap=1)
    slow, quick = make_rater(campaign), make_rater(campaign)
    lapsed = assignment_claim_next(campaign=campaign, rater=slow)
    later = timezone.now() + timedelta(hours=1)
    taken = assignment_claim_next(campaign=campaign, rater=quick, now=later)
    submit(taken, quick, now=later)
    lapsed.refresh_from_db()

    rating, created = submit(lapsed, slow, now=later)

    assert created is True
    assert Rating.objects.filter(output=lapsed.output).count() == 2
    lapsed.refresh_from_db()
    assert lapsed.status == Assignment.Status.EXPIRED
    assert lapsed.submitted_at == later


def test_someone_elses_assignment_is_refused():
    campaign = make_campaign()
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    with pytest.raises(PermissionDenied):
        submit(assignment, make_rater(campaign))
    assert not Rating.objects.exists()


def test_pairwise_submission_stores_the_choice_on_the_pair():
    campaign = make_campaign(systems=2, kind=Campaign.Kind.PAIRWISE)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    rating, created = submit(assignment, rater, scores={}, choice="B")

    assert created is True
    assert (rating.output_id, rating.output_b_id, rating.choice) == (
        assignment.output_id, assignment.output_b_id, "B")


def test_pairwise_submission_needs_a_choice():
    campaign = make_campaign(systems=2, kind=Campaign.Kind.PAIRWISE)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    with pytest.raises(ValidationError) as error:
        submit(assignment, rater, scores={}, choice=None)

    assert "choice" in error.value.message_dict
