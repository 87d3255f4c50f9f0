"""Finding work: candidate items, a locked item's state, the rater's last position."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from django.db import connection
from django.db.models import Q

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Output,
    QcKind,
    Rating,
)
from annotations.selectors import (
    item_assignments_get,
    item_outputs_get,
)

from .base import CANDIDATES, LAPSED, QC_CONTROL, QC_DEGRADED, QC_NONE, QC_REPEAT, Unit, _unit_key
from .coverage import _coverage_write, _tables
from .rows import _lock_item_outputs

_COPY_OK = """
   AND NOT EXISTS (SELECT 1 FROM {output} co WHERE co.item_id = c.item_id AND (
         co.qc_source_id IS NULL
         OR NOT EXISTS (SELECT 1 FROM {rating} cr WHERE cr.rater_id = %(rater)s
                           AND (cr.output_id = co.qc_source_id
                                OR cr.output_b_id = co.qc_source_id))
         OR EXISTS (SELECT 1 FROM {output} src WHERE src.id = co.qc_source_id
                       AND src.item_id = %(last_item)s)))
"""

_FRESH = """
SELECT c.item_id, c.fill FROM {coverage} c
 WHERE c.campaign_id = %(campaign)s AND c.qc = %(qc)s AND c.fill < %(overlap)s
 ORDER BY c.fill, c.item_id
 LIMIT %(limit)s OFFSET %(offset)s
"""

# Copies are found from the rater's own ratings (bounded by their work), not by a scan.
_COPIES = """
SELECT c.item_id, c.fill FROM {coverage} c
 WHERE c.item_id IN (SELECT co.item_id FROM {rating} r
                       JOIN {output} co ON co.qc_source_id = r.output_id
                      WHERE r.rater_id = %(rater)s)
   AND c.campaign_id = %(campaign)s AND c.qc = %(qc)s AND c.fill < %(overlap)s {copy_ok}
 ORDER BY c.fill, c.item_id
 LIMIT %(limit)s OFFSET %(offset)s
"""

_LAPSED = """
SELECT c.item_id, (c.taken - l.n) * 1.0 / c.units AS fill FROM (
    SELECT lo.item_id, COUNT(*) AS n FROM (
        SELECT a.output_id FROM {assignment} a
         WHERE a.campaign_id = %(campaign)s AND a.status = 'assigned'
           AND a.lease_expires_at <= %(now)s
         ORDER BY a.lease_expires_at LIMIT %(lapsed)s) la
      JOIN {output} lo ON lo.id = la.output_id
     GROUP BY lo.item_id) l
  JOIN {coverage} c ON c.item_id = l.item_id
 WHERE c.qc = %(qc)s AND c.units > 0
"""

# One page of candidates: the least-filled items of the class (`page` = 1), on the first page
# also the items with the oldest lapsed leases (`page` = 0), each marked with whether the rater
# already had it (assigned, or rated, e.g. by an import). The page is materialised first, so
# the mark costs a few index probes per candidate whichever plan the database picks, never
# candidates x the rater's history; one statement instead of three on the claim path.
_CANDIDATES = """
WITH cand AS {materialized} (
    SELECT f.item_id, f.fill, 1 AS page FROM ({fresh}) f
    {lapsed}
)
SELECT cand.item_id, cand.fill, cand.page,
       EXISTS (SELECT 1 FROM {output} so WHERE so.item_id = cand.item_id
                  AND (EXISTS (SELECT 1 FROM {assignment} sa WHERE sa.output_id = so.id
                                  AND sa.rater_id = %(rater)s)
                       OR EXISTS (SELECT 1 FROM {rating} sr WHERE sr.output_id = so.id
                                     AND sr.rater_id = %(rater)s))) AS seen
  FROM cand
