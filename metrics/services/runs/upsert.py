"""Writing metric values: idempotent upserts on the partial unique indexes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson
from django.db import connection
from django.db.models import Field

from metrics.compute.automatic import (
    MetricResult,
)
from metrics.models import MetricValue

from .lifecycle import _REASON_MAX, _UPSERT_BATCH


def _reason(result: MetricResult, default: str) -> str:
    return (result.reason or default)[:_REASON_MAX]


def _jsonable(value: Any) -> Any:
    """Details as JSON-safe values: numpy scalars/arrays unwrapped, NaN/inf → None."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return _jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


_CONFLICT = {
    "segment": (("output_id", "metric"), "output_id IS NOT NULL"),
    "corpus": (("system_id", "metric"), "output_id IS NULL"),
}
_COLUMNS = ("run_id", "campaign_id", "system_id", "output_id", "metric", "value", "reason",
            "details", "fingerprint", "updated_at")
_UPDATED = ("run_id", "value", "reason", "details", "fingerprint", "updated_at")
# PostgreSQL array types of _COLUMNS for the one-array-per-column upsert.
_PG_TYPES = ("bigint", "bigint", "bigint", "bigint", "text", "double precision", "text",
             "jsonb", "text", "timestamptz")
_UNNEST_BATCH = 5_000
# What JSONField's json.dumps accepts too: int keys (class labels) become strings.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _upsert_unnest(values: Sequence[MetricValue], level: str) -> None:
    """PostgreSQL: the same upsert with one array parameter per column (INSERT … SELECT FROM
    unnest): ten parameters per statement instead of ten per row, so neither our code nor
    psycopg formats a placeholder per value (a third of a chunk's database time before)."""
    keys, predicate = _CONFLICT[level]
    quote = connection.ops.quote_name
    ordered = sorted(values, key=lambda v: tuple(getattr(v, key) for key in keys))
    arrays = ", ".join(f"%s::{kind}[]" for kind in _PG_TYPES)
    sql = (
        f"INSERT INTO {quote(MetricValue._meta.db_table)} "
        f"({', '.join(quote(c) for c in _COLUMNS)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) WHERE {predicate} DO UPDATE SET "
        + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in _UPDATED)
    )
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), _UNNEST_BATCH):
            batch = ordered[start:start + _UNNEST_BATCH]
            columns: list[list[Any]] = [[getattr(v, column) for v in batch]
                                        for column in _COLUMNS]
            # details go as JSON text (cast to jsonb by the array type), like JSONField saves.
            columns[_COLUMNS.index("details")] = [
                orjson.dumps(v.details, option=_JSON_OPTIONS).decode() for v in batch]
            cursor.execute(sql, columns)


def metric_values_upsert(*, values: Sequence[MetricValue], level: str) -> None:
    """INSERT … ON CONFLICT DO UPDATE on the partial unique index of `level` (segment/corpus).

    Django's bulk_create(update_conflicts=True) cannot name a partial index's predicate,
    which PostgreSQL and SQLite both require, hence this statement. Rows are sorted by their
    conflict key so concurrent duplicate chunks lock rows in the same order (no deadlock).
    """
    if not values:
        return
    if connection.vendor == "postgresql":
        _upsert_unnest(values, level)
        return
    keys, predicate = _CONFLICT[level]
    meta = MetricValue._meta
    fields = [cast(Field, meta.get_field(column.removesuffix("_id"))) for column in _COLUMNS]
    quote = connection.ops.quote_name
    ordered = sorted(values, key=lambda v: tuple(getattr(v, key) for key in keys))
    row_sql = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    head = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in _COLUMNS)}) VALUES "
    )
    tail = (
        f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) WHERE {predicate} DO UPDATE SET "
        + ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in _UPDATED)
    )
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), _UPSERT_BATCH):
            batch = ordered[start:start + _UPSERT_BATCH]
            params: list[Any] = []
            for value in batch:
                params.extend(
                    field.get_db_prep_save(getattr(value, field.attname), connection)
                    for field in fields
                )
            cursor.execute(head + ", ".join([row_sql] * len(batch)) + tail, params)
