"""Assignment engine: hand raters blind, balanced, item-blocked work under leases.

Every write to an item's assignments (claim, renew, submit, skip, reset) first locks that
item's row, so they serialise per item in the database: `SELECT ... FOR UPDATE SKIP LOCKED`
on PostgreSQL (a claimer moves on to the next candidate item instead of waiting), and on
SQLite the IMMEDIATE transactions of the settings already serialise all writers. Coverage is
counted again from the assignments once the lock is held, so no unit (an output, or an output
pair in pairwise campaigns) ever gets more than k live assignments. Live = submitted, or
assigned with an unexpired lease.

Finding work is cheap: `annotations_itemcoverage` (migration 0006) keeps, per item, the
ASSIGNED + SUBMITTED assignments per unit (`fill`), written under the item lock by every
engine write. A claim reads the least-filled items from one index, plus the items with lapsed
leases from a partial index, instead of aggregating the whole campaign. The table is only a
guide: a stale row costs a wasted lock at worst, and it is rebuilt whenever a search comes up
empty, so no work is ever hidden for good.

Quality control (campaign.options["qc"]): a claim draws, from the block's stored seed, whether
this block is a control item, a degraded copy or a repeat (at the campaign's rates; `qc_draw`
replays it); with nothing eligible the block is a regular one. A control item is an item all
of whose outputs carry `control`; it is handed out only through such draws (never without a
control rate). Copies only go to raters who rated their source output, never right after
its item. QC items come out of the same blocks, leases and k cap as everything else, so the
rater cannot tell them apart; the quota counts real units only, and once it is reached the
rater is done (no QC after it). An excluded rater gets no more work.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Item,
    Output,
    QcKind,
    Rating,
)
from annotations.selectors import (
    assignment_current_for_rater,
    assignment_list_open_for_rater,
    item_assignments_get,
    item_outputs_get,
    live_q,
    model_from_row,
    sql_columns,
)

from .campaigns import membership_add

DEFAULT_LEASE_MINUTES = 30
# How many least-covered candidate items one search returns; each is tried with SKIP LOCKED,
# so concurrent raters spread over different items.
CANDIDATES = 25
# Lapsed leases looked at per search (the oldest first); all of them before saying "nothing
# left" (those at the head may all be on items this rater already had).
LAPSED = 50
LAPSED_ALL = 2**31 - 1
# Rounds of one claim: new items synced, a held item waited for, the guide recounted.
CLAIM_ROUNDS = 5
SKIP_REASON_MAX = 200

# The QC class of an item in annotations_itemcoverage.qc.
QC_NONE, QC_CONTROL, QC_DEGRADED, QC_REPEAT = 0, 1, 2, 3
QC_RATE_KEYS = (("control_rate", QC_CONTROL), ("degraded_rate", QC_DEGRADED),
                ("repeat_rate", QC_REPEAT))

Unit = tuple[int, int | None]  # (output id, output_b id or None)

COVERAGE = "annotations_itemcoverage"


def lease_minutes(campaign: Campaign) -> float:
    """The campaign's lease length in minutes (options.lease_minutes, default 30)."""
    return float((campaign.options or {}).get("lease_minutes", DEFAULT_LEASE_MINUTES))


def block_order(units: list[Unit], seed: int, *, pairwise: bool) -> list[Unit]:
    """The order (and, for pairs, the left/right sides) a block is shown in, from its seed."""
    rng = random.Random(seed)
    ordered = sorted(units, key=lambda u: (u[0], u[1] or 0))
    rng.shuffle(ordered)
    if not pairwise:
        return ordered
    return [(b, a) if rng.random() < 0.5 else (a, b) for a, b in ordered]


def qc_draw(seed: int, options: dict[str, Any] | None) -> int:
    """The QC class a block with this seed is drawn from (QC_NONE without QC rates).

    Reproducible from the block's stored seed: one uniform draw of `random.Random(-seed - 1)`
    (a stream apart from block_order's) falls in [0, control) → control, then degraded, then
    repeat, else a regular item.
    """
    qc = (options or {}).get("qc") or {}
    rates = [(float(qc.get(key) or 0.0), kind) for key, kind in QC_RATE_KEYS]
    if not any(rate > 0 for rate, _ in rates):
        return QC_NONE
    draw = random.Random(-seed - 1).random()
    edge = 0.0
    for rate, kind in rates:
        edge += max(rate, 0.0)
        if draw < edge:
            return kind
    return QC_NONE


