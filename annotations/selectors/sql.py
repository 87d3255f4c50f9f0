"""Hot-path reads in plain SQL: columns and model instances from the models' own fields."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Item,
    Output,
)

# --- hot-path reads in plain SQL --------------------------------------------------------
#
# The rater loop runs a handful of joined reads per request. Compiling them through the ORM
# cost ~2 ms of CPU each (measured, bench/README.md), far more than running them; these
# few are written out once, with their columns taken from the models' own fields and every
# value passed through the fields' and backend's converters, as the ORM would.


def sql_columns(model: type[Model], alias: str) -> str:
    """The model's columns, in field order, for a written-out SELECT (see model_from_row)."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


_CONVERTERS: dict[tuple[str, type[Model]], list[tuple[int, list[Any], Any]]] = {}
M = TypeVar("M", bound=Model)


def model_from_row(model: type[M], row: tuple[Any, ...], start: int) -> M | None:
    """The model instance held in row[start:start + its field count]; None if all NULL."""
    fields = model._meta.concrete_fields
    values = list(row[start:start + len(fields)])
    if values[0] is None:  # a LEFT JOIN that found nothing (the pk is never NULL)
        return None
    key = (connection.vendor, model)
    converters = _CONVERTERS.get(key)
    if converters is None:
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((i, found, col))
        _CONVERTERS[key] = converters
    for i, found, col in converters:
        for convert in found:
            values[i] = convert(values[i], col, connection)
    return model.from_db(connection.alias, [f.attname for f in fields], values)


def model_in_row(model: type[M], row: tuple[Any, ...], start: int) -> M:
    """The model instance held in row[start:...] where the row must hold one (an inner join
    or the queried table itself); a row without it is a bug, raised as such."""
    instance = model_from_row(model, row, start)
    if instance is None:
        raise LookupError(f"no {model.__name__} in the row at column {start}")
    return instance


def _fetch_one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _tables() -> dict[str, str]:
    return {"assignment": Assignment._meta.db_table, "output": Output._meta.db_table,
            "item": Item._meta.db_table, "campaign": Campaign._meta.db_table,
            "membership": CampaignMembership._meta.db_table}
