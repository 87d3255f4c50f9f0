"""Streaming readers for JSONL and CSV: one (line number, row dict) at a time, bounded memory."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import IO, Any, Literal, overload

import orjson

from .problems import Problem, RowError

FORMATS = ("jsonl", "csv")


def detect_format(name: str) -> str | None:
    """Guess the rows format from a file name's extension."""
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".jsonl.txt")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    return None


def _decoded_lines(stream: IO[bytes], name: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) decoding UTF-8 strictly; a bad byte is a one-line problem."""
    for number, raw in enumerate(stream, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _StreamProblem(
                Problem(name, number, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                                      f"{exc.start + 1})")
            ) from None
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield number, text


class _StreamProblem(Exception):
    """A problem that stops reading the file (encoding, syntax, empty)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


StreamProblem = _StreamProblem


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not a number in JSON")


# One decoder for every row: json.loads(..., parse_constant=...) would build one per call.
_DECODE = json.JSONDecoder(parse_constant=_reject_constant).decode


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# orjson reads integers past 64 bits as floats, which the standard library keeps exact; such a
# number has at least 19 digits in a row. Digits map to "0" and everything else to " ", so one
# C-speed translate and substring search per chunk of lines replaces a regex scan per line.
_DIGIT_MASK = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_DIGITS = b"0" * 19
_NUL_ESCAPE = b"\\u0000"
_CHUNK_LINES = 1000
_CHUNK_BYTES = 1 << 20


def _line_chunks(stream: IO[bytes]) -> Iterator[list[bytes]]:
    """The stream's lines in lists of at most ~1 MiB or 1000 lines (memory stays bounded)."""
    lines: list[bytes] = []
    size = 0
    for raw in stream:
        lines.append(raw)
        size += len(raw)
        if size >= _CHUNK_BYTES or len(lines) >= _CHUNK_LINES:
            yield lines
            lines, size = [], 0
    if lines:
        yield lines


