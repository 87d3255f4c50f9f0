"""rows_insert: the written-out INSERT stores what save()/bulk_create would, pks included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import Assignment, Output, Rating
from annotations.services.assignments import rows_insert
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db


def test_many_rows_get_their_own_pks_matched_by_position() -> None:
    campaign = make_campaign(items=1, systems=3)
    rater = make_rater(campaign)
    outputs = list(Output.objects.filter(item__campaign=campaign).order_by("pk"))
    expires = timezone.now() + timedelta(minutes=30)
    # positions deliberately not in insertion order
    made = [Assignment(campaign=campaign, rater=rater, output=o, seed=7, position=p,
                       lease_expires_at=expires) for o, p in zip(outputs, [2, 0, 1], strict=True)]

    rows_insert(objs=made, match="position")

    stored = {a.pk: (a.output_id, a.position, a.status, a.lease_expires_at)
              for a in Assignment.objects.filter(rater=rater)}
    assert stored == {a.pk: (a.output_id, a.position, Assignment.Status.ASSIGNED, expires)
                      for a in made}
    assert all(not a._state.adding for a in made)


def test_one_row_gets_its_pk_timestamps_and_json() -> None:
    campaign = make_campaign(items=1, systems=1)
    rater = make_rater(campaign)
    output = Output.objects.get(item__campaign=campaign)
    rating = Rating(rater=rater, output=output, preferences={"fluency": "A"}, comment="é <b>",
                    key="k", source=Rating.Source.API)

    rows_insert(objs=[rating])

    stored = Rating.objects.get(pk=rating.pk)
    assert (stored.preferences, stored.comment, stored.key) == ({"fluency": "A"}, "é <b>", "k")
    assert stored.created_at == rating.created_at is not None
    assert stored.updated_at == rating.updated_at is not None


def test_also_writes_its_second_row_with_the_insert() -> None:
    """`also` (one statement on PostgreSQL, two elsewhere): both writes land, pks are set."""
    from django.db import connection

    campaign = make_campaign(items=1, systems=2)
    rater = make_rater(campaign)
    outputs = list(Output.objects.filter(item__campaign=campaign).order_by("pk"))
    item_id = outputs[0].item_id
    made = [Assignment(campaign=campaign, rater=rater, output=o, seed=3, position=p,
                       lease_expires_at=timezone.now()) for p, o in enumerate(outputs)]
    also = ("INSERT INTO annotations_itemcoverage (item_id, campaign_id, qc, units, taken, fill)"
            " VALUES (%s, %s, 0, 2, 2, 1.0) ON CONFLICT (item_id) DO UPDATE SET taken = 2,"
            " fill = 1.0", [item_id, campaign.pk])

    rows_insert(objs=made, match="position", also=also)

    assert {a.pk: a.position for a in made} == dict(
        Assignment.objects.filter(rater=rater).values_list("pk", "position"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT taken, fill FROM annotations_itemcoverage WHERE item_id = %s",
                       [item_id])
        assert cursor.fetchall() == [(2, 1.0)]
