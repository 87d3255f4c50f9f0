"""Import a campaign bundle (spec + outputs): streamed, validated, written in batches, all or
nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, transaction

from annotations.models import (
    Campaign,
    Criterion,
    Item,
    Output,
    System,
)

from ..bulk import (
    BatchFailed,
    BulkWriter,
    analyze_tables,
    bulk_session,
    json_cell,
)
from ..campaigns import campaign_create
from ..problems import ImportFailed, Problem, ProblemList, RowError
from ..readers import (
    as_int,
    as_json,
    as_number,
    as_number_list,
    as_string_list,
    as_text,
)
from ..spec import CampaignSpec, spec_parse
from . import common
from .common import CampaignImportResult, format_resolve, rows_read
from .output_fields import (
    OutputFields,
    boxes_read,
    differing_field,
    item_line,
    item_signature,
    label_read,
    output_cells,
    plain_output_fields,
    relevance_read,
    score_read,
)

OUTPUT_FIELDS = {
    "item_id",
    "input",
    "references",
    "system",
    "output",
    "logprobs",
    "label",
    "prediction",
    "score",
    "latency_ms",
    "group",
    "metadata",
    "relevance",
    "ranking",
    "boxes",
    "gold_boxes",
    "confidence",
    "returns",
    "tokens",
    "control",
}
ANSWER_FIELDS = ("output", "prediction", "score", "ranking", "boxes", "returns", "logprobs")


def campaign_import(
    *,
    spec_stream: IO[bytes],
    spec_name: str,
    outputs_stream: IO[bytes],
    outputs_name: str,
    outputs_format: str | None = None,
    created_by: Any = None,
) -> CampaignImportResult:
    """Create a campaign from a spec and its outputs file; ImportFailed leaves nothing behind."""
    spec = spec_parse(spec_stream, spec_name)
    fmt = format_resolve(outputs_name, outputs_format)
    try:
        with transaction.atomic(), bulk_session():
            result = _campaign_import(spec, spec_name, outputs_stream, outputs_name, fmt,
                                      created_by)
    except IntegrityError as exc:  # a race with another import of the same slug
        raise ImportFailed(
            [
                Problem(
                    spec_name,
                    spec.line_of.get("slug", 1),
                    f"database refused the import: {exc}",
                    field="slug",
                )
            ]
        ) from exc
    # Fresh planner statistics for the new items (PostgreSQL, a few ms for 10k items). Left
    # unanalysed (autovacuum off or not yet run) the planner took the campaign for ~20 items
    # and walked all of them for each metric chunk's output-id range: 0.3 s per chunk at 10k
    # items, a rerun of 100k outputs 22 s instead of 1 s. Rater claims join items likewise.
    analyze_tables(Item)
    return result


def outputs_load(*, campaign: Campaign, stream: IO[bytes], name: str, fmt: str,
                 problems: ProblemList) -> _OutputLoader:
    """Validate and write output rows into campaign (its systems and items so far known);
    problems are collected, not raised; the loader says what it wrote."""
    loader = _OutputLoader(campaign, {c.key: c for c in campaign.criteria.all()}, name,
                           fmt == "csv")
    loader.systems.update(campaign.systems.values_list("name", "id"))
    try:
        for line, row in rows_read(stream, name, fmt, problems):
            loader.add(line, row, problems)
        loader.finish(problems)
    finally:
        loader.writer.close()
    return loader


def _campaign_import(
    spec: CampaignSpec, spec_name: str, stream: IO[bytes], name: str, fmt: str, created_by: Any
) -> CampaignImportResult:
    campaign = campaign_create(spec=spec, spec_name=spec_name, created_by=created_by)
    problems = ProblemList()
    loader = outputs_load(campaign=campaign, stream=stream, name=name, fmt=fmt,
                          problems=problems)
    if not problems and spec.baseline is not None:
        baseline_id = loader.systems.get(spec.baseline)
        if baseline_id is None:
            problems.add(
                Problem(
                    spec_name,
                    spec.line_of.get("baseline", 1),
                    f"system {spec.baseline!r} has no outputs",
                    field="baseline",
                )
            )
        else:
            System.objects.filter(pk=baseline_id).update(is_baseline=True)
            campaign.baseline_id = baseline_id
            campaign.save(update_fields=["baseline", "updated_at"])
    problems.raise_if_any()
    return CampaignImportResult(
        campaign=campaign,
        systems=len(loader.systems),
        items=len(loader.items),
        outputs=loader.outputs_written,
    )


_ITEM_COLUMNS = (
    "id",
    "campaign_id",
    "external_id",
    "input",
    "references",
    "label",
    "relevance",
    "gold_boxes",
    "group",
    "metadata",
)
_OUTPUT_COLUMNS = (
    "item_id",
    "system_id",
    "text",
    "logprobs",
    "prediction",
    "score",
    "ranking",
    "boxes",
    "confidence",
    "returns",
    "latency_ms",
    "token_count",
    "control",
    "metadata",
)


@dataclass
class _OutputLoader:
    """Validates output rows and writes items and outputs in batches."""

    campaign: Campaign
    criteria: dict[str, Criterion]
    name: str
    from_csv: bool
    systems: dict[str, int] = field(default_factory=dict)
    # external id -> (item pk, item field signature, first line): one small entry per item.
    items: dict[str, tuple[int, bytes, int]] = field(default_factory=dict)
    last_item: str | None = None
    last_fields: tuple[Any, ...] = ()
    writer: BulkWriter = field(default_factory=BulkWriter)
    # The pending batch as COPY text lines; (item pk, system pk) -> line of the file.
    item_rows: list[str] = field(default_factory=list)
    output_rows: list[str] = field(default_factory=list)
    batch_keys: dict[tuple[int, int], int] = field(default_factory=dict)
    outputs_written: int = 0

    def system_id(self, name: str) -> int:
        if name not in self.systems:
            system = System.objects.create(campaign=self.campaign, name=name)
            self.systems[name] = system.pk
        return self.systems[name]

    def add(self, line: int, row: dict[str, Any], problems: ProblemList) -> None:
        try:
            self._add(line, row)
        except RowError as exc:
            problems.add(Problem(self.name, line, exc.message, field=exc.field))
            return
        if len(self.output_rows) >= common.BATCH_SIZE:
            if problems:
                self.discard()  # keep reading for more problems, in bounded memory
            else:
                self.flush(problems)

    def _add(self, line: int, row: dict[str, Any]) -> None:
        fields = None if self.from_csv else plain_output_fields(row)
        if fields is None:
            fields = self._checked_fields(row)
        external_id, system_name, item_fields, output = fields
        known: tuple[int, bytes, int] | None
        if external_id == self.last_item and item_fields == self.last_fields:
            known = self.items[external_id]  # the common case: an item's rows are adjacent
            signature = known[1]
        else:
            known = self.items.get(external_id)
            signature = item_signature(item_fields)
        self.last_item, self.last_fields = external_id, item_fields
        if known is None:
            item_id = self.writer.allocate_id(Item)
            self.items[external_id] = (item_id, signature, line)
            self.item_rows.append(item_line(item_id, self.campaign.pk, external_id, item_fields))
        else:
            item_id, first_signature, first_line = known
            if signature != first_signature:
                self.last_item = None
                raise RowError(
                    differing_field(signature, first_signature),
                    f"item {external_id!r} differs from its row on line {first_line}",
                )
        system_id = self.systems.get(system_name) or self.system_id(system_name)
        key = (item_id, system_id)
        if key in self.batch_keys:
            raise RowError(
                "system", f"duplicate output for item {external_id!r} and system {system_name!r}"
            )
        self.batch_keys[key] = line
        self.output_rows.append(f"{item_id}\t{system_id}\t{output}")

    def _checked_fields(self, row: dict[str, Any]) -> OutputFields:
        """Every field validated, with a precise error for the first bad one."""
        csv = self.from_csv
        unknown = sorted(set(row) - OUTPUT_FIELDS)
        if unknown:
            raise RowError(unknown[0], 'unknown field (put extra data under "metadata")')
        external_id = as_text(row, "item_id", required=True)
        system_name = as_text(row, "system", required=True)
        for name, value in (
            ("item_id", external_id),
            ("system", system_name),
            ("group", row.get("group")),
        ):
            if isinstance(value, str) and len(value) > 200:
                raise RowError(name, "longer than 200 characters")
        if not any(f in row for f in ANSWER_FIELDS):
            raise RowError("output", "missing")
        text = as_text(row, "output")
        item_fields = (
            as_text(row, "input"),
            as_string_list(row, "references", from_csv=csv, allow_single=True) or [],
            label_read(row, "label", csv),
            relevance_read(row, csv),
            boxes_read(row, "gold_boxes", csv),
            as_text(row, "group"),
        )
        boxes = boxes_read(row, "boxes", csv)
        confidence = as_number_list(row, "confidence", from_csv=csv)
        if confidence is not None and (boxes is None or len(confidence) != len(boxes)):
            raise RowError("confidence", 'needs one value per box in "boxes"')
        metadata = as_json(row, "metadata", from_csv=csv)
        if metadata is not None and not isinstance(metadata, dict):
            raise RowError("metadata", "expected an object")
        output = output_cells(
            text,
            json_cell(as_number_list(row, "logprobs", from_csv=csv)),
            json_cell(label_read(row, "prediction", csv)),
            json_cell(score_read(row, csv)),
            json_cell(as_string_list(row, "ranking", from_csv=csv)),
            json_cell(boxes),
            json_cell(confidence),
            json_cell(as_number_list(row, "returns", from_csv=csv)),
            as_number(row, "latency_ms", minimum=0),
            as_int(row, "tokens"),
            json_cell(self._control(row)),
            json_cell(metadata) if metadata else "{}",
        )
        return external_id, system_name, item_fields, output

    def _control(self, row: dict[str, Any]) -> dict[str, list[float]] | None:
        control = as_json(row, "control", from_csv=self.from_csv)
        if control is None:
            return None
        if not isinstance(control, dict) or not control:
            raise RowError("control", 'expected an object such as {"fluency": [1, 2]}')
        for key, bounds in control.items():
            criterion = self.criteria.get(key)
            if criterion is None:
                raise RowError(f"control.{key}", "not a criterion of this campaign")
            if (
                not isinstance(bounds, list)
                or len(bounds) != 2
                or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
                or not criterion.scale_min <= bounds[0] <= bounds[1] <= criterion.scale_max
            ):
                raise RowError(
                    f"control.{key}",
                    f"expected [low, high] within {criterion.scale_min:g}–{criterion.scale_max:g}",
                )
        return control

    def flush(self, problems: ProblemList) -> None:
        """Hand the pending batch to the writer; a refused batch becomes a line problem."""
        if self.output_rows:
            try:
                self.writer.submit(
                    self.batch_keys,
                    [
                        (Item, _ITEM_COLUMNS, "".join(self.item_rows)),
                        (Output, _OUTPUT_COLUMNS, "".join(self.output_rows)),
                    ],
                )
            except BatchFailed as failure:
                problems.add(self._diagnose(failure.tag))
            self.outputs_written += len(self.output_rows)
        self.discard()

    def finish(self, problems: ProblemList) -> None:
        """Write what is pending and wait until the database has everything."""
        if not problems:
            self.flush(problems)
        try:
            self.writer.finish()
        except BatchFailed as failure:
            problems.add(self._diagnose(failure.tag))

    def discard(self) -> None:
        """Start a new batch (the old lists now belong to the writer, or are dropped)."""
        self.item_rows = []
        self.output_rows = []
        self.batch_keys = {}

    def _diagnose(self, keys: dict[tuple[int, int], int]) -> Problem:
        existing = set(
            Output.objects.filter(item_id__in={k[0] for k in keys}).values_list(
                "item_id", "system_id"
            )
        )
        for key, line in keys.items():
            if key in existing:
                return Problem(
                    self.name,
                    line,
                    "duplicate output for this item and system (an earlier row has the same pair)",
                    field="system",
                )
        return Problem(self.name, next(iter(keys.values())), "the database refused this batch")
