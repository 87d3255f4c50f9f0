"""Integrity triggers for the two bulk-loaded tables, Output and RatingValue.

Row-by-row foreign-key checks cost more than the inserts themselves in a bulk import, so these
tables declare their foreign keys without database constraints (db_constraint=False) and the
database checks them here instead, once per statement on PostgreSQL (a join over the
statement's new rows) and per row on SQLite:
- an output's item and system exist and belong to the same campaign;
- a rating value's rating and criterion exist and the value lies within the criterion's scale
  (a CHECK constraint cannot read another table).
Deletes cascade through Django (on_delete=CASCADE).
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION annotations_output_integrity() RETURNS trigger AS $$
DECLARE bad record;
BEGIN
  SELECT n.item_id, n.system_id INTO bad
    FROM new_rows n
    LEFT JOIN annotations_item i ON i.id = n.item_id
    LEFT JOIN annotations_system s ON s.id = n.system_id
   WHERE i.id IS NULL OR s.id IS NULL OR i.campaign_id <> s.campaign_id
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'output of item % and system %: missing, or from different campaigns',
      bad.item_id, bad.system_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER output_integrity_insert AFTER INSERT ON annotations_output
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotations_output_integrity();
CREATE TRIGGER output_integrity_update AFTER UPDATE ON annotations_output
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotations_output_integrity();

CREATE OR REPLACE FUNCTION annotations_ratingvalue_integrity() RETURNS trigger AS $$
DECLARE bad record;
BEGIN
  SELECT n.rating_id INTO bad FROM new_rows n
   WHERE NOT EXISTS (SELECT 1 FROM annotations_rating r WHERE r.id = n.rating_id)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'rating % does not exist', bad.rating_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  SELECT n.value, c.scale_min, c.scale_max, n.criterion_id, c.id AS found INTO bad
    FROM new_rows n LEFT JOIN annotations_criterion c ON c.id = n.criterion_id
   WHERE c.id IS NULL OR n.value < c.scale_min OR n.value > c.scale_max
   LIMIT 1;
  IF FOUND AND bad.found IS NULL THEN
    RAISE EXCEPTION 'criterion % does not exist', bad.criterion_id
      USING ERRCODE = 'foreign_key_violation';
  ELSIF FOUND THEN
    RAISE EXCEPTION 'rating value % is outside the scale %..% of criterion %',
      bad.value, bad.scale_min, bad.scale_max, bad.criterion_id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER ratingvalue_integrity_insert AFTER INSERT ON annotations_ratingvalue
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotations_ratingvalue_integrity();
CREATE TRIGGER ratingvalue_integrity_update AFTER UPDATE ON annotations_ratingvalue
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION annotations_ratingvalue_integrity();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS output_integrity_insert ON annotations_output;
DROP TRIGGER IF EXISTS output_integrity_update ON annotations_output;
DROP FUNCTION IF EXISTS annotations_output_integrity();
DROP TRIGGER IF EXISTS ratingvalue_integrity_insert ON annotations_ratingvalue;
DROP TRIGGER IF EXISTS ratingvalue_integrity_update ON annotations_ratingvalue;
DROP FUNCTION IF EXISTS annotations_ratingvalue_integrity();
"""

_SQLITE_CHECKS = {
    "output": (
        "item_id, system_id",
        """NOT EXISTS (SELECT 1 FROM annotations_item i JOIN annotations_system s
                       ON s.campaign_id = i.campaign_id
                       WHERE i.id = NEW.item_id AND s.id = NEW.system_id)""",
        "output without its item or system, or with item and system of different campaigns",
    ),
    "ratingvalue": (
        "value, criterion_id, rating_id",
        """NOT EXISTS (SELECT 1 FROM annotations_rating WHERE id = NEW.rating_id)
           OR NOT EXISTS (SELECT 1 FROM annotations_criterion WHERE id = NEW.criterion_id
                          AND NEW.value BETWEEN scale_min AND scale_max)""",
        "rating value without its rating, or outside the scale of its criterion",
    ),
}
SQLITE_UP = [
    f"CREATE TRIGGER {table}_integrity_{event} BEFORE "
    f"{'INSERT' if event == 'insert' else 'UPDATE OF ' + columns} ON annotations_{table} "
    f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{message}'); END;"
    for table, (columns, condition, message) in _SQLITE_CHECKS.items()
    for event in ("insert", "update")
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {table}_integrity_{event};"
    for table in _SQLITE_CHECKS for event in ("insert", "update")
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
