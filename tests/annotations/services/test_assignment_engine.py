"""The engine's coverage guide, skip, reset, reassign and quality-control mixing."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from annotations.models import Assignment, Campaign, Item, Output, QcKind
from annotations.selectors import campaign_progress_get
from annotations.services import assignment_claim_next, rating_submit
from annotations.services.assignments import (
    COVERAGE,
    QC_CONTROL,
    QC_NONE,
    assignment_coverage_rebuild,
    assignment_reassign,
    assignment_reset_for_rater,
    assignment_skip,
    qc_draw,
)
from tests.annotations.factories import ItemFactory, OutputFactory, RatingFactory, UserFactory
from tests.annotations.services.test_assignments import (
    block,
    make_campaign,
    make_rater,
    submit_all,
)

pytestmark = pytest.mark.django_db


def coverage(item_id: int) -> tuple[int, int, int, float] | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT qc, units, taken, fill FROM {COVERAGE} WHERE item_id = %s",
                       [item_id])
        return cursor.fetchone()


def rate(assignment: Assignment, rater) -> None:
    rating_submit(assignment=assignment, rater=rater, scores={"fluency": 3, "accuracy": 3},
                  satisfaction=None, comment="", key=f"k{assignment.pk}", choice=None,
                  time_spent_ms=5)


def rate_whole_block(campaign: Campaign, rater) -> list[Assignment]:
    current = block(campaign, rater)
    for assignment in current:
        rate(assignment, rater)
    return current


# --- the coverage guide ----------------------------------------------------------------------


def test_a_claim_records_the_item_coverage_in_the_guide():
    campaign = make_campaign(items=2, systems=3, overlap=2)
    rater = make_rater(campaign)

    first = assignment_claim_next(campaign=campaign, rater=rater)

    # 3 outputs, 3 assignments: one per unit, fill 1.0 of k=2
    assert coverage(first.output.item_id) == (QC_NONE, 3, 3, 1.0)
    other = campaign.items.exclude(pk=first.output.item_id).get()
    assert coverage(other.pk) == (QC_NONE, 3, 0, 0.0)


def test_items_added_after_the_first_claim_are_handed_out():
    campaign = make_campaign(items=1, systems=1, overlap=1)
    submit_all([assignment_claim_next(campaign=campaign, rater=make_rater(campaign))])
    late = ItemFactory(campaign=campaign, external_id="late")
    OutputFactory(item=late, system=campaign.systems.get())

    assignment = assignment_claim_next(campaign=campaign, rater=make_rater(campaign))

    assert assignment.output.item_id == late.pk


def test_a_stale_guide_that_hides_work_is_recounted_before_answering_nothing_left():
    campaign = make_campaign(items=2, systems=1, overlap=1)
    assignment_coverage_rebuild(campaign=campaign)
    with connection.cursor() as cursor:  # as if every item were full
        cursor.execute(f"UPDATE {COVERAGE} SET taken = 5, fill = 5 WHERE campaign_id = %s",
                       [campaign.pk])

    assignment = assignment_claim_next(campaign=campaign, rater=make_rater(campaign))

    assert assignment is not None
    assert coverage(assignment.output.item_id)[2] == 1


def test_a_lapsed_lease_goes_back_to_the_pool_although_the_guide_counts_it():
    campaign = make_campaign(items=2, systems=1, overlap=1, options={"lease_minutes": 5})
    slow, quick, third = (make_rater(campaign) for _ in range(3))
    lapsed = assignment_claim_next(campaign=campaign, rater=slow)
    submit_all([assignment_claim_next(campaign=campaign, rater=quick)])
    later = timezone.now() + timedelta(minutes=6)

    taken = assignment_claim_next(campaign=campaign, rater=third, now=later)

    assert taken.output_id == lapsed.output_id
    lapsed.refresh_from_db()
    assert lapsed.status == Assignment.Status.EXPIRED
    assert coverage(taken.output.item_id)[2] == 1  # the expired row no longer counts


def test_rebuild_counts_assigned_and_submitted_rows_only():
    campaign = make_campaign(items=1, systems=2, overlap=3)
    raters = [make_rater(campaign) for _ in range(3)]
    for rater in raters:
        assignment_claim_next(campaign=campaign, rater=rater)
    submit_all(block(campaign, raters[0]))
    assignment_skip(assignment=block(campaign, raters[1])[0], rater=raters[1],
                    reason="cannot judge")
    item = campaign.items.get()

    assignment_coverage_rebuild(campaign=campaign)

    # 6 rows: 2 submitted, 1 skipped, 3 assigned -> 5 taken over 2 units
    assert coverage(item.pk) == (QC_NONE, 2, 5, 2.5)


# --- skip --------------------------------------------------------------------------------------


def test_skip_frees_the_slot_for_others_and_the_rater_never_gets_the_output_again():
    campaign = make_campaign(items=1, systems=2, overlap=1)
    rater, other = make_rater(campaign), make_rater(campaign)
    first = assignment_claim_next(campaign=campaign, rater=rater)

    skipped = assignment_skip(assignment=first, rater=rater, reason="broken output")

    assert skipped.status == Assignment.Status.SKIPPED
    first.refresh_from_db()
    assert (first.status, first.skip_reason) == (Assignment.Status.SKIPPED, "broken output")
    rest = block(campaign, rater)
    assert len(rest) == 1  # the rest of the block stays the rater's
    submit_all(rest)
    assert assignment_claim_next(campaign=campaign, rater=rater) is None
    taken = assignment_claim_next(campaign=campaign, rater=other)
    assert taken.output_id == first.output_id


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_skip_without_a_usable_reason_is_refused_and_changes_nothing(reason):
    campaign = make_campaign(items=1, systems=1)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    with pytest.raises(ValidationError) as error:
        assignment_skip(assignment=assignment, rater=rater, reason=reason)

    assert "reason" in error.value.message_dict
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ASSIGNED


def test_skip_of_someone_elses_or_a_rated_assignment_is_refused():
    campaign = make_campaign(items=1, systems=1)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)

    with pytest.raises(PermissionDenied):
        assignment_skip(assignment=assignment, rater=make_rater(campaign), reason="x")
    rate(assignment, rater)
    with pytest.raises(ValidationError):
        assignment_skip(assignment=assignment, rater=rater, reason="cannot judge")
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED


# --- reset and reassign ------------------------------------------------------------------------


def test_reset_releases_open_work_to_the_pool_and_keeps_the_ratings():
    campaign = make_campaign(items=1, systems=3, overlap=1)
    rater, admin, other = make_rater(campaign), UserFactory(), make_rater(campaign)
    assignment_claim_next(campaign=campaign, rater=rater)
    done = block(campaign, rater)[0]
    rate(done, rater)

    released = assignment_reset_for_rater(campaign=campaign, rater=rater, by=admin)

    assert released == 2
    assert block(campaign, rater) == []
    done.refresh_from_db()
    assert done.status == Assignment.Status.SUBMITTED and done.ratings.count() == 1
    assert assignment_claim_next(campaign=campaign, rater=rater) is None
    assignment_claim_next(campaign=campaign, rater=other)
    assert {a.output_id for a in block(campaign, other)} == set(
        campaign.items.get().outputs.exclude(pk=done.output_id).values_list("pk", flat=True))


def test_reassign_moves_open_work_but_never_to_a_rater_who_had_the_output():
    campaign = make_campaign(items=2, systems=2, overlap=2)
    alice, bob, admin = make_rater(campaign), make_rater(campaign), UserFactory()
    assignment_claim_next(campaign=campaign, rater=alice)
    alice_block = block(campaign, alice)
    rate(alice_block[0], alice)
    assignment_claim_next(campaign=campaign, rater=bob)
    bob_block = block(campaign, bob)
    # bob already holds the other item; give him alice's item's remaining output
    moved = assignment_reassign(campaign=campaign, from_rater=alice, to_rater=bob, by=admin)

    assert moved == 1
    assert block(campaign, alice) == []
    bob_outputs = [a.output_id for a in block(campaign, bob)]
    assert bob_outputs[:len(bob_block)] == [a.output_id for a in bob_block]
    assert alice_block[1].output_id in bob_outputs
    # moving back: bob's own item goes to alice; the output alice had goes to the pool
    assert assignment_reassign(campaign=campaign, from_rater=bob, to_rater=alice,
                               by=admin) == 2
    assert sorted(a.output_id for a in block(campaign, alice)) == sorted(
        a.output_id for a in bob_block)
    assert block(campaign, bob) == []


def test_reassign_to_a_non_rater_is_refused_and_changes_nothing():
    campaign = make_campaign(items=1, systems=1)
    alice = make_rater(campaign)
    assignment_claim_next(campaign=campaign, rater=alice)

    with pytest.raises(ValidationError):
        assignment_reassign(campaign=campaign, from_rater=alice, to_rater=UserFactory(),
                            by=UserFactory())

    assert len(block(campaign, alice)) == 1


# --- quality control ----------------------------------------------------------------------------


def add_control_item(campaign: Campaign, name: str = "ctl") -> Item:
    item = ItemFactory(campaign=campaign, external_id=name)
    for system in campaign.systems.all():
        OutputFactory(item=item, system=system, text="bad on purpose",
                      control={"fluency": [1, 2]})
    return item


def add_copy(campaign: Campaign, source, kind: str = QcKind.DEGRADED) -> Item:
    item = ItemFactory(campaign=campaign, external_id=f"{kind}-{source.pk}", qc_kind=kind,
                       input=source.item.input)
    OutputFactory(item=item, system=source.system, text="words shuffled", qc_source=source,
                  qc_method="shuffle")
    return item


def test_qc_draw_is_regular_without_qc_rates_and_follows_the_rates_otherwise():
    seeds = range(2000)
    assert {qc_draw(s, {}) for s in seeds} == {QC_NONE}
    assert {qc_draw(s, {"qc": {"control_rate": 0.0}}) for s in seeds} == {QC_NONE}
    assert {qc_draw(s, {"qc": {"control_rate": 1.0}}) for s in seeds} == {QC_CONTROL}
    share = sum(qc_draw(s, {"qc": {"control_rate": 0.25}}) == QC_CONTROL for s in seeds) / 2000
    # binomial(2000, 0.25): sd ~ 0.0097, so 0.25 +- 0.05 is over five sd
    assert 0.2 < share < 0.3


def test_without_qc_options_control_items_are_not_handed_out():
    campaign = make_campaign(items=1, systems=1, overlap=1)
    add_control_item(campaign)
    rater = make_rater(campaign)

    first = assignment_claim_next(campaign=campaign, rater=rater)
    submit_all([first])

    assert first.output.control is None
    assert assignment_claim_next(campaign=campaign, rater=rater) is None


def test_control_items_are_mixed_in_and_the_draw_reproduces_from_the_stored_seed():
    campaign = make_campaign(items=4, systems=1, overlap=3,
                             options={"qc": {"control_rate": 0.5}})
    controls = {add_control_item(campaign, f"ctl{i}").pk for i in range(4)}
    rater = make_rater(campaign)
    rng = random.Random(11)
    regular, mixed = 0, 0
    while (assignment := assignment_claim_next(campaign=campaign, rater=rater,
                                               rng=rng)) is not None:
        drawn = qc_draw(assignment.seed, campaign.options) == QC_CONTROL
        is_control = assignment.output.item_id in controls
        controls_left = len(controls) - mixed
        # a control comes exactly when the stored seed draws one and one is left
        assert is_control == (drawn and controls_left > 0)
        mixed += is_control
        regular += not is_control
        submit_all(block(campaign, rater))

    assert regular == 4
    assert mixed >= 1


def test_a_degraded_copy_goes_only_to_a_rater_who_rated_its_source_and_not_right_after():
    campaign = make_campaign(items=2, systems=1, overlap=2,
                             options={"qc": {"degraded_rate": 1.0}})
    first_item, second_item = campaign.items.order_by("pk")
    copy = add_copy(campaign, first_item.outputs.get())
    newcomer, rater = make_rater(campaign), make_rater(campaign)

    # the newcomer rated nothing: regular work although every draw says "degraded"
    assert assignment_claim_next(campaign=campaign, rater=newcomer).output.item_id != copy.pk
    first = assignment_claim_next(campaign=campaign, rater=rater)
    rate_whole_block(campaign, rater)
    second = assignment_claim_next(campaign=campaign, rater=rater)
    rate_whole_block(campaign, rater)
    third = assignment_claim_next(campaign=campaign, rater=rater)

    items = [first.output.item_id, second.output.item_id]
    if items[0] == first_item.pk:
        # right after rating the source the copy is held back; one item later it comes
        assert items[1] != copy.pk
        assert items[1] == second_item.pk
        assert third.output.item_id == copy.pk
    else:
        # source rated second: the copy is never right after it, nothing else is left
        assert items == [second_item.pk, first_item.pk]
        assert third is None


def test_progress_counts_real_units_for_the_campaign_and_qc_items_on_the_rater_bar():
    campaign = make_campaign(items=1, systems=1, overlap=1,
                             options={"qc": {"control_rate": 1.0}})
    add_control_item(campaign)
    rater = make_rater(campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=rater)
    assert assignment.output.control is not None
    rate(assignment, rater)

    progress = campaign_progress_get(campaign=campaign, user=rater, admin=True)

    assert (progress.units, progress.total, progress.done) == (1, 1, 0)
    assert (progress.me.done, progress.me.assigned, progress.me.total) == (1, 0, 2)
    assert [s.submitted for s in progress.systems] == [0]


def test_an_excluded_rater_gets_no_more_work():
    campaign = make_campaign(items=2, systems=1)
    rater = make_rater(campaign)
    assert assignment_claim_next(campaign=campaign, rater=rater) is not None
    campaign.memberships.filter(user=rater).update(excluded=True)

    assert assignment_claim_next(campaign=campaign, rater=rater) is None
    assert Assignment.objects.filter(rater=rater).count() == 1


def test_qc_items_do_not_use_up_the_quota_and_never_come_after_it():
    campaign = make_campaign(items=3, systems=1, overlap=3,
                             options={"quota": 2, "qc": {"control_rate": 0.5}})
    for i in range(3):
        add_control_item(campaign, f"ctl{i}")
    rater = make_rater(campaign)
    rng = random.Random(5)
    real = qc_items = 0
    while (assignment := assignment_claim_next(campaign=campaign, rater=rater,
                                               rng=rng)) is not None:
        if assignment.output.control is None:
            real += 1
        else:
            qc_items += 1
        submit_all(block(campaign, rater))

    assert real == 2
    assert qc_items >= 1  # this seed draws a control before the quota is reached
    assert Assignment.objects.filter(rater=rater).count() == real + qc_items


def test_repeats_made_by_the_qc_service_come_back_later_never_right_after_the_source():
    from annotations.services.qc import qc_repeats_create

    campaign = make_campaign(items=3, systems=1, overlap=2,
                             options={"qc": {"repeat_rate": 1.0}})
    assert qc_repeats_create(campaign=campaign, count=3, seed=1) == 3
    rater = make_rater(campaign)
    shown = []
    while (assignment := assignment_claim_next(campaign=campaign, rater=rater)) is not None:
        shown.append(assignment.output)
        rate_whole_block(campaign, rater)

    sources = [o.qc_source_id for o in shown]
    assert sum(s is None for s in sources) == 3  # all the real work
    # every copy whose original was not the very last item comes back: at least two here
    assert sum(s is not None for s in sources) >= 2
    last_real = [o.pk for o in shown if o.qc_source_id is None][-1]
    assert set(Output.objects.filter(qc_source__isnull=False).exclude(
        qc_source_id=last_real).values_list("pk", flat=True)) <= {o.pk for o in shown}
    for before, after in itertools.pairwise(shown):
        assert after.qc_source_id != before.pk  # never right after its original
    for i, output in enumerate(shown):
        if output.qc_source_id is not None:  # the original was rated earlier
            assert output.qc_source_id in [o.pk for o in shown[:i]]


def test_when_only_held_items_are_left_the_claim_waits_for_one_instead_of_giving_up(
        monkeypatch):
    from annotations.services.assignments import claim, search

    campaign = make_campaign(items=2, systems=1, overlap=1)
    busy = set(campaign.items.values_list("pk", flat=True))  # another claimer holds both
    waited: list[int] = []
    real_lock, real_lock_outputs = claim._lock_item, search._lock_item_outputs

    def lock(item_id, *, skip_locked):
        assert not skip_locked  # claims skip held items through _lock_item_outputs
        waited.append(item_id)  # a blocking lock returns once the other claimer is done
        busy.discard(item_id)
        return real_lock(item_id, skip_locked=skip_locked)

    def lock_outputs(item_id):  # SKIP LOCKED: nothing while another claimer holds it
        return None if item_id in busy else real_lock_outputs(item_id)

    monkeypatch.setattr(claim, "_lock_item", lock)
    monkeypatch.setattr(search, "_lock_item_outputs", lock_outputs)

    assignment = assignment_claim_next(campaign=campaign, rater=make_rater(campaign))

    assert assignment is not None
    assert waited == [assignment.output.item_id]


def test_a_lapsed_lease_beyond_the_oldest_ones_is_still_found_before_nothing_left(
        monkeypatch):
    from annotations.services.assignments import claim

    monkeypatch.setattr(claim, "LAPSED", 1)  # what a claim's search looks at
    campaign = make_campaign(items=2, systems=1, overlap=1, options={"lease_minutes": 5})
    late, early, rater = make_rater(campaign), make_rater(campaign), make_rater(campaign)
    start = timezone.now()
    # early's lease lapses first, on an item the rater already had (the oldest lapsed one)
    seen = assignment_claim_next(campaign=campaign, rater=early, now=start)
    RatingFactory(rater=rater, output=seen.output)
    free = assignment_claim_next(campaign=campaign, rater=late,
                                 now=start + timedelta(minutes=1))

    got = assignment_claim_next(campaign=campaign, rater=rater,
                                now=start + timedelta(minutes=10))

    assert got is not None and got.output_id == free.output_id
