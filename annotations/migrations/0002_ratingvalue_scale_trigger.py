"""Database-enforced scale bounds: a rating value must lie within its criterion's min..max.

A CHECK constraint cannot read another table, so a trigger does it, per database vendor.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION annotations_ratingvalue_in_scale() RETURNS trigger AS $$
DECLARE lo double precision; hi double precision;
BEGIN
  SELECT scale_min, scale_max INTO lo, hi FROM annotations_criterion WHERE id = NEW.criterion_id;
  IF NEW.value < lo OR NEW.value > hi THEN
    RAISE EXCEPTION 'rating value % is outside the scale %..% of criterion %',
      NEW.value, lo, hi, NEW.criterion_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER ratingvalue_in_scale BEFORE INSERT OR UPDATE OF value, criterion_id
  ON annotations_ratingvalue FOR EACH ROW EXECUTE FUNCTION annotations_ratingvalue_in_scale();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS ratingvalue_in_scale ON annotations_ratingvalue;
DROP FUNCTION IF EXISTS annotations_ratingvalue_in_scale();
"""
_SQLITE_CONDITION = """
  NEW.value < (SELECT scale_min FROM annotations_criterion WHERE id = NEW.criterion_id)
  OR NEW.value > (SELECT scale_max FROM annotations_criterion WHERE id = NEW.criterion_id)
"""
SQLITE_UP = [
    f"CREATE TRIGGER ratingvalue_in_scale_{event.split()[0].lower()} BEFORE {event} "
    f"ON annotations_ratingvalue WHEN {_SQLITE_CONDITION} "
    "BEGIN SELECT RAISE(ABORT, 'rating value is outside the scale of its criterion'); END;"
    for event in ("INSERT", "UPDATE OF value, criterion_id")
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS ratingvalue_in_scale_insert;",
    "DROP TRIGGER IF EXISTS ratingvalue_in_scale_update;",
]


def create_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
