"""campaign_import: a valid bundle lands whole; every bad input is one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from annotations.models import Campaign, Item, Output, System
from annotations.services import ImportFailed, campaign_import
from tests.conftest import SPEC, output_rows
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db


def run_import(spec_path: Path, outputs_path: Path, fmt: str | None = None) -> Any:
    with spec_path.open("rb") as spec, outputs_path.open("rb") as outputs:
        return campaign_import(spec_stream=spec, spec_name=spec_path.name, outputs_stream=outputs,
                               outputs_name=outputs_path.name, outputs_format=fmt)


def test_valid_bundle_creates_campaign_rubric_systems_items_outputs(bundle):
    # given a spec with two criteria and 4 items answered by two systems
    spec_path, outputs_path = bundle()
    # when it is imported
    result = run_import(spec_path, outputs_path)
    # then everything is there, and the baseline is marked
    campaign = Campaign.objects.get(slug="tiny")
    assert result.outputs == 8 and result.items == 4 and result.systems == 2
    assert [c.key for c in campaign.criteria.all()] == ["fluency", "accuracy"]
    assert campaign.baseline.name == "base" and campaign.baseline.is_baseline
    assert System.objects.filter(campaign=campaign, is_baseline=True).count() == 1
    item = Item.objects.get(campaign=campaign, external_id="q2")
    assert item.input == "question 2?" and item.references == ["answer 2"]
    output = Output.objects.get(item=item, system__name="ft")
    assert output.text == "ft says 2" and output.latency_ms == 102 and output.token_count == 5
    assert campaign.metrics == ["bleu", "rougeL"]


def test_optional_task_fields_are_stored(bundle):
    rows = [{
        "item_id": "c1", "system": "base", "input": "doc", "label": "pos", "prediction": "neg",
        "score": 0.83, "logprobs": [-0.1, -2.5], "relevance": {"d1": 2, "d2": 0},
        "ranking": ["d2", "d1"], "gold_boxes": [[0, 0, 10, 10]], "boxes": [[1, 1, 9, 9]],
        "confidence": [0.9], "returns": [0.01, -0.02], "group": "g1",
        "metadata": {"seed": 3}, "control": {"fluency": [1, 2]}, "output": "neg",
    }]
    spec_path, outputs_path = bundle(rows=rows)
    run_import(spec_path, outputs_path)
    output = Output.objects.get()
    assert output.prediction == "neg" and output.score == 0.83
    assert output.logprobs == [-0.1, -2.5] and output.ranking == ["d2", "d1"]
    assert output.boxes == [[1.0, 1.0, 9.0, 9.0]] and output.confidence == [0.9]
    assert output.returns == [0.01, -0.02] and output.control == {"fluency": [1, 2]}
    assert output.metadata == {"seed": 3}
    item = output.item
    assert item.label == "pos" and item.relevance == {"d1": 2.0, "d2": 0.0}
    assert item.gold_boxes == [[0.0, 0.0, 10.0, 10.0]] and item.group == "g1"


def test_csv_outputs_import_like_jsonl(tmp_path, bundle):
    spec_path, _ = bundle()
    csv_path = tmp_path / "outputs.csv"
    csv_path.write_text(
        "item_id,input,references,system,output,latency_ms,label\n"
        'q1,"multi\nline, input","[""a"", ""b""]",base,"out, with comma",12.5,3\n'
        "q1,\"multi\nline, input\",\"[\"\"a\"\", \"\"b\"\"]\",ft,second,7,3\n"
        "q2,plain,single reference,base,x,,pos\n",
        encoding="utf-8",
    )
    result = run_import(spec_path, csv_path)
    assert result.outputs == 3
    q1 = Item.objects.get(external_id="q1")
    assert q1.input == "multi\nline, input" and q1.references == ["a", "b"] and q1.label == 3
    assert Item.objects.get(external_id="q2").references == ["single reference"]
    assert Output.objects.get(item=q1, system__name="base").text == "out, with comma"


def test_yaml_spec_is_accepted(tmp_path, bundle):
    _, outputs_path = bundle()
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        "name: Tiny\nslug: tiny\nbaseline: base\ncriteria:\n"
        "  - {key: fluency, label: Fluency, min: 1, max: 5}\n", encoding="utf-8")
    run_import(spec_path, outputs_path)
    assert Campaign.objects.get().criteria.get().level == "ordinal"


def rows_with(index: int, **changes: Any) -> list[Any]:
    rows: list[Any] = output_rows()
    row = dict(rows[index])
    for key, value in changes.items():
        if value is ...:
            row.pop(key)
        else:
            row[key] = value
    rows[index] = row
    return rows


BAD_OUTPUTS = [
    # (rows, expected one-line message)
    pytest.param(rows_with(2, system=...), 'outputs.jsonl:3: field "system": missing',
                 id="missing-field"),
    pytest.param(rows_with(0, item_id=...), 'outputs.jsonl:1: field "item_id": missing',
                 id="missing-item-id"),
    pytest.param(rows_with(1, latency_ms="fast"),
                 'outputs.jsonl:2: field "latency_ms": "fast" is not a number', id="wrong-type"),
    pytest.param(rows_with(1, references=[1, 2]),
                 'outputs.jsonl:2: field "references": expected a list of strings',
                 id="wrong-type-list"),
    pytest.param(rows_with(3, tokens=-3), 'outputs.jsonl:4: field "tokens": must be ≥ 0, got -3',
                 id="negative"),
    pytest.param(output_rows()[:3] + [output_rows()[1]],
                 'outputs.jsonl:4: field "system": duplicate output for item \'q1\' and system '
                 "'ft'", id="duplicate-item-system"),
    pytest.param(rows_with(1, input="other question"),
                 'outputs.jsonl:2: field "input": item \'q1\' differs from its row on line 1',
                 id="item-rows-disagree"),
    pytest.param(rows_with(1, references=["another answer"]),
                 'outputs.jsonl:2: field "references": item \'q1\' differs from its row on line 1',
                 id="item-references-disagree"),
    pytest.param(rows_with(0, colour="red"),
                 'outputs.jsonl:1: field "colour": unknown field (put extra data under '
                 '"metadata")', id="unknown-field"),
    pytest.param(rows_with(0, control={"tone": [1, 2]}),
                 'outputs.jsonl:1: field "control.tone": not a criterion of this campaign',
                 id="unknown-criterion-in-control"),
    pytest.param([*output_rows()[:2], '{"item_id": "q9", "system": '],
                 "outputs.jsonl:3: invalid JSON: Expecting value at column 29", id="invalid-json"),
    pytest.param([*output_rows()[:1], "[1, 2]"],
                 "outputs.jsonl:2: expected a JSON object, got list", id="not-an-object"),
    pytest.param([], "outputs.jsonl:1: file is empty (no rows)", id="empty-file"),
]


@pytest.mark.parametrize(("rows", "message"), BAD_OUTPUTS)
def test_bad_outputs_give_one_line_and_change_nothing(bundle, rows, message):
    # given a bundle with one bad row
    spec_path, outputs_path = bundle(rows=rows)
    before = row_counts()
    # when it is imported
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    # then the first problem names file, line and field, and nothing was written
    assert str(failure.value.problems[0]) == message
    assert row_counts() == before


def test_invalid_utf8_names_the_line(bundle):
    spec_path, outputs_path = bundle()
    data = outputs_path.read_bytes().splitlines(keepends=True)
    data[2] = data[2].replace(b"base says", b"base \xff says")
    outputs_path.write_bytes(b"".join(data))
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert str(failure.value.problems[0]).startswith("outputs.jsonl:3: invalid UTF-8 (byte 0xff")
    assert row_counts() == before


@pytest.mark.parametrize(("text", "message"), [
    pytest.param('item_id,system,output\nq1,base,"unclosed\n', "outputs.csv:2: invalid CSV",
                 id="unclosed-quote"),
    pytest.param("item_id,system,output\nq1,base,a,extra\n",
                 "outputs.csv:2: expected 3 columns, found 4", id="extra-cell"),
    pytest.param("item_id,system\nq1,base\n", 'outputs.csv:2: field "output": missing',
                 id="missing-column"),
    pytest.param("", "outputs.csv:1: file is empty (no header row)", id="empty"),
    pytest.param("item_id,system,output\n", "outputs.csv:2: file is empty (header only, no rows)",
                 id="header-only"),
])
def test_bad_csv_gives_one_line_and_changes_nothing(tmp_path, bundle, text, message):
    spec_path, _ = bundle()
    csv_path = tmp_path / "outputs.csv"
    csv_path.write_text(text, encoding="utf-8")
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, csv_path)
    assert str(failure.value.problems[0]).startswith(message)
    assert row_counts() == before


def spec_with(**changes: Any) -> dict[str, Any]:
    spec = json.loads(json.dumps(SPEC))
    for key, value in changes.items():
        if value is ...:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize(("spec", "message"), [
    pytest.param(spec_with(criteria=...),
                 'spec.json:1: field "criteria": missing: a campaign needs at least one criterion',
                 id="no-criteria"),
    pytest.param(spec_with(criteria=[]), 'spec.json:1: field "criteria": must be a non-empty list',
                 id="empty-criteria"),
    pytest.param(spec_with(criteria=[{"key": "fluency", "min": 5, "max": 5}]),
                 'spec.json:1: field "criteria[0].max": must be greater than min (5 ≤ 5)',
                 id="min-equals-max"),
    pytest.param(spec_with(criteria=[{"key": "fluency", "min": 1, "max": 5, "level": "cardinal"}]),
                 'spec.json:1: field "criteria[0].level": must be one of nominal, ordinal, '
                 'interval, ratio, got "cardinal"', id="bad-level"),
    pytest.param(spec_with(metrics=["bleu", "blue"]),
                 'spec.json:1: field "metrics[1]": unknown metric "blue"', id="unknown-metric"),
    pytest.param(spec_with(slug=...), 'spec.json:1: field "slug": missing', id="no-slug"),
    pytest.param(spec_with(baseline="gpt-9"),
                 "spec.json:1: field \"baseline\": system 'gpt-9' has no outputs",
                 id="baseline-without-outputs"),
])
def test_bad_spec_gives_one_line_and_changes_nothing(bundle, spec, message):
    spec_path, outputs_path = bundle(spec=spec)
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert str(failure.value.problems[0]) == message
    assert row_counts() == before


def test_spec_problem_names_the_line_of_the_field(tmp_path, bundle):
    _, outputs_path = bundle()
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_with(criteria=[
        {"key": "fluency", "min": 1, "max": 5}, {"key": "accuracy", "min": 3, "max": 2},
    ]), indent=2), encoding="utf-8")
    lines = spec_path.read_text().splitlines()
    expected_line = next(i for i, line in enumerate(lines, 1) if '"max": 2' in line)
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert str(failure.value.problems[0]).startswith(
        f'spec.json:{expected_line}: field "criteria[1].max"')


def test_invalid_json_spec_names_the_line(tmp_path, bundle):
    _, outputs_path = bundle()
    spec_path = tmp_path / "spec.json"
    spec_path.write_text('{\n  "name": "x",\n  "slug": "x"\n  "criteria": []\n}\n')
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert str(failure.value.problems[0]).startswith("spec.json:4: invalid JSON")


def test_existing_slug_is_refused_and_the_first_campaign_is_untouched(bundle):
    spec_path, outputs_path = bundle()
    run_import(spec_path, outputs_path)
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert "campaign 'tiny' already exists" in str(failure.value)
    assert row_counts() == before


def test_several_problems_are_reported_together(bundle):
    rows = rows_with(1, latency_ms="slow")
    rows[4] = {k: v for k, v in rows[4].items() if k != "system"}
    spec_path, outputs_path = bundle(rows=rows)
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert [p.line for p in failure.value.problems] == [2, 5]


def test_a_duplicate_across_batches_is_found_by_the_database(bundle, monkeypatch):
    # given batches of 3 rows so the duplicate lands in a later batch than its original
    monkeypatch.setattr("annotations.services.imports.common.BATCH_SIZE", 3)
    rows = output_rows() + [output_rows()[0]]
    spec_path, outputs_path = bundle(rows=rows)
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    problem = failure.value.problems[0]
    assert (problem.line, problem.field) == (9, "system")
    assert "duplicate output" in problem.message
    assert row_counts() == before


def test_many_batches_import_completely(bundle, monkeypatch):
    monkeypatch.setattr("annotations.services.imports.common.BATCH_SIZE", 7)
    spec_path, outputs_path = bundle(rows=output_rows(items=50, systems=("base", "ft", "ft2")))
    result = run_import(spec_path, outputs_path)
    assert result.outputs == Output.objects.count() == 150
    assert Item.objects.count() == 50


def test_text_with_tabs_backslashes_newlines_and_unicode_is_stored_exactly(bundle):
    hostile = 'tab\there \\N back\\slash\nnew line\r\n "quotes" <script>alert(1)</script> 日本語 🙂'
    rows = output_rows(items=1)
    rows[0] = {**rows[0], "output": hostile, "input": hostile, "references": [hostile]}
    rows[1] = {**rows[1], "input": hostile, "references": [hostile]}
    spec_path, outputs_path = bundle(rows=rows)
    run_import(spec_path, outputs_path)
    output = Output.objects.get(system__name="base")
    assert output.text == hostile
    assert output.item.input == hostile and output.item.references == [hostile]


def test_a_nul_character_is_refused_with_its_line(bundle):
    rows: list[Any] = output_rows(items=2)
    rows[2] = json.dumps({**rows[2], "output": "bad\u0000byte"})
    spec_path, outputs_path = bundle(rows=rows)
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert str(failure.value.problems[0]).startswith("outputs.jsonl:3: contains \\u0000")


@pytest.mark.parametrize(("spec", "message"), [
    pytest.param(spec_with(name="n" * 201),
                 'spec.json:1: field "name": longer than 200 characters', id="long-name"),
    pytest.param(spec_with(slug="s" * 101),
                 'spec.json:1: field "slug": longer than 100 characters', id="long-slug"),
    pytest.param(spec_with(criteria=[{"key": "k" * 65, "min": 1, "max": 5}]),
                 'spec.json:1: field "criteria[0].key": missing, longer than 64 characters, or '
                 "not a slug (letters, digits, '-', '_')", id="long-key"),
    pytest.param(spec_with(criteria=[{"key": "k", "label": "l" * 201, "min": 1, "max": 5}]),
                 'spec.json:1: field "criteria[0].label": expected a string of at most 200 '
                 "characters", id="long-label"),
])
def test_too_long_spec_fields_are_one_line_problems(bundle, spec, message):
    spec_path, outputs_path = bundle(spec=spec)
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert str(failure.value.problems[0]) == message
    assert row_counts() == before


def test_a_too_long_group_is_a_one_line_problem(bundle):
    spec_path, outputs_path = bundle(rows=rows_with(0, group="g" * 201, metadata={"x": 1}))
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert str(failure.value.problems[0]) == \
        'outputs.jsonl:1: field "group": longer than 200 characters'


def test_problems_past_the_cap_are_counted(bundle):
    rows = [{**row, "latency_ms": "slow"} for row in output_rows(items=15)]
    spec_path, outputs_path = bundle(rows=rows)
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert len(failure.value.problems) == 20
    assert failure.value.lines[-1].startswith("… and 10 more problems")


def test_an_unpaired_surrogate_is_refused_with_its_line(bundle):
    rows: list[Any] = output_rows(items=1)
    rows[1] = json.dumps(rows[1]).replace('"ft says 1"', '"ft \\ud800 says"')
    spec_path, outputs_path = bundle(rows=rows)
    with pytest.raises(ImportFailed) as failure:
        run_import(spec_path, outputs_path)
    assert str(failure.value.problems[0]).startswith(
        "outputs.jsonl:2: contains an unpaired surrogate escape")


def test_integers_beyond_64_bits_are_still_read(bundle):
    rows: list[Any] = output_rows(items=1)
    rows[0] = {**rows[0], "metadata": {"seed": 2**70}}
    spec_path, outputs_path = bundle(rows=rows)
    run_import(spec_path, outputs_path)
    assert Output.objects.get(system__name="base").metadata == {"seed": 2**70}
