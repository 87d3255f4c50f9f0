"""The coverage guide (`annotations_itemcoverage`): per item, how full its units are."""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, connection, transaction

from annotations.models import (
    Assignment,
    Campaign,
    Item,
    Output,
)

from .base import COVERAGE

_ITEM_STATS = """
SELECT i.id AS item_id, i.campaign_id,
       CASE WHEN i.qc_kind = 'degraded' THEN 2 WHEN i.qc_kind = 'repeat' THEN 3
            WHEN COALESCE(o.n, 0) > 0 AND o.ctl = o.n THEN 1 ELSE 0 END AS qc,
       CASE WHEN %(pairwise)s THEN COALESCE(o.n, 0) * (COALESCE(o.n, 0) - 1) / 2
            ELSE COALESCE(o.n, 0) END AS units,
       COALESCE(t.n, 0) AS taken
  FROM {item} i
  LEFT JOIN (SELECT item_id, COUNT(*) AS n, COUNT(control) AS ctl
               FROM {output} GROUP BY item_id) o ON o.item_id = i.id
  LEFT JOIN (SELECT ao.item_id, COUNT(*) AS n
               FROM {assignment} a JOIN {output} ao ON ao.id = a.output_id
              WHERE a.campaign_id = %(campaign)s AND a.status IN ('assigned', 'submitted')
              GROUP BY ao.item_id) t ON t.item_id = i.id
 WHERE i.campaign_id = %(campaign)s {where}
"""

_UPSERT = """
INSERT INTO {coverage} (item_id, campaign_id, qc, units, taken, fill)
SELECT s.item_id, s.campaign_id, s.qc, s.units, s.taken,
       CASE WHEN s.units > 0 THEN s.taken * 1.0 / s.units ELSE 1e9 END
  FROM ({stats}) s
 WHERE 1 = 1
ON CONFLICT (item_id) DO UPDATE SET qc = excluded.qc, units = excluded.units,
       taken = excluded.taken, fill = excluded.fill
 WHERE {coverage}.qc <> excluded.qc OR {coverage}.units <> excluded.units
    OR {coverage}.taken <> excluded.taken
"""


def _tables() -> dict[str, str]:
    return {"item": Item._meta.db_table, "output": Output._meta.db_table,
            "assignment": Assignment._meta.db_table, "coverage": COVERAGE}


def _coverage_sync(campaign: Campaign, *, full: bool) -> None:
    """Add rows for items the engine has not seen yet; full=True recounts every item.

    Runs in its own short transaction, outside any claim, one per campaign at a time (a
    no-key lock on the campaign row, which only syncs take). Claims write rows only under
    their item lock; on PostgreSQL a sync gives up on a row a claim holds after a short lock
    timeout, so a claim waits for a sync briefly at worst and the two never deadlock. The
    table is only a guide: a sync that gave up is redone by a later claim.
    """
    tables = _tables()
    params = {"campaign": campaign.pk, "pairwise": campaign.kind == Campaign.Kind.PAIRWISE}
    where = "" if full else (
        f"AND i.id > COALESCE((SELECT MAX(item_id) FROM {COVERAGE} "
        f"WHERE campaign_id = %(campaign)s), 0)")
    stats = _ITEM_STATS.format(where=where, **tables)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # Waiting for another sync is safe (it is bounded by the timeout below); after
            # it, the statement's fresh snapshot sees what that sync added.
            list(Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk)
                 .values_list("pk", flat=True))
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
                cursor.execute("SET LOCAL jit = off")
            cursor.execute(_UPSERT.format(stats=stats, **tables), params)
            if full:  # rows of items deleted since
                cursor.execute(
                    f"DELETE FROM {COVERAGE} WHERE campaign_id = %s AND item_id NOT IN "
                    f"(SELECT id FROM {tables['item']} WHERE campaign_id = %s)",
                    [campaign.pk, campaign.pk])
    except OperationalError:
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            raise
        # Lock timeout: someone held a row for longer; the guide stays as it was.


def assignment_coverage_rebuild(*, campaign: Campaign) -> None:
    """Recount the engine's per-item coverage of the campaign from its assignments."""
    _coverage_sync(campaign, full=True)


def _coverage_write(campaign: Campaign, item_id: int, qc: int, units: int, taken: int) -> None:
    """Store one locked item's exact coverage (the caller holds the item lock)."""
    with connection.cursor() as cursor:
        cursor.execute(*_coverage_write_sql(campaign, item_id, qc, units, taken))


def _coverage_write_sql(campaign: Campaign, item_id: int, qc: int, units: int, taken: int
                        ) -> tuple[str, list[Any]]:
    fill = taken / units if units else 1e9
    return (f"INSERT INTO {COVERAGE} (item_id, campaign_id, qc, units, taken, fill) "
            f"VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (item_id) DO UPDATE SET "
            f"qc = excluded.qc, units = excluded.units, taken = excluded.taken, "
            f"fill = excluded.fill", [item_id, campaign.pk, qc, units, taken, fill])


# --- finding work ---------------------------------------------------------------------------

# A QC copy: every output's source was rated by the rater, and none is from their last item.
