"""The hand-built rater payloads equal what the DRF OutputSerializers would render."""

from __future__ import annotations

import pytest

from annotations.api.rater_views import (
    CampaignNextApi,
    RatingSubmitApi,
    next_payload,
    rating_payload,
)
from annotations.models import Assignment, Campaign, Criterion, Rating
from annotations.selectors import criterion_payload_list
from annotations.services import assignments
from annotations.services.ratings import rating_submit
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db


def _claimed(campaign: Campaign) -> Assignment:
    rater = make_rater(campaign)
    assignment = assignments.assignment_claim_next(campaign=campaign, rater=rater)
    assert assignment is not None
    return assignment


@pytest.mark.parametrize("show_references", [True, False])
def test_next_payload_equals_the_serializer(show_references: bool) -> None:
    campaign = make_campaign(items=2, systems=2)
    campaign.options = {**(campaign.options or {}), "show_references": show_references}
    campaign.save()
    Criterion.objects.filter(campaign=campaign, key="fluency").update(
        scale_labels={"1": "poor", "5": "excellent"}, help_text="<b>plain</b> text")
    assignment = _claimed(campaign)
    assignment.campaign = campaign

    built = next_payload(assignment=assignment, campaign=campaign,
                         criteria=criterion_payload_list(campaign=campaign))

    assert built == CampaignNextApi.OutputSerializer(assignment).data
    assert built["criteria"][0]["labels"] == {"1": "poor", "5": "excellent"}


def test_next_payload_of_a_pair_equals_the_serializer() -> None:
    campaign = make_campaign(items=1, systems=3, kind=Campaign.Kind.PAIRWISE)
    assignment = _claimed(campaign)
    assignment.campaign = campaign

    built = next_payload(assignment=assignment, campaign=campaign,
                         criteria=criterion_payload_list(campaign=campaign))

    assert built == CampaignNextApi.OutputSerializer(assignment).data
    assert [o["id"] for o in built["outputs"]] == [assignment.output_id, assignment.output_b_id]


def test_rating_payload_equals_the_serializer() -> None:
    campaign = make_campaign(items=1, systems=1)
    assignment = _claimed(campaign)
    rating, _ = rating_submit(assignment=assignment, rater=assignment.rater,
                              scores={"fluency": 4, "accuracy": 2}, satisfaction=None,
                              comment="ok", key="k-1", choice=None, time_spent_ms=1200,
                              source=Rating.Source.API)

    assert rating_payload(rating=rating) == RatingSubmitApi.OutputSerializer(rating).data
    stored = Rating.objects.get(pk=rating.pk)  # read back: scores come from the database
    assert rating_payload(rating=stored) == RatingSubmitApi.OutputSerializer(stored).data


def test_the_rubric_read_with_the_campaign_equals_the_rubric_query() -> None:
    """campaign_get_for_rater(with_rubric=True) (one statement on PostgreSQL) gives the same
    payload, types included, as the rubric's own query."""
    from annotations.selectors import campaign_get_for_rater

    campaign = make_campaign(items=1, systems=1)
    Criterion.objects.filter(campaign=campaign, key="fluency").update(
        scale_labels={"1": "poor", "5": "excellent"}, help_text="<b>plain</b> text",
        scale_min=0, scale_max=10.5, required=False)
    rater = make_rater(campaign)

    with_rubric = campaign_get_for_rater(user=rater, slug=campaign.slug, with_rubric=True)
    alone = campaign_get_for_rater(user=rater, slug=campaign.slug)

    got, expected = criterion_payload_list(campaign=with_rubric), \
        criterion_payload_list(campaign=alone)
    assert got == expected
    assert [list(c) for c in got] == [list(c) for c in expected]  # key order of the JSON
    assert [(type(c["min"]), type(c["max"]), type(c["required"])) for c in got] == \
        [(float, float, bool)] * len(expected)