"""

_LAPSED_PAGE = "UNION ALL SELECT lp.item_id, lp.fill, 0 FROM ({lapsed}) lp"


def _candidate_items(campaign: Campaign, rater: Any, now: datetime, *, qc: int = QC_NONE,
                     last_item: int | None = None, offset: int = 0,
                     lapsed: int = LAPSED) -> tuple[list[int], bool]:
    """One page of items of a QC class with free units, least filled first, minus the ones
    the rater ever had; and whether the page was full (more may follow)."""
    tables = _tables() | {"rating": Rating._meta.db_table}
    params = {"campaign": campaign.pk, "rater": rater.pk, "qc": qc,
              "overlap": campaign.overlap, "limit": CANDIDATES, "offset": offset,
              "now": connection.ops.adapt_datetimefield_value(now), "lapsed": lapsed,
              "last_item": last_item or 0}
    copies = qc in (QC_DEGRADED, QC_REPEAT)
    fresh = _COPIES.format(copy_ok=_COPY_OK.format(**tables), **tables) if copies else \
        _FRESH.format(**tables)
    sql = _CANDIDATES.format(
        fresh=fresh, materialized="MATERIALIZED" if _materialize_ok() else "",
        # lapsed leases are few; they join the first page
        lapsed=_LAPSED_PAGE.format(lapsed=_LAPSED.format(**tables)) if offset == 0 else "",
        **tables)
    found: dict[int, float] = {}
    page_rows = 0
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for item_id, fill, page, had in cursor.fetchall():
            page_rows += page
            if not had:
                found[item_id] = min(fill, found.get(item_id, fill))
    ordered = sorted(found, key=lambda item_id: (found[item_id], item_id))
    return ordered, page_rows == CANDIDATES


def _materialize_ok() -> bool:
    """`WITH ... AS MATERIALIZED`: every PostgreSQL Django 5.2 supports, SQLite from 3.35."""
    if connection.vendor == "sqlite":
        return sqlite3.sqlite_version_info >= (3, 35)
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class _ItemState:
    qc: int
    units: list[Unit]
    held: dict[Unit, int]  # live assignments per unit
    taken: int  # ASSIGNED + SUBMITTED rows, lapsed or not
    had: set[Unit]  # units the rater ever had
    lapsed: set[Unit]  # units with an assigned row whose lease ran out
    outputs: dict[int, Output]  # the item's outputs, with the item


def _item_state(campaign: Campaign, item_id: int, rater: Any, now: datetime,
                outputs: list[Output] | None = None) -> _ItemState:
    """Units, live counts and the rater's history of a locked item (two queries, or one
    when its outputs, with the item, are given)."""
    if outputs is None:
        outputs = item_outputs_get(item_id=item_id)
    output_ids = [output.pk for output in outputs]
    if campaign.kind == Campaign.Kind.PAIRWISE:
        units: list[Unit] = [(a, b) for a, b in combinations(output_ids, 2)]
    else:
        units = [(pk, None) for pk in output_ids]
    qc_kind = outputs[0].item.qc_kind if outputs else QcKind.NONE
    codes: dict[str, int] = {QcKind.DEGRADED: QC_DEGRADED, QcKind.REPEAT: QC_REPEAT}
    qc = codes.get(qc_kind, QC_NONE)
    if qc == QC_NONE and outputs and all(output.control is not None for output in outputs):
        qc = QC_CONTROL
    held: dict[Unit, int] = {}
    had: set[Unit] = set()
    lapsed: set[Unit] = set()
    taken = 0
    rows = [(a.output_id, a.output_b_id, a.rater_id, a.status, a.lease_expires_at)
            for a in item_assignments_get(output_ids=output_ids)]
    for output_id, output_b_id, rater_id, status, expires in rows:
        key = _unit_key(output_id, output_b_id)
        if rater is not None and rater_id == rater.pk:
            had.add(key)
        if status in (Assignment.Status.SUBMITTED, Assignment.Status.ASSIGNED):
            taken += 1
        if status == Assignment.Status.SUBMITTED or (
                status == Assignment.Status.ASSIGNED and expires and expires > now):
            held[key] = held.get(key, 0) + 1
        elif status == Assignment.Status.ASSIGNED:
            lapsed.add(key)
    return _ItemState(qc, units, held, taken, had, lapsed, {o.pk: o for o in outputs})


def _free_units(campaign: Campaign, state: _ItemState) -> list[Unit]:
    return [u for u in state.units
            if u not in state.had and state.held.get(u, 0) < campaign.overlap]


def _unit_q(units: list[Unit]) -> Q:
    """Assignments on these units, whichever side of a pair is shown left."""
    match = Q()
    for a, b in units:
        if b is None:
            match |= Q(output_id=a, output_b__isnull=True)
        else:
            match |= Q(output_id=a, output_b_id=b) | Q(output_id=b, output_b_id=a)
    return match


@dataclass(frozen=True)
class _Busy:
    """Nothing free was found, but another claimer held this candidate item."""

    item_id: int


def _search(campaign: Campaign, rater: Any, now: datetime, *, qc: int, last_item: int | None,
            quota_left: int | None, lapsed: int = LAPSED
            ) -> tuple[int, _ItemState, list[Unit]] | _Busy | None:
    """Lock the first candidate item with free units for the rater (None: nothing found)."""
    offset, more, busy = 0, True, None
    while more:
        candidates, more = _candidate_items(campaign, rater, now, qc=qc, last_item=last_item,
                                            offset=offset, lapsed=lapsed)
        for item_id in candidates:
            # Another rater claiming this item right now: move on rather than wait.
            outputs = _lock_item_outputs(item_id)
            if outputs is None:
                busy = busy or item_id
                continue
            state = _item_state(campaign, item_id, rater, now, outputs)
            units = _free_units(campaign, state)
            if not units:
                # Full, or only units the rater had: correct the guide and move on.
                _coverage_write(campaign, item_id, state.qc, len(state.units), state.taken)
                continue
            if quota_left is not None and qc == QC_NONE:
                units = units[:quota_left]  # QC blocks do not count against the quota
            return item_id, state, units
        # Every candidate was seen, locked or just filled up: look further down the list.
        offset += CANDIDATES
    return _Busy(busy) if busy is not None else None


def _membership_lock(campaign: Campaign, rater: Any) -> bool | None:
    """Lock the rater's membership row; whether they are excluded (None: not a member)."""
    sql = (f'SELECT "excluded" FROM "{CampaignMembership._meta.db_table}" '
           f'WHERE "campaign_id" = %s AND "user_id" = %s ORDER BY "id" LIMIT 1')
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:  # written out: a claim runs a dozen statements
        cursor.execute(sql, [campaign.pk, rater.pk])
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


