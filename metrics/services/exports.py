"""Exports: the report JSON, the long ratings table (CSV, streamed) and a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from openpyxl import Workbook

from annotations.models import Campaign
from metrics.compute.scores import z_normalize
from metrics.models import MetricValue
from metrics.selectors import (
    criterion_list,
    pair_rating_queryset,
    rating_table_get,
    rating_value_queryset,
)

from .reports import report_build

EXPORT_CHUNK = 5000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
BASE_COLUMNS = ["item_id", "system", "rater", "criterion", "value", "z_score"]
PAIRWISE_COLUMNS = ["item_id", "system_a", "system_b", "rater", "choice", "winner"]


def neutralize(cell: Any) -> Any:
    """Make untrusted text inert in spreadsheets: a leading = + - @ becomes literal text."""
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


def report_json_write(*, campaign: Campaign, stream: IO[str]) -> dict[str, Any]:
    """Write the report as JSON (strict: no NaN) and return it."""
    report = report_build(campaign=campaign)
    json.dump(report, stream, indent=2, allow_nan=False, ensure_ascii=False)
    stream.write("\n")
    return report


def rating_rows(*, campaign: Campaign) -> Iterator[list[Any]]:
    """The long table: one row per rating value (pairwise campaigns: one per judgment)."""
    if campaign.kind == Campaign.Kind.PAIRWISE:
        return judgment_rows(campaign=campaign)
    return _value_rows(campaign)


def judgment_rows(*, campaign: Campaign) -> Iterator[list[Any]]:
    """Header, then one row per pair judgment: A/B systems as shown, choice, winner and the
    per-criterion preferences (A, B, tie or empty)."""
    keys = [c.key for c in criterion_list(campaign=campaign)]
    yield PAIRWISE_COLUMNS + keys
    rows = pair_rating_queryset(campaign=campaign).values_list(
        "output__item__external_id", "output__system__name", "output_b__system__name",
        "rater__username", "choice", "preferences",
    ).iterator(chunk_size=EXPORT_CHUNK)
    for item_id, system_a, system_b, rater, choice, preferences in rows:
        winner = {"A": system_a, "B": system_b, "tie": "tie"}.get(choice)
        preferences = preferences if isinstance(preferences, dict) else {}
        yield [
            neutralize(item_id), neutralize(system_a), neutralize(system_b), neutralize(rater),
            choice or None, neutralize(winner),
            *(neutralize(preferences.get(key)) for key in keys),
        ]


def _value_rows(campaign: Campaign) -> Iterator[list[Any]]:
    table = rating_table_get(campaign=campaign)
    z = np.full(len(table), np.nan)
    for criterion_id in np.unique(table.criterion):
        mask = table.criterion == criterion_id
        z[mask] = z_normalize(table.rater[mask], table.value[mask])
    metric_names = list(campaign.metrics)
    yield BASE_COLUMNS + metric_names
    rows = (
        rating_value_queryset(campaign=campaign)
        .values_list("rating__output__item__external_id", "rating__output__system__name",
                     "rating__rater__username", "criterion__key", "value", "rating__output_id")
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    # The queryset of rating_table_get (same filter and order): z lines up row by row.
    index = 0
    for chunk in _chunks(rows, EXPORT_CHUNK):
        metrics = _segment_metrics({r[5] for r in chunk}, metric_names)
        for item_id, system, rater, criterion, value, output_id in chunk:
            z_value = z[index] if index < z.size else np.nan
            index += 1
            per_output = metrics.get(output_id, {})
            yield [
                neutralize(item_id), neutralize(system), neutralize(rater), neutralize(criterion),
                value, None if not np.isfinite(z_value) else float(z_value),
                *(per_output.get(m) for m in metric_names),
            ]


def _chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _segment_metrics(output_ids: set[int], names: list[str]
                     ) -> dict[int, dict[str, float | None]]:
    if not names:
        return {}
    result: dict[int, dict[str, float | None]] = {}
    for output_id, metric, value in MetricValue.objects.filter(
        output_id__in=output_ids, metric__in=names
    ).values_list("output_id", "metric", "value"):
        result.setdefault(output_id, {})[metric] = value
    return result


def csv_lines(*, campaign: Campaign) -> Iterator[str]:
    """The long table as CSV text, one line at a time (for streaming responses)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rating_rows(campaign=campaign):
        writer.writerow("" if cell is None else cell for cell in row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def report_csv_write(*, campaign: Campaign, stream: IO[str]) -> None:
    """Write the long table as CSV."""
    for line in csv_lines(campaign=campaign):
        stream.write(line)


def report_xlsx_write(*, campaign: Campaign, path: Path) -> None:
    """Write a spreadsheet: the long table plus a per-system summary sheet (write-only mode)."""
    workbook = Workbook(write_only=True)
    ratings = workbook.create_sheet("ratings")
    for row in rating_rows(campaign=campaign):
        ratings.append(row)
    report = report_build(campaign=campaign)
    summary = workbook.create_sheet("summary")
    metric_names = sorted({m for s in report["systems"] for m in s["metrics"]})
    summary.append(["system", "is_baseline", "outputs", "criterion", "mean", "ci_low", "ci_high",
                    "n", "z_mean", "delta_vs_baseline", "p_value", *metric_names])
    for system in report["systems"]:
        # A system still gets a row (its metrics) when the rubric is empty.
        for key, stats in list(system["criteria"].items()) or [(None, {})]:
            delta = system["delta_vs_baseline"].get(key, {})
            summary.append([
                neutralize(system["name"]), system["is_baseline"], system["outputs"],
                neutralize(key), stats.get("mean"), stats.get("ci_low"), stats.get("ci_high"),
                stats.get("n"), stats.get("z_mean"), delta.get("delta"), delta.get("p_value"),
                *(system["metrics"].get(m) for m in metric_names),
            ])
    agreement = workbook.create_sheet("agreement")
    agreement.append(["criterion", "level", "krippendorff_alpha", "ci_low", "ci_high", "units",
                      "reason"])
    for key, entry in report["agreement"].items():
        agreement.append([neutralize(key), entry["level"], entry["krippendorff_alpha"],
                          entry.get("ci_low"), entry.get("ci_high"), entry["units"],
                          entry.get("reason")])
    if report["pairwise"] is not None:
        _pairwise_sheet(workbook.create_sheet("pairwise"), report["pairwise"])
    workbook.save(path)


def _pairwise_sheet(sheet: Any, pairwise: dict[str, Any]) -> None:
    """Win rates per system, then wins/losses/ties and the sign test per system pair."""
    sheet.append(["system", "wins", "losses", "ties", "judgments", "win_rate", "ci_low",
                  "ci_high", "reason"])
    for entry in pairwise["systems"]:
        sheet.append([neutralize(entry["name"]), entry["wins"], entry["losses"], entry["ties"],
                      entry["judgments"], entry["win_rate"], entry.get("ci_low"),
                      entry.get("ci_high"), entry.get("reason")])
    sheet.append([])
    sheet.append(["system_a", "system_b", "wins_a", "wins_b", "ties", "win_rate_a", "p_value",
                  "reason"])
    for pair in pairwise["pairs"]:
        sheet.append([neutralize(pair["system_a"]), neutralize(pair["system_b"]),
                      pair["wins_a"], pair["wins_b"], pair["ties"], pair["win_rate_a"],
                      pair.get("p_value"), pair.get("reason")])
