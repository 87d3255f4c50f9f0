"""Shared by both imports: formats, the row stream, batch size, results."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from annotations.models import (
    Campaign,
)

from ..problems import ImportFailed, Problem, ProblemList
from ..readers import (
    StreamProblem,
    detect_format,
    iter_rows,
)

BATCH_SIZE = 10_000


@dataclass(frozen=True)
class CampaignImportResult:
    campaign: Campaign
    systems: int
    items: int
    outputs: int


@dataclass(frozen=True)
class RatingsImportResult:
    campaign: Campaign
    rows: int
    ratings_created: int
    raters_created: int


def format_resolve(name: str, fmt: str | None) -> str:
    """The rows format: the one asked for, else from the file extension (jsonl or csv)."""
    resolved = fmt or detect_format(name)
    if resolved not in ("jsonl", "csv"):
        raise ImportFailed([Problem(name, 1, "unknown format: use a .jsonl or .csv file")])
    return resolved


def rows_read(
    stream: IO[bytes], name: str, fmt: str, problems: ProblemList
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of the file; a stream-level problem (encoding, syntax) is recorded and ends it."""
    try:
        yield from iter_rows(stream, name, fmt)
    except StreamProblem as exc:
        problems.add(exc.problem)


# --- campaign bundle --------------------------------------------------------------------
