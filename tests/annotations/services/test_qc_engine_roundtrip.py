"""QC copies made by qc_degraded_create/qc_repeats_create reach a rater through the
assignment engine and come back as pairs in qc_rater_stats."""

from __future__ import annotations

import random

import pytest

from annotations.models import Campaign, Output, Rating
from annotations.selectors_qc import qc_rater_stats
from annotations.services import (
    assignment_claim_next,
    qc_degraded_create,
    qc_repeats_create,
    rating_submit,
)
from tests.annotations.factories import MembershipFactory, UserFactory
from tests.annotations.services.test_qc_controls import make_campaign

pytestmark = pytest.mark.django_db


def test_a_rater_who_tells_copies_apart_gets_pairs_and_no_degraded_flag():
    campaign = make_campaign(items=12, systems=2, slug="loop", status=Campaign.Status.ACTIVE,
                             overlap=1, options={"qc": {"degraded_rate": 0.3,
                                                        "repeat_rate": 0.2}})
    qc_degraded_create(campaign=campaign, count=10, seed=1)
    qc_repeats_create(campaign=campaign, count=6, seed=1)
    rater = MembershipFactory(campaign=campaign, user=UserFactory(username="reader")).user
    rng = random.Random(5)

    for n in range(200):
        assignment = assignment_claim_next(campaign=campaign, rater=rater, rng=rng)
        if assignment is None:
            break
        degraded = assignment.output.qc_method not in ("", "repeat")
        rating_submit(assignment=assignment, rater=rater,
                      scores={"fluency": 1 if degraded else 4}, satisfaction=None,
                      comment="", key=f"k{n}", choice=None, time_spent_ms=3000)

    rated = Output.objects.filter(ratings__rater=rater)
    row = qc_rater_stats(campaign=campaign)[0]
    assert row.rater == "reader"
    assert row.ratings == Rating.objects.filter(rater=rater).count() > 24
    assert row.degraded_pairs == rated.filter(qc_method__in=["shuffle", "truncate",
                                                             "replace"]).count() > 0
    assert row.degraded_detected == row.degraded_pairs
    assert row.repeat_pairs == rated.filter(qc_method="repeat").count() > 0
    assert row.repeat_mean_abs_diff == 0
    assert "scores degraded outputs like the originals" not in row.flags
