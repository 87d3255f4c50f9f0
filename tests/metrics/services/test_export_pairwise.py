"""Exports of a pairwise campaign: one CSV row per judgment, the report's `pairwise` section in
JSON, and a pairwise sheet in the spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from scipy import stats

from annotations.models import Output, Rating
from metrics.services.exports import report_csv_write, report_json_write, report_xlsx_write
from tests.annotations.factories import UserFactory
from tests.metrics.services.test_report_pairwise import CRITERIA, add_noise, pairwise_campaign

pytestmark = pytest.mark.django_db


def test_csv_has_one_row_per_counted_judgment_with_sides_choice_and_preferences():
    # given a pairwise campaign with judgments that must not count (QC pairs, excluded rater)
    campaign, judgments = pairwise_campaign(items=4)
    add_noise(campaign)

    # when the long table is written
    out = io.StringIO()
    report_csv_write(campaign=campaign, stream=out)
    table = list(csv.reader(io.StringIO(out.getvalue())))

    # then each counted judgment is one row, in the order they were made
    assert table[0] == ["item_id", "system_a", "system_b", "rater", "choice", "winner",
                        *CRITERIA]
    expected = [[j["item"], j["a"], j["b"], j["rater"], j["choice"],
                 {"A": j["a"], "B": j["b"], "tie": "tie"}[j["choice"]],
                 *(j["preferences"].get(k, "") for k in CRITERIA)] for j in judgments]
    assert table[1:] == expected


def test_csv_neutralises_formula_like_names_in_judgment_rows():
    # given a judgment by a rater whose name would be a spreadsheet formula
    campaign, _ = pairwise_campaign(items=1)
    Rating.objects.all().delete()
    a, b = Output.objects.filter(item__campaign=campaign)[:2]
    Rating.objects.create(rater=UserFactory(username="=cmd"), output=a, output_b=b, choice="B")

    out = io.StringIO()
    report_csv_write(campaign=campaign, stream=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))

    assert [r["rater"] for r in rows] == ["'=cmd"]
    assert rows[0]["winner"] == b.system.name


def test_json_export_carries_the_pairwise_section():
    campaign, judgments = pairwise_campaign(items=3)
    out = io.StringIO()
    report_json_write(campaign=campaign, stream=out)
    report = json.loads(out.getvalue())
    assert report["pairwise"]["judgments"] == len(judgments)
    pair = report["pairwise"]["pairs"][0]
    expected = stats.binomtest(pair["wins_a"], pair["wins_a"] + pair["wins_b"]).pvalue
    assert pair["p_value"] == pytest.approx(expected, abs=1e-15)


def test_xlsx_holds_the_judgments_and_a_pairwise_sheet(tmp_path: Path):
    campaign, judgments = pairwise_campaign(items=3)
    path = tmp_path / "duel.xlsx"
    report_xlsx_write(campaign=campaign, path=path)
    workbook = load_workbook(path, read_only=True)
    assert {"ratings", "summary", "agreement", "pairwise"} <= set(workbook.sheetnames)
    ratings = list(workbook["ratings"].iter_rows(values_only=True))
    assert len(ratings) == len(judgments) + 1
    pairwise = list(workbook["pairwise"].iter_rows(values_only=True))
    assert pairwise[0][:6] == ("system", "wins", "losses", "ties", "judgments", "win_rate")
    assert [row[0] for row in pairwise[1:4]] == ["base", "ft-a", "ft-b"]
