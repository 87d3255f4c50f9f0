"""After an outputs import PostgreSQL's planner statistics describe the new items.

Without them (autovacuum off, or not run yet) the planner took a campaign for ~20 items and
walked every item of the campaign for each metric chunk's output-id range: a rerun of 100k
outputs took 22 s instead of about 1 s.
"""

from __future__ import annotations

import io

import pytest
from django.db import connection

from annotations.models import Item
from annotations.services import campaign_import
from annotations.services.campaigns import campaign_create, campaign_outputs_upload
from annotations.services.spec import spec_validate
from tests.conftest import jsonl_bytes, output_rows

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _item_stats() -> tuple[float, int]:
    """(pg_class.reltuples, pg_class.relpages) of the item table, as the planner reads them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples, relpages FROM pg_class WHERE oid = %s::regclass",
                       [Item._meta.db_table])
        reltuples, relpages = cursor.fetchone()
    return reltuples, relpages


def _forget_item_stats() -> None:
    # The state of a table that has never been analysed (reltuples -1), as a fresh import
    # leaves it when autovacuum has not run.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid = %s::regclass",
                       [Item._meta.db_table])


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL (the PostgreSQL pass runs it)")


def test_campaign_import_refreshes_the_item_statistics(bundle):
    # given a database whose item table has no statistics
    _forget_item_stats()
    spec_path, outputs_path = bundle(rows=output_rows(items=40))
    # when a campaign with 40 items is imported
    with spec_path.open("rb") as spec, outputs_path.open("rb") as outputs:
        campaign_import(spec_stream=spec, spec_name="spec.json", outputs_stream=outputs,
                        outputs_name="outputs.jsonl")
    # then the planner's row count for the table is the items now in it
    reltuples, relpages = _item_stats()
    assert reltuples == Item.objects.count() == 40
    assert relpages >= 1


def test_a_staff_upload_refreshes_the_item_statistics():
    # given a draft campaign and a table without statistics
    spec = spec_validate({"name": "Stats", "slug": "stats", "criteria": [
        {"key": "fluency", "label": "Fluency", "min": 1, "max": 5}]}, "spec")
    campaign = campaign_create(spec=spec)
    _forget_item_stats()
    # when its outputs (25 items) are uploaded
    campaign_outputs_upload(campaign=campaign, name="o.jsonl", baseline="base",
                            stream=io.BytesIO(jsonl_bytes(output_rows(items=25))))
    # then the statistics count them
    reltuples, _ = _item_stats()
    assert reltuples == Item.objects.count() == 25
