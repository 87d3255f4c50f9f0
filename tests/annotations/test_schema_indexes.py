"""Every index the models declare exists in the migrated database, with the declared columns.

Migration 0006 created three indexes in SQL; 0007 declares them to Django so a table rebuild
keeps them. This checks the declarations and the database agree, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model_name", ["Item", "Assignment", "Output", "Rating"])
def test_declared_indexes_exist_with_their_columns(model_name):
    model = apps.get_model("annotations", model_name)
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    for index in model._meta.indexes:
        assert index.name in found, f"{model_name}: index {index.name} missing in the database"
        columns = [model._meta.get_field(name).column for name in index.fields]
        assert found[index.name]["columns"] == columns, index.name


def test_the_claim_indexes_are_known_to_django():
    names = {index.name for model in (apps.get_model("annotations", "Item"),
                                      apps.get_model("annotations", "Assignment"))
             for index in model._meta.indexes}
    assert {"item_campaign_id", "assignment_open_lease", "assignment_rater_position"} <= names
