"""GET /api/campaigns/<slug>/export/?format=csv|xlsx|json: downloads for campaign admins."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from scipy import stats

from annotations.models import CampaignMembership
from tests.annotations.factories import CampaignFactory, MembershipFactory, UserFactory
from tests.conftest import SPEC, jsonl_bytes, output_rows

pytestmark = pytest.mark.django_db

BASE_COLUMNS = ["item_id", "system", "rater", "criterion", "value", "z_score"]
# Cells a spreadsheet would run as formulas unless prefixed with an apostrophe.
HOSTILE_ITEM = "=HYPERLINK(\"http://evil.example\",\"x\")"
HOSTILE_RATER = "=cmd|' /C calc'!A0"



def _judgments() -> list[dict[str, Any]]:
    rng = np.random.default_rng(5)
    rows = []
    items = ["q1", "q2", HOSTILE_ITEM]
    for item in items:
        for system in ("base", "ft"):
            for rater in ("alice", "bob", HOSTILE_RATER):
                for criterion in ("fluency", "accuracy"):
                    rows.append({"item_id": item, "system": system, "rater": rater,
                                 "criterion": criterion, "value": int(rng.integers(1, 6))})
    return rows


@pytest.fixture
def campaign_with_ratings(staff_client: APIClient) -> tuple[str, list[dict[str, Any]]]:
    """A bundle and judgments imported through the API, one item id and one rater hostile."""
    outputs = output_rows(items=2)
    outputs += [dict(row, item_id=HOSTILE_ITEM) for row in output_rows(items=1)]
    response = staff_client.post(
        "/api/campaigns/import/",
        {"spec": SimpleUploadedFile("spec.json", json.dumps(SPEC).encode()),
         "outputs": SimpleUploadedFile("outputs.jsonl", jsonl_bytes(outputs))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    judgments = _judgments()
    response = staff_client.post(
        "/api/campaigns/tiny/ratings/import/",
        {"file": SimpleUploadedFile("judgments.jsonl", jsonl_bytes(judgments))}, format="multipart",
    )
    assert response.status_code == 201, response.content
    return "tiny", judgments


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _neutral(text: str) -> str:
    return "'" + text if text.startswith(("=", "+", "-", "@")) else text


# --- CSV ----------------------------------------------------------------------------------


def test_csv_export_streams_one_row_per_rating_value(
    staff_client: APIClient, campaign_with_ratings: tuple[str, list[dict[str, Any]]]
) -> None:
    # given a campaign whose judgments were uploaded
    slug, judgments = campaign_with_ratings

    # when the CSV export is requested
    response = staff_client.get(f"/api/campaigns/{slug}/export/?format=csv")

    # then a streamed CSV attachment arrives with the long table
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(_body(response).decode("utf-8"))))
    assert rows[0][:6] == BASE_COLUMNS
    assert rows[0][6:] == SPEC["metrics"]
    assert len(rows) - 1 == len(judgments)
    exported = Counter((r[0], r[1], r[2], r[3], float(r[4])) for r in rows[1:])
    uploaded = Counter((_neutral(j["item_id"]), j["system"], _neutral(j["rater"]),
                        j["criterion"], float(j["value"])) for j in judgments)
    assert exported == uploaded


def test_csv_export_z_scores_are_per_rater_scipy_zscores(
    staff_client: APIClient, campaign_with_ratings: tuple[str, list[dict[str, Any]]]
) -> None:
    # given uploaded judgments
    slug, judgments = campaign_with_ratings

    # when the CSV export is requested
    response = staff_client.get(f"/api/campaigns/{slug}/export/?format=csv")

    # then z_score is the value standardised by its rater's own mean and std on that criterion
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(_body(response).decode("utf-8"))))[1:]
    assert len(rows) == len(judgments)
    by_rater: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for j in judgments:
        by_rater[(j["rater"], j["criterion"])].append(j)
    expected = {}
    for group in by_rater.values():
        z = stats.zscore([j["value"] for j in group])
        for j, score in zip(group, z, strict=True):
            key = (_neutral(j["item_id"]), j["system"], _neutral(j["rater"]), j["criterion"])
            expected[key] = float(score)
    for row in rows:
        assert float(row[5]) == pytest.approx(expected[tuple(row[:4])], abs=1e-9)


def test_csv_export_neutralises_formulas_in_rater_names_and_item_ids(
    staff_client: APIClient, campaign_with_ratings: tuple[str, list[dict[str, Any]]]
) -> None:
    # given an item id and a rater name that start with "="
    slug, _ = campaign_with_ratings

    # when the CSV export is requested
    response = staff_client.get(f"/api/campaigns/{slug}/export/?format=csv")

    # then they come out prefixed with an apostrophe, and no cell starts with "="
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(_body(response).decode("utf-8"))))[1:]
    assert "'" + HOSTILE_ITEM in {r[0] for r in rows}
    assert "'" + HOSTILE_RATER in {r[2] for r in rows}
    assert not any(cell.startswith("=") for row in rows for cell in row)


# --- XLSX ---------------------------------------------------------------------------------


def test_xlsx_export_is_a_workbook_with_ratings_and_summary_sheets(
    staff_client: APIClient, campaign_with_ratings: tuple[str, list[dict[str, Any]]]
) -> None:
    # given uploaded judgments
    slug, judgments = campaign_with_ratings

    # when the spreadsheet is requested
    response = staff_client.get(f"/api/campaigns/{slug}/export/?format=xlsx")

    # then it opens in openpyxl with the long table and a per-system summary
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(_body(response)), read_only=True)
    assert {"ratings", "summary"} <= set(workbook.sheetnames)
    ratings = list(workbook["ratings"].iter_rows(values_only=True))
    assert list(ratings[0][:6]) == BASE_COLUMNS
    assert len(ratings) - 1 == len(judgments)
    assert "'" + HOSTILE_RATER in {r[2] for r in ratings[1:]}
    assert "'" + HOSTILE_ITEM in {r[0] for r in ratings[1:]}
    summary = list(workbook["summary"].iter_rows(values_only=True))
    header = list(summary[0])
    means = {(r[header.index("system")], r[header.index("criterion")]): r[header.index("mean")]
             for r in summary[1:]}
    assert set(means) == {(s, c) for s in ("base", "ft") for c in ("fluency", "accuracy")}
    for (system, criterion), mean in means.items():
        values = [j["value"] for j in judgments
                  if j["system"] == system and j["criterion"] == criterion]
        assert mean == pytest.approx(float(np.mean(values)), abs=1e-12)


# --- JSON ---------------------------------------------------------------------------------


def test_json_export_is_the_report_as_an_attachment(
    staff_client: APIClient, campaign_with_ratings: tuple[str, list[dict[str, Any]]]
) -> None:
    # given uploaded judgments
    slug, judgments = campaign_with_ratings

    # when the JSON export is requested
    response = staff_client.get(f"/api/campaigns/{slug}/export/?format=json")

    # then the report comes back as a download
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    report = response.json()
    assert report["campaign"] == slug
    assert {"generated_at", "systems", "agreement", "raters", "correlations"} <= report.keys()
    n = sum(s["criteria"]["fluency"]["n"] for s in report["systems"])
    assert n == sum(1 for j in judgments if j["criterion"] == "fluency")


def test_export_without_a_format_defaults_to_the_json_report(
    staff_client: APIClient, campaign_with_ratings: tuple[str, list[dict[str, Any]]]
) -> None:
    # given a campaign
    slug, _ = campaign_with_ratings

    # when the export is requested without ?format
    response = staff_client.get(f"/api/campaigns/{slug}/export/")

    # then the JSON report is returned
    assert response.status_code == 200
    assert response.json()["campaign"] == slug


def test_export_rejects_an_unknown_format_with_400(staff_client: APIClient) -> None:
    # given a campaign
    campaign = CampaignFactory()

    # when an unsupported format is asked for
    response = staff_client.get(f"/api/campaigns/{campaign.slug}/export/?format=pdf")

    # then the view explains the choices
    assert response.status_code == 400
    assert "format" in response.json()


# --- permissions --------------------------------------------------------------------------

FORMATS = [
    "json",
    pytest.param("csv"),
    pytest.param("xlsx"),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_refuses_anonymous_requests(fmt: str) -> None:
    # given a campaign and no credentials
    campaign = CampaignFactory()

    # when an anonymous client asks for an export
    response = APIClient().get(f"/api/campaigns/{campaign.slug}/export/?format={fmt}")

    # then it is refused as unauthenticated
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
@pytest.mark.parametrize("role", [None, CampaignMembership.Role.RATER])
def test_export_is_404_for_a_user_who_does_not_administer_the_campaign(
    fmt: str, role: str | None
) -> None:
    # given a campaign and a user who is not its admin
    campaign = CampaignFactory()
    user = UserFactory()
    if role:
        MembershipFactory(campaign=campaign, user=user, role=role)
    client = APIClient()
    client.force_authenticate(user)

    # when they ask for an export of it and of a campaign that does not exist
    existing = client.get(f"/api/campaigns/{campaign.slug}/export/?format={fmt}")
    missing = client.get(f"/api/campaigns/no-such-campaign/export/?format={fmt}")

    # then both are the same 404
    assert existing.status_code == missing.status_code == 404
    assert existing.content == missing.content


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_is_readable_by_its_campaign_admin_only_for_their_campaign(fmt: str) -> None:
    # given a non-staff user who administers one campaign but not another
    mine, other = CampaignFactory(), CampaignFactory()
    admin = UserFactory()
    MembershipFactory(campaign=mine, user=admin, role=CampaignMembership.Role.ADMIN)
    client = APIClient()
    client.force_authenticate(admin)

    # when they export both
    own = client.get(f"/api/campaigns/{mine.slug}/export/?format={fmt}")
    foreign = client.get(f"/api/campaigns/{other.slug}/export/?format={fmt}")

    # then their own downloads and the other is 404
    assert own.status_code == 200
    assert "attachment" in own["Content-Disposition"]
    assert foreign.status_code == 404