def _unit_key(output_id: int, output_b_id: int | None) -> Unit:
    """A side-independent key: a pair counts the same whichever output is shown left."""
    if output_b_id is None:
        return (output_id, None)
    return (min(output_id, output_b_id), max(output_id, output_b_id))


def _lock_item(item_id: int, *, skip_locked: bool) -> bool:
    """Lock one item row for this transaction; False when another claimer holds it."""
    # Written out: the ORM form cost more CPU to compile than the lock costs to take.
    sql = f'SELECT "id" FROM "{Item._meta.db_table}" WHERE "id" = %s'
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [item_id])
        return cursor.fetchone() is not None


_LOCK_OUTPUTS_SQL: dict[str, str] = {}


def _lock_item_outputs(item_id: int) -> list[Output] | None:
    """Lock one item row (SKIP LOCKED) and read its outputs in id order, the item attached,
    in one statement; None when another claimer holds the item."""
    sql = _LOCK_OUTPUTS_SQL.get(connection.vendor)
    if sql is None:
        sql = (f"SELECT {sql_columns(Item, 'i')}, {sql_columns(Output, 'o')}"
               f' FROM "{Item._meta.db_table}" i'
               f' LEFT JOIN "{Output._meta.db_table}" o ON o."item_id" = i."id"'
               f' WHERE i."id" = %s ORDER BY o."id"')
        if connection.features.has_select_for_update_of:
            sql += " FOR UPDATE OF i SKIP LOCKED"
        _LOCK_OUTPUTS_SQL[connection.vendor] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql, [item_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    item = model_from_row(Item, rows[0], 0)
    n_item = len(Item._meta.concrete_fields)
    outputs = []
    for row in rows:
        output = model_from_row(Output, row, n_item)
        if output is not None:  # None: the item has no outputs (LEFT JOIN)
            output.item = item
            outputs.append(output)
    return outputs  # type: ignore[return-value]


def _lock_items(item_ids: set[int]) -> None:
    """Blocking locks in id order: claimers never wait (SKIP LOCKED), so no deadlock."""
    list(Item.objects.select_for_update().filter(pk__in=sorted(item_ids)).order_by("pk")
         .values_list("pk", flat=True))


def rows_insert(*, objs: list[Any], match: str | None = None,
                also: tuple[str, list[Any]] | None = None) -> None:
    """INSERT new rows of one model in one written-out statement and mark them saved.

    What save()/bulk_create do for new rows (each field's pre_save and database prep),
    without their ORM compile (~1 ms of CPU per statement on the rater path). The pk is set
    on a single row, or, with `match` (a field unique among the rows), on every row. `also`:
    another write (sql, params) done in the same statement on PostgreSQL (a data-modifying
    WITH), right after it elsewhere.
    """
    if not objs:
        if also is not None:
            with connection.cursor() as cursor:
                cursor.execute(*also)
        return
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    values: list[Any] = []
    for obj in objs:
        values += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (f'INSERT INTO "{model._meta.db_table}" ('
           + ", ".join(f'"{f.column}"' for f in fields) + ") VALUES "
           + ", ".join([row] * len(objs)))
    pk = model._meta.pk
    returning = None
    if len(objs) == 1:
        returning = f'"{pk.column}"'
    elif match is not None:
        returning = f'"{pk.column}", "{model._meta.get_field(match).column}"'
    together = also is not None and connection.vendor == "postgresql"
    if returning is not None:
        sql += f" RETURNING {returning}"
    if together:
        sql = f"WITH new_rows AS ({sql}), also_done AS ({also[0]}) " + (
            "SELECT * FROM new_rows" if returning is not None else "SELECT 1")
        values += also[1]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if len(objs) == 1:
            setattr(objs[0], pk.attname, cursor.fetchone()[0])
        elif match is not None:
            by_match = {value: pk_value for pk_value, value in cursor.fetchall()}
            for obj in objs:
                setattr(obj, pk.attname, by_match[getattr(obj, match)])
        if also is not None and not together:
            cursor.execute(*also)
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


# --- the coverage table -------------------------------------------------------------------

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
    qc = {QcKind.DEGRADED: QC_DEGRADED, QcKind.REPEAT: QC_REPEAT}.get(qc_kind, QC_NONE)
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


def _claim_block(campaign: Campaign, rater: Any, item_id: int, state: _ItemState,
                 units: list[Unit], now: datetime, lease: timedelta, seed: int,
                 start: int) -> Assignment:
    """Create the rater's assignments for one item's free units, in seeded order.

    Returns the first of the block (the rater's current assignment), outputs attached.
    """
    pairwise = campaign.kind == Campaign.Kind.PAIRWISE
    # Lapsed leases on the units taken here lose their slot for good.
    reclaimed = [u for u in units if u in state.lapsed]
    expired = Assignment.objects.filter(
        _unit_q(reclaimed), output__item_id=item_id, status=Assignment.Status.ASSIGNED,
        lease_expires_at__lte=now).update(status=Assignment.Status.EXPIRED) if reclaimed else 0
    created = [
        Assignment(campaign=campaign, rater=rater, output_id=a, output_b_id=b, seed=seed,
                   position=start + i, lease_expires_at=now + lease)
        for i, (a, b) in enumerate(block_order(units, seed, pairwise=pairwise))
    ]
    # positions are distinct within the block; the guide's row written by the same statement
    rows_insert(objs=created, match="position", also=_coverage_write_sql(
        campaign, item_id, state.qc, len(state.units), state.taken - expired + len(units)))
    first = created[0]
    first.output = state.outputs[first.output_id]
    if first.output_b_id is not None:
        first.output_b = state.outputs[first.output_b_id]
    return first


def _current(campaign: Campaign, rater: Any, now: datetime, *, member_only: bool = False
             ) -> Assignment | None:
    """The rater's first open assignment with a live lease, with its outputs and item."""
    return assignment_current_for_rater(campaign=campaign, rater=rater, now=now,
                                        member_only=member_only)


def _resume(campaign: Campaign, rater: Any, now: datetime,
            lease: timedelta) -> Assignment | None:
    """The rater's current assignment; a lapsed block comes back if nobody reclaimed it."""
    held = assignment_list_open_for_rater(campaign=campaign, rater=rater)
    current = [a for a in held if a.lease_expires_at and a.lease_expires_at > now]
    if current or not held:
        return current[0] if current else None
    _lock_items({a.output.item_id for a in held})
    # A claim that reclaims a lapsed slot marks it EXPIRED under the item lock, so whatever
    # is still ASSIGNED now never lost its slot and can be renewed safely.
    Assignment.objects.filter(pk__in=[a.pk for a in held],
                              status=Assignment.Status.ASSIGNED).update(
        lease_expires_at=now + lease)
    return _current(campaign, rater, now)


def _real_q() -> Q:
    """Assignments on real outputs (not control items or QC copies)."""
    return Q(output__control__isnull=True) & Q(output__item__qc_kind=QcKind.NONE)


def _quota_left(campaign: Campaign, rater: Any, now: datetime) -> int | None:
    """Real units the rater may still take (QC items do not use up the quota)."""
    quota = (campaign.options or {}).get("quota")
    if quota is None:
        return None
    held = Assignment.objects.filter(live_q(now), _real_q(), campaign=campaign,
                                     rater=rater).count()
    return max(int(quota) - held, 0)


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


_EMPTY = object()  # a search found no work: recount the guide once, then say so
_NEW_ITEMS = object()  # the guide is missing new items: sync it outside the claim first


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
SELECT lp.position, lp.item_id, {news} FROM (SELECT 1 AS one) d
  LEFT JOIN (SELECT a.position, o.item_id FROM {assignment} a
               JOIN {output} o ON o.id = a.output_id
              WHERE a.campaign_id = %(campaign)s AND a.rater_id = %(rater)s
              ORDER BY a.position DESC LIMIT 1) lp ON 1 = 1
"""

# Items newer than the newest one the guide knows (ids only grow).
_NEWS = """EXISTS (SELECT 1 FROM {item} i WHERE i.campaign_id = %(campaign)s
   AND i.id > COALESCE((SELECT MAX(item_id) FROM {coverage}
                         WHERE campaign_id = %(campaign)s), 0))"""


def _last_position(campaign: Campaign, rater: Any, *, check_new: bool
                   ) -> tuple[tuple[int, int] | None, bool]:
    """((position, item id) of the rater's last assignment in the campaign, or None; whether
    the guide is missing new items, when check_new) in one statement."""
    tables = _tables()
    sql = _POSITION.format(news=_NEWS.format(**tables) if check_new else "0", **tables)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"campaign": campaign.pk, "rater": rater.pk})
        position, item_id, news = cursor.fetchone()
    return (None if position is None else (position, item_id)), bool(news)


def assignment_claim_next(*, campaign: Campaign, rater: Any, now: datetime | None = None,
                          rng: random.Random | None = None) -> Assignment | None:
    """The rater's current assignment, or a newly claimed item block; None when none is left."""
    if campaign.status != Campaign.Status.ACTIVE:
        return None
    now = now or timezone.now()
    # Most calls only resume the block in hand: one read, no lock, no commit to flush.
    current = _current(campaign, rater, now, member_only=True)
    if current is not None:
        return current
    rng = rng or random.SystemRandom()
    seed = rng.getrandbits(62)
    check_new, wait_for, recounted = True, None, False
    for _ in range(CLAIM_ROUNDS):
        claimed = _claim(campaign, rater, now, seed, check_new=check_new, wait_for=wait_for,
                         thorough=recounted)
        if claimed is _NEW_ITEMS:
            # Items the guide does not know yet (an import, QC copies): add them, then claim.
            _coverage_sync(campaign, full=False)
            check_new = False
        elif isinstance(claimed, _Busy):
            # Only items other claimers held were left: wait for one of them, in a fresh
            # transaction that holds no other item lock (so the wait cannot deadlock).
            wait_for = claimed.item_id
        elif claimed is _EMPTY and not recounted:
            # Out of work per the guide: recount it once before answering "nothing left".
            _coverage_sync(campaign, full=True)
            check_new, wait_for, recounted = False, None, True
        else:
            break
    return claimed if isinstance(claimed, Assignment) else None


def _claim(campaign: Campaign, rater: Any, now: datetime, seed: int, *,
           check_new: bool = True, wait_for: int | None = None, thorough: bool = False) -> Any:
    """Resume, or claim a block drawn by seed; None at the quota, _EMPTY if nothing found,
    _Busy if only held items were left, _NEW_ITEMS (with check_new) when the guide must
    first learn about new items. wait_for: an item to wait for (lock) before searching;
    thorough: look at every lapsed lease, not only the oldest (before saying "nothing left").
    """
    lease = timedelta(minutes=lease_minutes(campaign))
    with transaction.atomic():
        # One claim at a time per rater (a double click must not hand out two blocks).
        excluded = _membership_lock(campaign, rater)
        if excluded:  # an admin excluded this rater: no more work, open or new
            return None
        resumed = _resume(campaign, rater, now, lease)
        if resumed is not None:
            return resumed
        quota_left = _quota_left(campaign, rater, now)
        if quota_left == 0:  # QC items come within the work, never after the quota
            return None
        last, news = _last_position(campaign, rater, check_new=check_new)
        if news:
            return _NEW_ITEMS
        if wait_for is not None:
            # Held only by a claim or a submission for a moment; then the search sees it.
            _lock_item(wait_for, skip_locked=False)
        qc = qc_draw(seed, campaign.options)
        start, last_item = (0, None) if last is None else (last[0] + 1, last[1])
        found: Any = None
        busy = None
        for kind in dict.fromkeys([qc, QC_NONE]):  # a QC draw with nothing eligible: regular
            found = _search(campaign, rater, now, qc=kind, last_item=last_item,
                            quota_left=quota_left, lapsed=LAPSED_ALL if thorough else LAPSED)
            if isinstance(found, _Busy):
                busy, found = busy or found, None
            if found is not None:
                break
        if found is None:
            return busy or _EMPTY
        item_id, state, units = found
        return _claim_block(campaign, rater, item_id, state, units, now, lease, seed, start)


def assignment_settle_submission(*, assignment: Assignment, now: datetime) -> Assignment:
    """Mark a submitted assignment; a late one keeps its slot only if the unit has room.

    The caller holds the item lock (see rating_submit). A lease that lapsed without being
    reclaimed still holds its slot. A reclaimed, skipped or released one fills a slot if the
    unit is below k; otherwise the rating is kept as an extra one and the status stays.
    """
    fills_slot = assignment.status in (Assignment.Status.ASSIGNED, Assignment.Status.SUBMITTED)
    item_id = assignment.output.item_id
    takes_slot = False
    if not fills_slot:
        key = _unit_key(assignment.output_id, assignment.output_b_id)
        others = Assignment.objects.filter(live_q(now), output__item_id=item_id
                                           ).exclude(pk=assignment.pk)
        held = sum(1 for a, b in others.values_list("output_id", "output_b_id")
                   if _unit_key(a, b) == key)
        fills_slot = takes_slot = held < assignment.campaign.overlap
    if fills_slot:
        assignment.status = Assignment.Status.SUBMITTED
    if assignment.submitted_at is None or fills_slot:
        assignment.submitted_at = now
    with connection.cursor() as cursor:  # save(update_fields=...) written out: ~1 ms less CPU
        cursor.execute(
            f'UPDATE "{Assignment._meta.db_table}" SET "status" = %s, "submitted_at" = %s '
            f'WHERE "id" = %s',
            [assignment.status, connection.ops.adapt_datetimefield_value(assignment.submitted_at),
             assignment.pk])
    if takes_slot:
        state = _item_state(assignment.campaign, item_id, None, now)
        _coverage_write(assignment.campaign, item_id, state.qc, len(state.units), state.taken)
    return assignment


# --- skip, reset, reassign -------------------------------------------------------------------


def _release(campaign: Campaign, assignments: list[Assignment], status: str, reason: str,
             now: datetime) -> int:
    """Give these (locked items') open assignments up; the coverage guide follows."""
    if not assignments:
        return 0
    changed = Assignment.objects.filter(
        pk__in=[a.pk for a in assignments], status=Assignment.Status.ASSIGNED,
    ).update(status=status, skip_reason=reason[:SKIP_REASON_MAX])
    for item_id in sorted({a.output.item_id for a in assignments}):
        state = _item_state(campaign, item_id, None, now)
        _coverage_write(campaign, item_id, state.qc, len(state.units), state.taken)
    return changed


def assignment_skip(*, assignment: Assignment, rater: Any, reason: str,
                    now: datetime | None = None) -> Assignment:
    """Skip an open assignment with a reason; its slot goes back to the pool for others.

    The rater never gets that output (or pair) again: the skipped row stays in their history.
    Skipping an already skipped assignment is a no-op; a submitted one cannot be skipped.
    """
    if assignment.rater_id != rater.pk:
        raise PermissionDenied("not your assignment")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["say why you skip this item"]})
    if len(reason) > SKIP_REASON_MAX:
        raise ValidationError({"reason": [f"at most {SKIP_REASON_MAX} characters"]})
    now = now or timezone.now()
    with transaction.atomic():
        _lock_items({assignment.output.item_id})
        assignment.refresh_from_db(fields=["status", "skip_reason"])
        if assignment.status == Assignment.Status.SKIPPED:
            return assignment
        if assignment.status == Assignment.Status.SUBMITTED:
            raise ValidationError({"reason": ["this item is already rated; edit it instead"]})
        # An EXPIRED one lost its slot already; it is marked skipped all the same.
        Assignment.objects.filter(pk=assignment.pk).update(
            status=Assignment.Status.SKIPPED, skip_reason=reason)
        state = _item_state(assignment.campaign, assignment.output.item_id, None, now)
        _coverage_write(assignment.campaign, assignment.output.item_id, state.qc,
                        len(state.units), state.taken)
    assignment.status = Assignment.Status.SKIPPED
    assignment.skip_reason = reason
    return assignment


