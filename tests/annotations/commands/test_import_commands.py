"""import_campaign / import_ratings: exit 0 on success; exit 2 with one line per problem."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.conftest import output_rows, write_jsonl
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_import_campaign_reports_what_it_created(bundle):
    spec, outputs = bundle()
    code, out, _ = run("import_campaign", str(spec), str(outputs))
    assert code == 0
    assert out.strip() == "imported campaign 'tiny': 2 systems, 4 items, 8 outputs"


def test_import_campaign_bad_row_exits_2_with_the_line(bundle):
    rows = output_rows()
    del rows[4]["system"]
    spec, outputs = bundle(rows=rows)
    before = row_counts()
    code, _, err = run("import_campaign", str(spec), str(outputs))
    assert code == 2
    assert err.strip().splitlines() == ['outputs.jsonl:5: field "system": missing']
    assert row_counts() == before


def test_import_campaign_missing_file(tmp_path, bundle):
    spec, _ = bundle()
    code, _, err = run("import_campaign", str(spec), str(tmp_path / "nope.jsonl"))
    assert code == 2 and err.strip().endswith("nope.jsonl: no such file")


def test_import_ratings_refuses_na_then_accepts_the_clean_file(tmp_path, bundle):
    spec, outputs = bundle()
    run("import_campaign", str(spec), str(outputs))
    rows = [{"item_id": "q1", "system": "base", "rater": "a", "criterion": "fluency", "value": 4},
            {"item_id": "q1", "system": "ft", "rater": "a", "criterion": "fluency",
             "value": "N/A (no response)"}]
    before = row_counts()
    code, _, err = run("import_ratings", "tiny", str(write_jsonl(tmp_path / "j.jsonl", rows)))
    assert code == 2
    assert err.strip() == 'j.jsonl:2: field "value": "N/A (no response)" is not a number'
    assert row_counts() == before
    code, out, _ = run("import_ratings", "tiny", str(write_jsonl(tmp_path / "k.jsonl", rows[:1])))
    assert code == 0 and out.startswith("imported 1 rating values")


def test_import_ratings_unknown_campaign(tmp_path):
    path = write_jsonl(tmp_path / "j.jsonl", [{"item_id": "q1"}])
    code, _, err = run("import_ratings", "nope", str(path))
    assert code == 2 and err.strip() == "campaign 'nope' does not exist"
