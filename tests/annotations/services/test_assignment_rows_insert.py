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