def _open_assignments(campaign: Campaign, rater: Any) -> list[Assignment]:
    return list(Assignment.objects.select_related("output")
                .filter(campaign=campaign, rater=rater, status=Assignment.Status.ASSIGNED)
                .order_by("position", "pk"))


def assignment_reset_for_rater(*, campaign: Campaign, rater: Any, by: Any,
                               now: datetime | None = None) -> int:
    """Release the rater's unsubmitted assignments back to the pool; returns how many.

    Their submitted ratings are kept. Released rows stay in the rater's history (EXPIRED,
    reason "reset by <admin>"), so the rater is never handed those outputs again.
    """
    now = now or timezone.now()
    with transaction.atomic():
        list(CampaignMembership.objects.select_for_update()
             .filter(campaign=campaign, user=rater).values_list("pk", flat=True))
        held = _open_assignments(campaign, rater)
        if not held:
            return 0
        _lock_items({a.output.item_id for a in held})
        return _release(campaign, held, Assignment.Status.EXPIRED,
                        f"reset by {by.get_username() if by else 'admin'}", now)


def assignment_reassign(*, campaign: Campaign, from_rater: Any, to_rater: Any, by: Any,
                        now: datetime | None = None) -> int:
    """Move from_rater's unsubmitted work to to_rater; returns how many units moved.

    A unit goes over only if to_rater never had that output (or pair) and never rated it;
    the rest goes back to the pool. Submitted ratings stay with whoever made them.
    """
    if from_rater.pk == to_rater.pk:
        raise ValidationError({"to_rater": ["choose a different rater"]})
    if not CampaignMembership.objects.filter(campaign=campaign, user=to_rater,
                                             role=CampaignMembership.Role.RATER).exists():
        raise ValidationError({"to_rater": ["not a rater of this campaign"]})
    now = now or timezone.now()
    lease = timedelta(minutes=lease_minutes(campaign))
    label = f"reassigned by {by.get_username() if by else 'admin'}"
    with transaction.atomic():
        # Both raters' claims wait (membership locks in id order: no deadlock).
        list(CampaignMembership.objects.select_for_update()
             .filter(campaign=campaign, user__in=[from_rater, to_rater]).order_by("pk")
             .values_list("pk", flat=True))
        held = _open_assignments(campaign, from_rater)
        if not held:
            return 0
        _lock_items({a.output.item_id for a in held})
        _release(campaign, held, Assignment.Status.EXPIRED, label, now)
        blocked = _units_had(campaign, to_rater, {a.output.item_id for a in held})
        movable = [a for a in held if _unit_key(a.output_id, a.output_b_id) not in blocked]
        last = (Assignment.objects.filter(campaign=campaign, rater=to_rater)
                .order_by("-position").values_list("position", flat=True).first())
        start = 0 if last is None else last + 1
        Assignment.objects.bulk_create([
            Assignment(campaign=campaign, rater=to_rater, output_id=a.output_id,
                       output_b_id=a.output_b_id, seed=a.seed, position=start + i,
                       lease_expires_at=now + lease)
            for i, a in enumerate(movable)
        ])
        for item_id in sorted({a.output.item_id for a in movable}):
            state = _item_state(campaign, item_id, None, now)
            _coverage_write(campaign, item_id, state.qc, len(state.units), state.taken)
        return len(movable)


