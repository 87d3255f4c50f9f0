"""One outputs row: its fields read and checked, and its item and output as COPY text."""

from __future__ import annotations

import json
import struct
from typing import Any

from ..bulk import (
    copy_cell,
    copy_escape,
    json_cell,
)
from ..problems import RowError
from ..readers import (
    as_json,
    as_number,
)

ITEM_FIELDS = ("input", "references", "label", "relevance", "gold_boxes", "group")


def _field_hash(value: Any) -> int:
    if value is None or isinstance(value, str | int | float):
        return hash(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return hash(tuple(value))
    return hash(json.dumps(value, sort_keys=True))


def item_signature(fields: tuple[Any, ...]) -> bytes:
    """4 bytes per item field: enough to tell rows of one item apart and name the field."""
    return struct.pack("6I", *(_field_hash(f) & 0xFFFFFFFF for f in fields))


def differing_field(a: bytes, b: bytes) -> str:
    for index, name in enumerate(ITEM_FIELDS):
        if a[4 * index : 4 * index + 4] != b[4 * index : 4 * index + 4]:
            return name
    return "item_id"


# (item external id, system name, item fields in ITEM_FIELDS order, the output's COPY text
# after its item and system ids)
OutputFields = tuple[str, str, tuple[Any, ...], str]
_PLAIN_FIELDS = frozenset(
    {"item_id", "input", "references", "system", "output", "latency_ms", "tokens", "group"}
)
_NULL = "\\N"
_NO_ANSWER_CELLS = "\\N\t" * 7  # logprobs … returns


def output_cells(*cells: Any) -> str:
    """The output columns after item and system, as COPY text (one line, newline included)."""
    return "\t".join(map(copy_cell, cells)) + "\n"


def item_line(item_id: int, campaign_id: int, external_id: str, fields: tuple[Any, ...]) -> str:
    prompt, references, label, relevance, gold_boxes, group = fields
    return (
        f"{item_id}\t{campaign_id}\t{copy_escape(external_id)}\t{copy_escape(prompt)}\t"
        f"{copy_cell(json_cell(references))}\t{copy_cell(json_cell(label))}\t"
        f"{copy_cell(json_cell(relevance))}\t{copy_cell(json_cell(gold_boxes))}\t"
        f"{copy_escape(group)}\t{{}}\n"
    )


def plain_output_fields(row: dict[str, Any]) -> OutputFields | None:
    """The fast path for a typical generation row, all fields well typed; None otherwise.

    It accepts exactly what the checked path accepts for these fields and builds the same
    values, so a row that fails here is re-read by the checked path for its error message.
    """
    if not row.keys() <= _PLAIN_FIELDS:
        return None
    get = row.get
    external_id, system, text = get("item_id"), get("system"), get("output")
    prompt, group, references = get("input", ""), get("group", ""), get("references", [])
    latency, tokens = get("latency_ms"), get("tokens")
    if not (
        type(external_id) is str
        and type(system) is str
        and type(text) is str
        and type(prompt) is str
        and type(group) is str
        and len(external_id) <= 200
        and len(system) <= 200
        and len(group) <= 200
        and external_id.strip()
        and system.strip()
    ):
        return None
    if type(references) is str:
        references = [references]
    elif type(references) is not list or any(type(r) is not str for r in references):
        return None
    if latency is not None and (type(latency) not in (int, float) or latency < 0):
        return None
    if tokens is not None and (type(tokens) is not int or tokens < 0):
        return None
    return (
        external_id,
        system,
        (prompt, references, None, None, None, group),
        f"{copy_escape(text)}\t{_NO_ANSWER_CELLS}"
        f"{_NULL if latency is None else repr(float(latency))}\t"
        f"{_NULL if tokens is None else tokens}\t\\N\t{{}}\n",
    )


def label_read(row: dict[str, Any], name: str, csv: bool) -> Any:
    value = as_json(row, name, from_csv=csv)
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, str | int | float):
        return value
    if isinstance(value, list) and all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        return value
    raise RowError(name, "expected a class, a number, or a list of classes")


def score_read(row: dict[str, Any], csv: bool) -> Any:
    value = as_json(row, "score", from_csv=csv)
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(k): as_number({"score": v}, "score", required=True) for k, v in value.items()}
    return as_number({"score": value}, "score")


def relevance_read(row: dict[str, Any], csv: bool) -> dict[str, float] | None:
    value = as_json(row, "relevance", from_csv=csv)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RowError("relevance", "expected an object of doc id → graded relevance")
    try:
        return {str(k): as_number({"v": v}, "v", required=True) for k, v in value.items()}
    except RowError:
        raise RowError("relevance", "relevance grades must be numbers") from None


def boxes_read(row: dict[str, Any], name: str, csv: bool) -> list[list[float]] | None:
    value = as_json(row, name, from_csv=csv)
    if value is None:
        return None
    if not isinstance(value, list):
        raise RowError(name, "expected a list of [x1, y1, x2, y2] boxes")
    boxes = []
    for index, box in enumerate(value):
        if (
            not isinstance(box, list)
            or len(box) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
        ):
            raise RowError(f"{name}[{index}]", "expected [x1, y1, x2, y2]")
        if box[2] < box[0] or box[3] < box[1]:
            raise RowError(f"{name}[{index}]", "x2 < x1 or y2 < y1")
        boxes.append([float(v) for v in box])
    return boxes
