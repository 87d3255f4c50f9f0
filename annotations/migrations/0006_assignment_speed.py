"""Per-item coverage for the assignment engine, and the indexes its claims walk.

`annotations_itemcoverage` is derived data (one row per item: its QC class, its units, the
ASSIGNED + SUBMITTED assignments on them and `fill` = taken / units). The engine keeps it up
to date under the item lock and can rebuild it from the assignments at any time
(`assignment_coverage_rebuild`), so a claim reads the least-covered items from one index
instead of counting every output and assignment of the campaign. Its correctness never rests
on this table: the k cap is re-counted from the assignments once the item is locked.

The table is plain SQL on purpose (no model state): it is a cache that only the engine's raw
SQL reads and writes, and a missing row only means "not seen by the engine yet".
Item rows are never referenced by a database foreign key, so flushes and cascades through
Django are unaffected; rows of deleted items are dropped by the next rebuild.
"""

from django.db import migrations

TABLE = """
CREATE TABLE annotations_itemcoverage (
  item_id bigint NOT NULL PRIMARY KEY,
  campaign_id bigint NOT NULL,
  qc smallint NOT NULL DEFAULT 0,
  units integer NOT NULL DEFAULT 0,
  taken integer NOT NULL DEFAULT 0,
  fill double precision NOT NULL DEFAULT 0
)
"""

INDEXES = [
    # The claim's scan: least-filled items of one QC class of a campaign, in id order.
    "CREATE INDEX itemcoverage_fill ON annotations_itemcoverage (campaign_id, qc, fill, item_id)",
    # The newest item the engine knows per campaign (new items are picked up by id).
    "CREATE INDEX itemcoverage_campaign_item ON annotations_itemcoverage (campaign_id, item_id)",
    "CREATE INDEX item_campaign_id ON annotations_item (campaign_id, id)",
    # Lapsed leases go back to the pool: the assigned rows of a campaign by lease end.
    "CREATE INDEX assignment_open_lease ON annotations_assignment (campaign_id, lease_expires_at)"
    " WHERE status = 'assigned'",
    # The rater's queue: their latest position and their open work.
    "CREATE INDEX assignment_rater_position ON annotations_assignment"
    " (campaign_id, rater_id, position)",
]

BACKFILL = """
INSERT INTO annotations_itemcoverage (item_id, campaign_id, qc, units, taken, fill)
SELECT s.item_id, s.campaign_id, s.qc, s.units, s.taken,
       CASE WHEN s.units > 0 THEN s.taken * 1.0 / s.units ELSE 1e9 END
  FROM (
    SELECT i.id AS item_id, i.campaign_id,
           CASE WHEN i.qc_kind = 'degraded' THEN 2 WHEN i.qc_kind = 'repeat' THEN 3
                WHEN COALESCE(o.n, 0) > 0 AND o.ctl = o.n THEN 1 ELSE 0 END AS qc,
           CASE WHEN c.kind = 'pairwise' THEN COALESCE(o.n, 0) * (COALESCE(o.n, 0) - 1) / 2
                ELSE COALESCE(o.n, 0) END AS units,
           COALESCE(t.n, 0) AS taken
      FROM annotations_item i
      JOIN annotations_campaign c ON c.id = i.campaign_id
      LEFT JOIN (SELECT item_id, COUNT(*) AS n, COUNT(control) AS ctl
                   FROM annotations_output GROUP BY item_id) o ON o.item_id = i.id
      LEFT JOIN (SELECT ao.item_id, COUNT(*) AS n
                   FROM annotations_assignment a
                   JOIN annotations_output ao ON ao.id = a.output_id
                  WHERE a.status IN ('assigned', 'submitted')
                  GROUP BY ao.item_id) t ON t.item_id = i.id
  ) s
"""

DOWN = [
    "DROP INDEX IF EXISTS assignment_rater_position",
    "DROP INDEX IF EXISTS assignment_open_lease",
    "DROP INDEX IF EXISTS item_campaign_id",
    "DROP TABLE IF EXISTS annotations_itemcoverage",
]


class Migration(migrations.Migration):

    dependencies = [
        ("annotations", "0004_qc_crowd_preferences"),
    ]

    operations = [
        migrations.RunSQL([TABLE, *INDEXES, BACKFILL], DOWN),
    ]
