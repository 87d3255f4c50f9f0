"""Item locks and written-out INSERTs: the statements every engine write starts with."""

from __future__ import annotations

from typing import Any

from django.db import connection

from annotations.models import (
    Item,
    Output,
)
from annotations.selectors import (
    model_from_row,
    model_in_row,
    sql_columns,
)


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
    item = model_in_row(Item, rows[0], 0)
    n_item = len(Item._meta.concrete_fields)
    outputs = []
    for row in rows:
        output = model_from_row(Output, row, n_item)
        if output is not None:  # None: the item has no outputs (LEFT JOIN)
            output.item = item
            outputs.append(output)
    return outputs


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
    together = also if connection.vendor == "postgresql" else None
    if returning is not None:
        sql += f" RETURNING {returning}"
    if together:
        sql = f"WITH new_rows AS ({sql}), also_done AS ({together[0]}) " + (
            "SELECT * FROM new_rows" if returning is not None else "SELECT 1")
        values += together[1]
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