_POSITION = """
SELECT lp.position, lp.item_id, {news},
       EXISTS (SELECT 1 FROM {assignment} oa WHERE oa.campaign_id = %(campaign)s
                  AND oa.rater_id = %(rater)s AND oa.status = %(assigned)s)
  FROM (SELECT 1 AS one) d
  LEFT JOIN (SELECT a.position, o.item_id FROM {assignment} a
               JOIN {output} o ON o.id = a.output_id
              WHERE a.campaign_id = %(campaign)s AND a.rater_id = %(rater)s
              ORDER BY a.position DESC LIMIT 1) lp ON 1 = 1
"""

# Items newer than the newest one the guide knows (ids only grow), as a comparison of the two
# maxima: each is one backward index probe whatever the statistics say. Written as
# "EXISTS an item with id > the guide's max", a planner that knew the campaign held every
# item of the table chose a sequential scan of them all (4.7 ms at 10k items, against 0.1).
_NEWS = """COALESCE((SELECT MAX(i.id) FROM {item} i WHERE i.campaign_id = %(campaign)s), 0)
   > COALESCE((SELECT MAX(item_id) FROM {coverage} WHERE campaign_id = %(campaign)s), 0)"""


def _last_position(campaign: Campaign, rater: Any, *, check_new: bool
                   ) -> tuple[tuple[int, int] | None, bool, bool]:
    """In one statement: (position, item id) of the rater's last assignment in the campaign,
    or None; whether the guide is missing new items (when check_new); whether the rater holds
    any open assignment (lapsed or not)."""
    tables = _tables()
    sql = _POSITION.format(news=_NEWS.format(**tables) if check_new else "0", **tables)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"campaign": campaign.pk, "rater": rater.pk,
                             "assigned": Assignment.Status.ASSIGNED})
        position, item_id, news, has_open = cursor.fetchone()
    return (None if position is None else (position, item_id)), bool(news), bool(has_open)
