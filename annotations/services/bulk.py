"""Fast bulk writes for imports: COPY on PostgreSQL, executemany elsewhere; ids allocated ahead.

Imports stream millions of rows; the ORM's per-instance overhead would dominate, so rows go
to the database as tuples. Callers validate every value first: this layer only writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

ID_BLOCK = 5000


def json_cell(value: Any) -> str | None:
    """Serialise a JSONField value the way Django stores it (None stays SQL NULL)."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


class BulkWriter:
    """Writes rows to one database connection inside the caller's transaction."""

    def __init__(self) -> None:
        self.vendor = connection.vendor
        self._pools: dict[str, list[int]] = {}
        self._next: dict[str, int] = {}

    def allocate_id(self, model: type[Model]) -> int:
        """Reserve one primary key for model (from the sequence on PostgreSQL)."""
        table = model._meta.db_table
        pool = self._pools.setdefault(table, [])
        if not pool:
            pool.extend(reversed(self._allocate_block(table, ID_BLOCK)))
        return pool.pop()

    def _allocate_block(self, table: str, count: int) -> list[int]:
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                    "FROM generate_series(1, %s)", [table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            # SQLite: the import's transaction holds the write lock, so MAX(id) is stable.
            if table not in self._next:
                cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608
                self._next[table] = cursor.fetchone()[0] + 1
            start = self._next[table]
            self._next[table] = start + count
            return list(range(start, start + count))

    def insert(self, model: type[Model], columns: Sequence[str], rows: Sequence[tuple]) -> None:
        """Insert rows (tuples in column order) into model's table."""
        if not rows:
            return
        table = model._meta.db_table
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.wrap_database_errors, connection.cursor() as cursor:
            if self.vendor == "postgresql":
                raw = cursor.cursor
                with raw.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") \
                        as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})",
                    rows,
                )
