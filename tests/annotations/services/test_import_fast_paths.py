"""The import's fast paths (chunked JSONL screening, memoised judgment checks, COPY text built
by the loaders) accept and refuse exactly what the full checks do, and store values exactly."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from annotations.models import Campaign, Item, Output, Rating, RatingValue
from annotations.services import ImportFailed, campaign_import, ratings_import
from annotations.services.bulk import copy_rows, copy_text
from annotations.services.readers import StreamProblem, iter_jsonl
from tests.conftest import jsonl_bytes, write_jsonl
from tests.dbstate import row_counts

# Text the COPY format must escape, plus characters str.splitlines() would split on.
AWKWARD = "tab\there\nnew\rline \\ back\\N \\t not-a-tab \u2028 \x1c \x85 é 🙂 ,;\"'"


def judgment(item: str = "q1", system: str = "base", rater: str = "ann",
             criterion: str = "fluency", value: Any = 4) -> dict[str, Any]:
    return {"item_id": item, "system": system, "rater": rater, "criterion": criterion,
            "value": value}


@pytest.fixture
def campaign(bundle) -> Campaign:
    spec_path, outputs_path = bundle()
    with spec_path.open("rb") as spec, outputs_path.open("rb") as outputs:
        return campaign_import(spec_stream=spec, spec_name="spec.json", outputs_stream=outputs,
                               outputs_name="outputs.jsonl").campaign


def load(campaign: Campaign, path: Path) -> Any:
    with path.open("rb") as stream:
        return ratings_import(campaign=campaign, stream=stream, name=path.name)


# --- JSONL reader ----------------------------------------------------------------------


def test_rows_equal_the_standard_library_reading_across_chunks():
    # given 2,500 lines (three chunks) with blank lines and exact big integers in later chunks
    lines = []
    for number in range(1, 2501):
        if number % 700 == 0:
            lines.append("   ")
        elif number % 900 == 0:
            lines.append(f'{{"id": {number}, "big": 123456789012345678901234567890, "f": 0.1}}')
        else:
            lines.append(json.dumps({"id": number, "text": f"row {number}", "n": [1, 2.5]}))
    data = "\n".join(lines).encode() + b"\n"
    # when the reader streams them
    rows = list(iter_jsonl(io.BytesIO(data), "x.jsonl"))
    # then every non-blank line comes back with its line number, as json.loads reads it
    expected = [(n, json.loads(text)) for n, text in enumerate(lines, start=1) if text.strip()]
    assert rows == expected
    assert type(dict(rows)[900]["big"]) is int  # not rounded to a float


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param(b'{"a": "x\\u0000y"}', 'contains \\u0000 (a NUL character)', id="nul"),
        pytest.param(b'{"a": }', "invalid JSON", id="syntax"),
        pytest.param(b"[1, 2]", "expected a JSON object, got list", id="not-an-object"),
        pytest.param(b'{"a": "\\ud800"}', "unpaired surrogate", id="surrogate"),
    ],
)
def test_a_bad_line_in_a_later_chunk_is_named_by_its_line(payload, message):
    data = jsonl_bytes([{"id": n} for n in range(1, 1500)]) + payload + b"\n"
    with pytest.raises(StreamProblem) as problem:
        list(iter_jsonl(io.BytesIO(data), "x.jsonl"))
    assert problem.value.problem.line == 1500
    assert message in problem.value.problem.message


def test_a_byte_order_mark_before_the_first_line_is_ignored():
    rows = list(iter_jsonl(io.BytesIO(b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n'), "x.jsonl"))
    assert rows == [(1, {"a": 1}), (2, {"a": 2})]


# --- COPY text ----------------------------------------------------------------------------


def test_copy_text_reads_back_to_the_same_values():
    rows = [
        (1, 2, AWKWARD, None, None, None, None, None, None, None, 12.5, 7, None, "{}"),
        (3, 4, "\\N", '{"k": "a\\tb"}', None, None, None, None, None, None, None, None,
         '{"fluency": [1, 2]}', '{"x": "\\\\"}'),
    ]
    columns = ("item_id", "system_id", "text", "logprobs", "prediction", "score", "ranking",
               "boxes", "confidence", "returns", "latency_ms", "token_count", "control",
               "metadata")
    assert copy_rows(Output, columns, copy_text(rows)) == rows


# --- outputs ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_awkward_text_in_every_text_field_is_stored_exactly(bundle):
    rows = [{"item_id": f"id {AWKWARD}", "input": AWKWARD, "references": [AWKWARD, "r2"],
             "system": "base", "output": AWKWARD, "group": "g\\1", "latency_ms": 3,
             "tokens": 9}]
    spec_path, outputs_path = bundle(rows=rows)
    with spec_path.open("rb") as spec, outputs_path.open("rb") as outputs:
        campaign_import(spec_stream=spec, spec_name="spec.json", outputs_stream=outputs,
                        outputs_name="outputs.jsonl")
    output = Output.objects.select_related("item").get()
    assert (output.text, output.latency_ms, output.token_count) == (AWKWARD, 3.0, 9)
    assert output.item.external_id == f"id {AWKWARD}" and output.item.input == AWKWARD
    assert output.item.references == [AWKWARD, "r2"] and output.item.group == "g\\1"
    assert output.metadata == {} and output.control is None and output.logprobs is None


@pytest.mark.django_db
def test_fast_and_checked_rows_store_the_same_values(bundle):
    # given one plain row (fast path) and one with metadata (full checks) of the same shape
    plain = {"item_id": "q1", "input": "in", "references": "ref", "system": "base",
             "output": "out", "latency_ms": 12, "tokens": 4}
    spec_path, outputs_path = bundle(rows=[plain, {**plain, "system": "ft", "metadata": {}}])
    with spec_path.open("rb") as spec, outputs_path.open("rb") as outputs:
        campaign_import(spec_stream=spec, spec_name="spec.json", outputs_stream=outputs,
                        outputs_name="outputs.jsonl")
    fields = ("text", "latency_ms", "token_count", "logprobs", "control", "metadata")
    base, ft = (Output.objects.filter(system__name=s).values(*fields).get()
                for s in ("base", "ft"))
    assert base == ft == {"text": "out", "latency_ms": 12.0, "token_count": 4,
                          "logprobs": None, "control": None, "metadata": {}}
    assert Item.objects.get().references == ["ref"]


# --- judgments ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        pytest.param([judgment(value="2")],
                     'r.jsonl:1: field "value": "2" is a string; write the number without quotes',
                     id="quoted-number"),
        pytest.param([judgment(value=1), judgment(rater="bob", value=True)],
                     'r.jsonl:2: field "value": true is not a number', id="true-after-1"),
        pytest.param([judgment(value=2), judgment(rater="bob", value=[2])],
                     'r.jsonl:2: field "value": expected a number, got list', id="list"),
        pytest.param([judgment(), judgment(rater=["ann"])],
                     'r.jsonl:2: field "rater": expected a string, got list', id="rater-list"),
        pytest.param([judgment(), judgment(item="  ")], 'r.jsonl:2: field "item_id": is empty',
                     id="blank-item"),
        pytest.param([judgment(value=3), judgment(rater="bob", value=5.5)],
                     "r.jsonl:2: field \"value\": 5.5 is outside the scale of 'fluency' (1–5)",
                     id="out-of-scale-after-valid"),
    ],
)
def test_rows_like_a_valid_one_get_the_full_checks(campaign, tmp_path, rows, message):
    path = write_jsonl(tmp_path / "r.jsonl", rows)
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        load(campaign, path)
    assert str(failure.value.problems[0]) == message
    assert row_counts() == before


@pytest.mark.django_db
def test_an_integer_beyond_any_float_is_a_one_line_problem(campaign, tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(judgment())[:-2] + "1" + "0" * 400 + "}\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as failure:
        load(campaign, path)
    problem = failure.value.problems[0]
    assert (problem.line, problem.field) == (1, "value")
    assert problem.message.endswith("is not a finite number")


@pytest.mark.django_db
def test_a_quoted_number_in_csv_is_a_number(campaign, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('item_id,system,rater,criterion,value\nq1,base,ann,fluency,"2"\n',
                    encoding="utf-8")
    assert load(campaign, path).rows == 1
    assert RatingValue.objects.get().value == 2.0


@pytest.mark.django_db
def test_repeated_combinations_over_many_batches_land_once_each(campaign, tmp_path, monkeypatch):
    # given the same (system, rater, criterion, value) on many items, in batches of 3 rows
    monkeypatch.setattr("annotations.services.imports.common.BATCH_SIZE", 3)
    rows = [judgment(item=f"q{i}", system=s, criterion=c, value=v)
            for i in range(1, 5) for s in ("base", "ft")
            for c, v in (("fluency", 4), ("accuracy", 2.5))]
    # when they are imported
    result = load(campaign, write_jsonl(tmp_path / "r.jsonl", rows))
    # then each row is one value, each (rater, output) one rating
    assert (result.rows, result.ratings_created) == (16, 8)
    stored = sorted(RatingValue.objects.values_list(
        "rating__output__item__external_id", "rating__output__system__name",
        "criterion__key", "value"))
    assert stored == sorted((r["item_id"], r["system"], r["criterion"], float(r["value"]))
                            for r in rows)


@pytest.mark.django_db
def test_a_comment_with_tabs_and_newlines_is_stored_exactly(campaign, tmp_path):
    rows = [{**judgment(), "comment": AWKWARD}]
    load(campaign, write_jsonl(tmp_path / "r.jsonl", rows))
    assert Rating.objects.get().comment == AWKWARD


@pytest.mark.django_db
def test_after_a_failed_import_the_connection_keeps_working(campaign, tmp_path):
    with pytest.raises(ImportFailed):
        load(campaign, write_jsonl(tmp_path / "bad.jsonl", [judgment(), judgment(value=2)]))
    result = load(campaign, write_jsonl(tmp_path / "good.jsonl", [judgment()]))
    assert result.rows == 1 and RatingValue.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.postgres  # deselected from the SQLite pass; the PostgreSQL pass runs it
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL constraint modes")
def test_foreign_keys_are_deferred_again_after_an_import(campaign, tmp_path):
    load(campaign, write_jsonl(tmp_path / "r.jsonl", [judgment()]))
    with connection.cursor() as cursor:
        # a deferred foreign key accepts a dangling reference until the end of the transaction
        cursor.execute("SAVEPOINT probe")
        cursor.execute("UPDATE annotations_rating SET rater_id = -1")
        cursor.execute("ROLLBACK TO SAVEPOINT probe")
