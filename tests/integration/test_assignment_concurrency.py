"""Under concurrency no output gets more than k live assignments (PostgreSQL, real threads)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.utils import timezone

from annotations.models import Assignment, Campaign, Rating
from annotations.services import assignment_claim_next, rating_submit
from annotations.services.assignments import assignment_skip
from tests.annotations.services.test_assignments import make_campaign, make_rater

# Deselected from the SQLite pass (-m "not postgres"); the PostgreSQL pass of `make test` runs it.
pytestmark = pytest.mark.postgres

THREADS = 24
ROUNDS = 6


def _skip_unless_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks (SELECT ... FOR UPDATE SKIP LOCKED) need PostgreSQL")


def _work(campaign_pk: int, rater_pk: int, barrier: threading.Barrier,
          errors: list[BaseException], submitted: list[int], empty_first: list[int]) -> None:
    """One rater in its own connection: claim, submit every other block, repeat."""
    try:
        campaign = Campaign.objects.get(pk=campaign_pk)
        rater = campaign.memberships.get(user_id=rater_pk).user
        barrier.wait(timeout=30)
        for round_ in range(ROUNDS):
            assignment = assignment_claim_next(campaign=campaign, rater=rater)
            if assignment is None:
                if round_ == 0:
                    empty_first.append(rater_pk)
                break
            if round_ % 2 == 0:
                pairwise = campaign.kind == Campaign.Kind.PAIRWISE
                rating_submit(assignment=assignment, rater=rater,
                              scores={} if pairwise else {"fluency": 3, "accuracy": 4},
                              satisfaction=None, comment="", key=f"{rater_pk}-{round_}",
                              choice="A" if pairwise else None, time_spent_ms=10)
                submitted.append(assignment.pk)
            elif round_ % 3 == 0:
                # Skip one: its slot goes back to the pool while others are claiming.
                assignment_skip(assignment=assignment, rater=rater, reason="cannot judge")
            else:
                # Abandon the rest of the block: a lapsed lease is reclaimed by others.
                Assignment.objects.filter(rater=rater, status=Assignment.Status.ASSIGNED
                                          ).update(lease_expires_at=timezone.now())
    except BaseException as error:  # noqa: BLE001 - reported by the main thread
        errors.append(error)
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", [Campaign.Kind.RATING, Campaign.Kind.PAIRWISE])
def test_concurrent_raters_never_push_a_unit_over_k(kind):
    _skip_unless_postgres()
    campaign = make_campaign(items=12, systems=3, overlap=3, kind=kind)
    raters = [make_rater(campaign, f"rater{i}") for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    submitted: list[int] = []
    empty_first: list[int] = []
    threads = [threading.Thread(target=_work,
                                args=(campaign.pk, r.pk, barrier, errors, submitted,
                                      empty_first))
               for r in raters]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    # 36 units x k=3 is room for everyone's first block, even while the engine's coverage
    # guide is being filled for the first time by the same concurrent claims.
    assert not empty_first
    assert not any(t.is_alive() for t in threads)
    now = timezone.now()
    live = Assignment.objects.filter(campaign=campaign).filter(
        status__in=[Assignment.Status.SUBMITTED, Assignment.Status.ASSIGNED])
    # A unit is an output, or an output pair whichever side is shown left.
    live_per_unit = Counter(
        frozenset({a.output_id, a.output_b_id}) for a in live
        if a.status == Assignment.Status.SUBMITTED or a.lease_expires_at > now)
    assert live_per_unit, "nobody got any work"
    assert max(live_per_unit.values()) <= campaign.overlap
    assert Assignment.objects.filter(campaign=campaign,
                                     status=Assignment.Status.SKIPPED).exists()
    per_rater_unit = Counter((a.rater_id, frozenset({a.output_id, a.output_b_id}))
                             for a in Assignment.objects.filter(campaign=campaign))
    assert max(per_rater_unit.values()) == 1
    ratings = Rating.objects.filter(output__item__campaign=campaign)
    assert ratings.count() == len(submitted) == len(set(submitted))
    assert not Assignment.objects.filter(campaign=campaign, status=Assignment.Status.SUBMITTED,
                                         ratings__isnull=True).exists()


@pytest.mark.postgres
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_claimer_skips_an_item_another_transaction_holds_and_reads_it_once_free():
    """The claim's lock-and-read of an item (one statement, SKIP LOCKED) against a real lock."""
    from django.db import transaction

    from annotations.services.assignments.rows import _lock_item_outputs

    _skip_unless_postgres()
    campaign = make_campaign(items=1, systems=3, overlap=1)
    item = campaign.items.get()
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(type(item).objects.select_for_update().filter(pk=item.pk))
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        with transaction.atomic():
            assert _lock_item_outputs(item.pk) is None  # held elsewhere: skipped, no wait
    finally:
        release.set()
        holder.join(timeout=30)
    with transaction.atomic():
        outputs = _lock_item_outputs(item.pk)
    assert outputs is not None
    assert [o.pk for o in outputs] == sorted(item.outputs.values_list("pk", flat=True))
    assert {o.item.pk for o in outputs} == {item.pk}