def _units_had(campaign: Campaign, rater: Any, item_ids: set[int]) -> set[Unit]:
    """Units of these items the rater was ever assigned or rated."""
    had = {_unit_key(a, b) for a, b in Assignment.objects.filter(
        rater=rater, output__item_id__in=item_ids).values_list("output_id", "output_b_id")}
    had |= {_unit_key(a, b) for a, b in Rating.objects.filter(
        rater=rater, output__item_id__in=item_ids).values_list("output_id", "output_b_id")}
    return had


@dataclass(frozen=True)
class RaterCreated:
    user: Any
    user_created: bool
    membership: CampaignMembership
    token: str


@transaction.atomic
def rater_create(*, username: str, campaign: Campaign, email: str = "") -> RaterCreated:
    """Create or reuse a user, join them to campaign as rater, and give them an API token."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = user_model(username=username, email=email)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    elif email and user.email != email:
        user.email = email
        user.save(update_fields=["email"])
    existing = CampaignMembership.objects.filter(campaign=campaign, user=user).first()
    if existing is not None and existing.role == CampaignMembership.Role.ADMIN:
        membership = existing  # never demote a campaign admin
    else:
        membership = membership_add(campaign=campaign, user=user,
                                    role=CampaignMembership.Role.RATER)
    token, _ = Token.objects.get_or_create(user=user)
    return RaterCreated(user, created, membership, token.key)
