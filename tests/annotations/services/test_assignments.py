"""Assignment engine: balance, item blocks, seeds, k, leases, quota and campaign status."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from annotations.models import Assignment, Campaign, CampaignMembership, Criterion
from annotations.services import assignment_claim_next
from annotations.services.assignments import block_order, search
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    ItemFactory,
    MembershipFactory,
    OutputFactory,
    RatingFactory,
    SystemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def make_campaign(*, items: int = 3, systems: int = 3, overlap: int = 2,
                  kind: str = Campaign.Kind.RATING, options: dict[str, Any] | None = None,
                  satisfaction: bool = False) -> Campaign:
    """An active campaign where every system answers every item, with a 1–5 rubric."""
    campaign = CampaignFactory(status=Campaign.Status.ACTIVE, overlap=overlap, kind=kind,
                               options=options or {})
    for position, key in enumerate(["fluency", "accuracy"]):
        CriterionFactory(campaign=campaign, key=key, position=position)
    if satisfaction:
        CriterionFactory(campaign=campaign, key="satisfaction", position=9, required=False,
                         level=Criterion.Level.INTERVAL)
    made = [SystemFactory(campaign=campaign, name=f"sys{s}") for s in range(systems)]
    for i in range(items):
        item = ItemFactory(campaign=campaign, external_id=f"q{i}", input=f"question {i}")
        for system in made:
            OutputFactory(item=item, system=system, text=f"{system.name} answers {i}")
    return campaign


def make_rater(campaign: Campaign, name: str | None = None) -> Any:
    """A user with the rater role in campaign."""
    user = UserFactory(**({"username": name} if name else {}))
    MembershipFactory(campaign=campaign, user=user, role=CampaignMembership.Role.RATER)
    return user


def block(campaign: Campaign, rater: Any) -> list[Assignment]:
    return list(Assignment.objects.filter(campaign=campaign, rater=rater,
                                          status=Assignment.Status.ASSIGNED)
                .order_by("position"))


def submit_all(assignments: list[Assignment]) -> None:
    Assignment.objects.filter(pk__in=[a.pk for a in assignments]).update(
        status=Assignment.Status.SUBMITTED, submitted_at=timezone.now())


def test_first_claim_hands_out_all_outputs_of_one_item_in_positions():
    campaign = make_campaign(items=3, systems=3)
    rater = make_rater(campaign)

    first = assignment_claim_next(campaign=campaign, rater=rater)

    assignments = block(campaign, rater)
    assert first == assignments[0]
    assert len(assignments) == 3
    assert {a.output.item_id for a in assignments} == {first.output.item_id}
    assert [a.position for a in assignments] == [0, 1, 2]
    assert len({a.seed for a in assignments}) == 1
    assert all(a.lease_expires_at > timezone.now() for a in assignments)


def test_claim_resumes_the_current_assignment_instead_of_claiming_more():
    campaign = make_campaign()
    rater = make_rater(campaign)
    first = assignment_claim_next(campaign=campaign, rater=rater)

    again = assignment_claim_next(campaign=campaign, rater=rater)

    assert again == first
    assert Assignment.objects.filter(rater=rater).count() == 3


def test_block_order_is_reproducible_from_the_stored_seed():
    campaign = make_campaign(items=1, systems=5)
    rater = make_rater(campaign)

    assignment_claim_next(campaign=campaign, rater=rater, rng=random.Random(7))

    assignments = block(campaign, rater)
    units = [(a.output_id, None) for a in assignments]
    assert block_order(units, assignments[0].seed, pairwise=False) == units


def test_order_differs_between_seeds():
    units = [(pk, None) for pk in range(1, 9)]
    orders = {tuple(block_order(units, seed, pairwise=False)) for seed in range(20)}
    assert len(orders) > 1


def test_rater_finishes_an_item_before_the_next_and_never_sees_an_output_twice():
    campaign = make_campaign(items=3, systems=2, overlap=3)
    rater = make_rater(campaign)
    seen: list[int] = []
    while assignment_claim_next(campaign=campaign, rater=rater) is not None:
        current = block(campaign, rater)
        assert len({a.output.item_id for a in current}) == 1
        seen.extend(a.output_id for a in current)
        submit_all(current)

    assert len(seen) == 6
    assert len(set(seen)) == 6


def test_least_covered_item_is_handed_out_first():
    campaign = make_campaign(items=3, systems=2, overlap=3)
    first, second = make_rater(campaign), make_rater(campaign)
    a = assignment_claim_next(campaign=campaign, rater=first)
    b = assignment_claim_next(campaign=campaign, rater=second)

    third = assignment_claim_next(campaign=campaign, rater=make_rater(campaign))

    covered = {a.output.item_id, b.output.item_id}
    assert len(covered) == 2
    assert third.output.item_id not in covered


def test_no_output_gets_more_than_k_live_assignments():
    campaign = make_campaign(items=2, systems=2, overlap=2)
    raters = [make_rater(campaign) for _ in range(6)]

    for rater in raters:
        assignment_claim_next(campaign=campaign, rater=rater)

    per_output = Counter(Assignment.objects.values_list("output_id", flat=True))
    assert set(per_output.values()) == {2}
    assert sum(1 for r in raters if block(campaign, r)) == 4


def test_nothing_left_when_every_output_has_k_raters():
    campaign = make_campaign(items=1, systems=2, overlap=1)
    submit_all([assignment_claim_next(campaign=campaign, rater=make_rater(campaign))])

    assert assignment_claim_next(campaign=campaign, rater=make_rater(campaign)) is None


def test_expired_lease_frees_the_slot_and_is_marked_expired_when_reclaimed():
    campaign = make_campaign(items=1, systems=1, overlap=1, options={"lease_minutes": 10})
    slow, quick = make_rater(campaign), make_rater(campaign)
    lapsed = assignment_claim_next(campaign=campaign, rater=slow)
    later = timezone.now() + timedelta(minutes=11)

    assert assignment_claim_next(campaign=campaign, rater=quick,
                                 now=timezone.now() + timedelta(minutes=5)) is None
    reclaimed = assignment_claim_next(campaign=campaign, rater=quick, now=later)

    assert reclaimed.output_id == lapsed.output_id
    lapsed.refresh_from_db()
    assert lapsed.status == Assignment.Status.EXPIRED
    assert assignment_claim_next(campaign=campaign, rater=slow, now=later) is None


def test_a_rater_back_after_the_lease_gets_their_block_back_if_nobody_took_it():
    campaign = make_campaign(items=2, systems=2, overlap=1)
    rater = make_rater(campaign)
    first = assignment_claim_next(campaign=campaign, rater=rater)
    later = timezone.now() + timedelta(minutes=45)

    resumed = assignment_claim_next(campaign=campaign, rater=rater, now=later)

    assert resumed == first
    resumed.refresh_from_db()
    assert resumed.lease_expires_at > later


def test_inactive_campaigns_hand_out_nothing():
    campaign = make_campaign()
    rater = make_rater(campaign)
    for status in (Campaign.Status.DRAFT, Campaign.Status.PAUSED, Campaign.Status.CLOSED):
        campaign.status = status
        campaign.save()
        assert assignment_claim_next(campaign=campaign, rater=rater) is None
    assert not Assignment.objects.exists()


def test_quota_caps_the_rater_work():
    campaign = make_campaign(items=3, systems=2, overlap=3, options={"quota": 3})
    rater = make_rater(campaign)
    claimed = 0
    while assignment_claim_next(campaign=campaign, rater=rater) is not None:
        current = block(campaign, rater)
        claimed += len(current)
        submit_all(current)

    assert claimed == 3


def test_outputs_the_rater_already_rated_are_never_assigned():
    campaign = make_campaign(items=2, systems=1, overlap=2)
    rater = make_rater(campaign)
    rated_output = campaign.items.order_by("pk").first().outputs.get()
    RatingFactory(rater=rater, output=rated_output)

    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    assert assignment.output_id != rated_output.pk
    assert assignment_claim_next(campaign=campaign, rater=rater) == assignment


def test_pairwise_blocks_hold_every_pair_of_the_item_with_sides_from_the_seed():
    campaign = make_campaign(items=2, systems=3, kind=Campaign.Kind.PAIRWISE)
    rater = make_rater(campaign)

    first = assignment_claim_next(campaign=campaign, rater=rater)

    assignments = block(campaign, rater)
    assert first == assignments[0]
    assert len(assignments) == 3
    pairs = [(a.output_id, a.output_b_id) for a in assignments]
    assert all(b is not None for _, b in pairs)
    assert {frozenset(p) for p in pairs} == {
        frozenset(p) for p in [(x.pk, y.pk) for x in first.output.item.outputs.all()
                               for y in first.output.item.outputs.all() if x.pk < y.pk]}
    canonical = [(min(p), max(p)) for p in pairs]
    assert block_order(canonical, first.seed, pairwise=True) == pairs


def test_items_locked_by_other_claimers_are_skipped_and_later_pages_tried(monkeypatch):
    campaign = make_campaign(items=3, systems=1, overlap=1)
    first_two = list(campaign.items.order_by("pk").values_list("pk", flat=True))[:2]
    real_lock = search._lock_item_outputs
    monkeypatch.setattr(search, "CANDIDATES", 1)
    monkeypatch.setattr(search, "_lock_item_outputs", lambda item_id: (
        None if item_id in first_two else real_lock(item_id)))

    assignment = assignment_claim_next(campaign=campaign, rater=make_rater(campaign))

    assert assignment is not None
    assert assignment.output.item_id not in first_two
