"""export_report writes the report JSON, CSV and xlsx atomically."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from tests.conftest import write_jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign_with_ratings(bundle, tmp_path):
    spec, outputs = bundle()
    call_command("import_campaign", str(spec), str(outputs), stdout=io.StringIO())
    rows = [{"item_id": f"q{i}", "system": s, "rater": r, "criterion": "fluency",
             "value": (i + len(r) + len(s)) % 5 + 1}
            for i in range(1, 5) for s in ("base", "ft") for r in ("ann", "bo", "=cmd")]
    call_command("import_ratings", "tiny", str(write_jsonl(tmp_path / "j.jsonl", rows)),
                 stdout=io.StringIO())
    return rows


def test_json_report_has_the_contract_keys(campaign_with_ratings, tmp_path):
    out = tmp_path / "report.json"
    call_command("export_report", "tiny", "--format", "json", "--out", str(out),
                 stdout=io.StringIO())
    report = json.loads(out.read_text())
    assert {"campaign", "generated_at", "systems", "agreement", "raters", "correlations"} \
        <= report.keys()
    assert report["campaign"] == "tiny"
    fluency = report["systems"][0]["criteria"]["fluency"]
    assert {"mean", "ci_low", "ci_high", "n", "z_mean"} <= fluency.keys()
    assert report["agreement"]["fluency"]["level"] == "ordinal"
    assert not (tmp_path / "report.json.partial").exists()


def test_csv_is_the_long_table_with_neutralised_formulas(campaign_with_ratings, tmp_path):
    out = tmp_path / "ratings.csv"
    call_command("export_report", "tiny", "--format", "csv", "--out", str(out),
                 stdout=io.StringIO())
    with out.open(newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0][:6] == ["item_id", "system", "rater", "criterion", "value", "z_score"]
    assert table[0][6:] == ["bleu", "rougeL"]
    assert len(table) - 1 == len(campaign_with_ratings)
    raters = {row[2] for row in table[1:]}
    assert raters == {"ann", "bo", "'=cmd"}


def test_xlsx_has_ratings_and_summary_sheets(campaign_with_ratings, tmp_path):
    out = tmp_path / "report.xlsx"
    call_command("export_report", "tiny", "--format", "xlsx", "--out", str(out),
                 stdout=io.StringIO())
    workbook = load_workbook(out, read_only=True)
    assert {"ratings", "summary", "agreement"} <= set(workbook.sheetnames)
    rows = list(workbook["ratings"].iter_rows(values_only=True))
    assert len(rows) == len(campaign_with_ratings) + 1
    # a rater named "=cmd" must not become a formula in the spreadsheet
    assert {r[2] for r in rows[1:]} == {"ann", "bo", "'=cmd"}


def test_unknown_campaign_exits_2(tmp_path):
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("export_report", "nope", "--out", str(tmp_path / "x.json"), stderr=err)
    assert exit_.value.code == 2 and "campaign 'nope' does not exist" in err.getvalue()


def test_csv_of_a_pairwise_campaign_has_one_row_per_judgment(tmp_path):
    from tests.metrics.services.test_report_pairwise import CRITERIA, pairwise_campaign

    campaign, judgments = pairwise_campaign(items=2)
    out = tmp_path / "duel.csv"
    call_command("export_report", campaign.slug, "--format", "csv", "--out", str(out),
                 stdout=io.StringIO())
    with out.open(newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["item_id", "system_a", "system_b", "rater", "choice", "winner",
                        *CRITERIA]
    assert [row[:5] for row in table[1:]] == [
        [j["item"], j["a"], j["b"], j["rater"], j["choice"]] for j in judgments]


def test_json_of_a_pairwise_campaign_has_the_pairwise_section(tmp_path):
    from tests.metrics.services.test_report_pairwise import SYSTEMS, pairwise_campaign

    campaign, judgments = pairwise_campaign(items=2)
    out = tmp_path / "duel.json"
    call_command("export_report", campaign.slug, "--format", "json", "--out", str(out),
                 stdout=io.StringIO())
    pairwise = json.loads(out.read_text())["pairwise"]
    assert pairwise["judgments"] == len(judgments)
    assert [s["name"] for s in pairwise["systems"]] == list(SYSTEMS)