def iter_jsonl(stream: IO[bytes], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line, object) per non-blank line; raises StreamProblem on bad JSON or encoding.

    orjson parses the well-formed lines (several times faster); any line it refuses, or that
    holds a long digit run it would read inexactly, is parsed again by the standard library,
    which either accepts it (e.g. integers beyond 64 bits) or gives the precise problem.
    Lines are screened a chunk at a time, so a typical line costs one orjson call.
    """
    seen = False
    number = 0
    loads = orjson.loads
    for lines in _line_chunks(stream):
        if number == 0 and lines[0].startswith(b"\xef\xbb\xbf"):
            lines[0] = lines[0][3:]
        chunk = b"".join(lines)
        long_digits = _LONG_DIGITS in chunk.translate(_DIGIT_MASK)
        nul = _NUL_ESCAPE in chunk
        for raw in lines:
            number += 1
            if not raw or raw.isspace():
                continue
            seen = True
            if long_digits and _LONG_DIGITS in raw.translate(_DIGIT_MASK):
                row = _parse_line_checked(raw, number, name)
            else:
                try:
                    row = loads(raw)
                except orjson.JSONDecodeError:
                    row = _parse_line_checked(raw, number, name)
            if nul and _NUL_ESCAPE in raw and _has_nul(row):
                raise _StreamProblem(Problem(name, number, "contains \\u0000 (a NUL character), "
                                                           "which text fields cannot store"))
            if type(row) is not dict:
                raise _StreamProblem(
                    Problem(name, number, f"expected a JSON object, got {type(row).__name__}")
                )
            yield number, row
    if not seen:
        raise _StreamProblem(Problem(name, 1, "file is empty (no rows)"))


def _parse_line_checked(raw: bytes, number: int, name: str) -> Any:
    """The standard library's reading of one line, with a one-line problem when it fails."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _StreamProblem(
            Problem(name, number, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                                  f"{exc.start + 1})")
        ) from None
    try:
        row = _DECODE(text.rstrip("\r\n"))
    except (json.JSONDecodeError, ValueError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        column = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise _StreamProblem(Problem(name, number, f"invalid JSON: {detail}{column}")) from None
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        problem = Problem(name, number, "contains an unpaired surrogate escape (\\ud800–\\udfff), "
                                        "which is not text")
        raise _StreamProblem(problem) from None
    return row


def iter_csv(stream: IO[bytes], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line, row) with the header's column names; empty cells are absent fields."""
    lines = _decoded_lines(stream, name)
    # csv needs an iterator of str; keep the physical line of each record's first line.
    last_physical = 0

    def text_lines() -> Iterator[str]:
        nonlocal last_physical
        for number, text in lines:
            last_physical = number
            yield text

    reader = csv.reader(text_lines(), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _StreamProblem(Problem(name, max(last_physical, 1), f"invalid CSV: {exc}")) from None
    if header is None or not any(h.strip() for h in header):
        raise _StreamProblem(Problem(name, 1, "file is empty (no header row)"))
    header = [h.strip() for h in header]
    duplicates = {h for h in header if header.count(h) > 1}
    if duplicates:
        raise _StreamProblem(
            Problem(name, 1, f"duplicate column {sorted(duplicates)[0]!r}")
        )
    seen = False
    start = last_physical + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _StreamProblem(Problem(name, start, f"invalid CSV: {exc}")) from None
        line = start
        start = last_physical + 1
        if not cells or all(not c.strip() for c in cells):
            continue
        seen = True
        if len(cells) != len(header):
            raise _StreamProblem(
                Problem(name, line, f"expected {len(header)} columns, found {len(cells)}")
            )
        yield line, {k: v for k, v in zip(header, cells, strict=True) if v != ""}
    if not seen:
        raise _StreamProblem(Problem(name, 2, "file is empty (header only, no rows)"))


def iter_rows(stream: IO[bytes], name: str, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Dispatch on format ("jsonl" or "csv")."""
    if fmt == "jsonl":
        return iter_jsonl(stream, name)
    if fmt == "csv":
        return iter_csv(stream, name)
    raise ValueError(f"unknown format {fmt!r}")


# --- field coercion: JSON values arrive typed, CSV cells arrive as text ------------------


def as_text(row: dict[str, Any], field: str, *, required: bool = False, default: str = "") -> str:
    """A string field; numbers are accepted for ids (JSON 17 and "17" are the same item)."""
    if field not in row or row[field] is None:
        if required:
            raise RowError(field, "missing")
        return default
    value = row[field]
    if isinstance(value, bool):
        raise RowError(field, f"expected a string, got {json.dumps(value)}")
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise RowError(field, f"expected a string, got {type(value).__name__}")
    if required and not value.strip():
        raise RowError(field, "is empty")
    return value


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise RowError(field, f"{json.dumps(value)} is not a number")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            raise RowError(field, f"{_short(str(value))} is not a finite number") from None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise RowError(field, f"{_short(value)} is not a number") from None
    else:
        raise RowError(field, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise RowError(field, f"{_short(value)} is not a finite number")
    return number


@overload
def as_number(row: dict[str, Any], field: str, *, required: Literal[True],
              minimum: float | None = None) -> float: ...
@overload
def as_number(row: dict[str, Any], field: str, *, required: bool = False,
              minimum: float | None = None) -> float | None: ...
def as_number(row: dict[str, Any], field: str, *, required: bool = False,
              minimum: float | None = None) -> float | None:
    """A finite number (CSV text is parsed); None when absent and optional."""
    if field not in row or row[field] is None:
        if required:
            raise RowError(field, "missing")
        return None
    number = _number(row[field], field)
    if minimum is not None and number < minimum:
        raise RowError(field, f"must be ≥ {minimum:g}, got {number:g}")
    return number


def as_int(row: dict[str, Any], field: str, *, minimum: int = 0) -> int | None:
    """A whole number ≥ minimum, or None when absent."""
    number = as_number(row, field, minimum=minimum)
    if number is None:
        return None
    if number != int(number):
        raise RowError(field, f"expected a whole number, got {number:g}")
    return int(number)


def as_json(row: dict[str, Any], field: str, *, from_csv: bool) -> Any:
    """A structured field: typed in JSONL; in CSV JSON text ([...], {...}, numbers) or a string."""
    if field not in row:
        return None
    value = row[field]
    if from_csv and isinstance(value, str):
        stripped = value.strip()
        try:
            return _DECODE(stripped)
        except (json.JSONDecodeError, ValueError):
            if stripped[:1] in "[{":
                raise RowError(field, "invalid JSON in CSV cell") from None
            return value
    return value


def as_number_list(row: dict[str, Any], field: str, *, from_csv: bool) -> list[float] | None:
    """A list of finite numbers, or None when absent."""
    value = as_json(row, field, from_csv=from_csv)
    if value is None:
        return None
    if not isinstance(value, list):
        raise RowError(field, "expected a list of numbers")
    return [_number(v, f"{field}[{i}]") for i, v in enumerate(value)]


def as_string_list(row: dict[str, Any], field: str, *, from_csv: bool,
                   allow_single: bool = False) -> list[str] | None:
    """A list of strings (a single string is one element when allowed)."""
    value = as_json(row, field, from_csv=from_csv)
    if value is None:
        return None
    if isinstance(value, str) and allow_single:
        return [value]
    if isinstance(value, int | float) and from_csv and allow_single:
        return [row[field]]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RowError(field, "expected a list of strings")
    return value


def quoted(value: Any, limit: int = 40) -> str:
    """A value as JSON for an error message, cut to limit characters."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + '…"'


_short = quoted


def read_all_bytes_limited(stream: IO[bytes], limit: int) -> bytes:
    """Read a small file (a spec) with a size cap."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"file larger than {limit} bytes")
    return data


def text_stream(data: bytes) -> IO[bytes]:
    """Wrap bytes as a binary stream."""
    return io.BytesIO(data)
