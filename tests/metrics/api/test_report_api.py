"""GET /api/campaigns/<slug>/report/: the DESIGN §4 report, checked with numpy/scipy."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import krippendorff
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotations.models import CampaignMembership
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    MembershipFactory,
    OutputFactory,
    UserFactory,
)
from tests.conftest import SPEC, jsonl_bytes, output_rows

pytestmark = pytest.mark.django_db

SYSTEMS = ("base", "ft")
RATERS = ("alice", "bob", "carol")
LEVELS = {c["key"]: c["level"] for c in SPEC["criteria"]}
# A report's query count may depend on the rubric and systems, never on the data size.
MAX_REPORT_QUERIES = 10




def judgment_rows(items: int, raters: tuple[str, ...] = RATERS, seed: int = 11
                  ) -> list[dict[str, Any]]:
    """Judgments with a shared per-output signal plus rater noise; the last rater skips some."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, items + 1):
        for s_index, system in enumerate(SYSTEMS):
            for criterion in LEVELS:
                latent = 2.5 + s_index + float(rng.normal(0, 0.8))
                for rater in raters:
                    if rater == raters[-1] and i % 3 == 0:
                        continue  # missing ratings: this output has fewer raters
                    value = int(np.clip(np.rint(latent + rng.normal(0, 0.7)), 1, 5))
                    rows.append({"item_id": f"q{i}", "system": system, "rater": rater,
                                 "criterion": criterion, "value": value})
    return rows


def import_via_api(client: APIClient, *, items: int, judgments: list[dict[str, Any]],
                   slug: str = "tiny") -> str:
    """Staff imports a bundle and judgments through the API; returns the campaign slug."""
    spec = dict(SPEC, slug=slug)
    response = client.post(
        "/api/campaigns/import/",
        {"spec": SimpleUploadedFile("spec.json", json.dumps(spec).encode()),
         "outputs": SimpleUploadedFile("outputs.jsonl",
                                       jsonl_bytes(output_rows(items=items, systems=SYSTEMS)))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    response = client.post(
        f"/api/campaigns/{slug}/ratings/import/",
        {"file": SimpleUploadedFile("judgments.jsonl", jsonl_bytes(judgments))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["rows"] == len(judgments)
    return slug


def reliability_matrix(rows: list[dict[str, Any]], criterion: str) -> np.ndarray:
    """raters × outputs, NaN where a rater did not rate an output."""
    outputs = sorted({(r["item_id"], r["system"]) for r in rows if r["criterion"] == criterion})
    raters = sorted({r["rater"] for r in rows})
    matrix = np.full((len(raters), len(outputs)), np.nan)
    for r in rows:
        if r["criterion"] == criterion:
            column = outputs.index((r["item_id"], r["system"]))
            matrix[raters.index(r["rater"]), column] = r["value"]
    return matrix


def _zscores(rows: list[dict[str, Any]], criterion: str) -> list[float]:
    """Per-rater z-scores (population std) of the criterion's rows, in row order."""
    from scipy import stats

    by_rater: dict[str, list[int]] = defaultdict(list)
    picked = [r for r in rows if r["criterion"] == criterion]
    for index, r in enumerate(picked):
        by_rater[r["rater"]].append(index)
    z = np.full(len(picked), np.nan)
    for indexes in by_rater.values():
        z[indexes] = stats.zscore([picked[i]["value"] for i in indexes])
    return z.tolist()


@pytest.fixture
def round_trip(staff_client: APIClient) -> tuple[str, list[dict[str, Any]]]:
    judgments = judgment_rows(items=6)
    slug = import_via_api(staff_client, items=6, judgments=judgments)
    return slug, judgments


def test_report_after_api_round_trip_has_the_design_keys(
    staff_client: APIClient, round_trip: tuple[str, list[dict[str, Any]]]
) -> None:
    # given a campaign imported through the API, with judgments
    slug, _ = round_trip

    # when staff fetches the report
    response = staff_client.get(f"/api/campaigns/{slug}/report/")

    # then it has the DESIGN §4 shape
    assert response.status_code == 200
    report = response.json()
    assert {"campaign", "generated_at", "systems", "agreement", "raters",
            "correlations"} <= report.keys()
    assert report["campaign"] == slug
    assert [s["name"] for s in report["systems"]] == ["base", "ft"]
    for system in report["systems"]:
        assert {"name", "is_baseline", "outputs", "criteria"} <= system.keys()
        assert system["outputs"] == 6
        assert set(system["criteria"]) == set(LEVELS)
        for stats in system["criteria"].values():
            assert {"mean", "ci_low", "ci_high", "n", "z_mean"} <= stats.keys()
            assert stats["ci_low"] <= stats["mean"] <= stats["ci_high"]
    assert [s["is_baseline"] for s in report["systems"]] == [True, False]
    assert set(report["agreement"]) == set(LEVELS)
    for key, entry in report["agreement"].items():
        assert {"krippendorff_alpha", "level", "units"} <= entry.keys()
        assert entry["level"] == LEVELS[key]
    assert [r["rater"] for r in report["raters"]] == sorted(RATERS)


def test_report_mean_and_n_equal_numpy_on_the_uploaded_values(
    staff_client: APIClient, round_trip: tuple[str, list[dict[str, Any]]]
) -> None:
    # given the uploaded judgments
    slug, judgments = round_trip

    # when the report is fetched
    report = staff_client.get(f"/api/campaigns/{slug}/report/").json()

    # then every system × criterion mean and n is numpy's over the same values
    for system in report["systems"]:
        for criterion, stats in system["criteria"].items():
            values = np.array([r["value"] for r in judgments
                               if r["system"] == system["name"] and r["criterion"] == criterion],
                              dtype=float)
            assert stats["n"] == values.size
            assert stats["mean"] == pytest.approx(float(np.mean(values)), abs=1e-12)


def test_report_z_mean_is_the_mean_of_per_rater_scipy_zscores(
    staff_client: APIClient, round_trip: tuple[str, list[dict[str, Any]]]
) -> None:
    # given the uploaded judgments
    slug, judgments = round_trip

    # when the report is fetched
    report = staff_client.get(f"/api/campaigns/{slug}/report/").json()

    # then z_mean is the mean over the system's ratings of each rater's own z-score
    for criterion in LEVELS:
        picked = [r for r in judgments if r["criterion"] == criterion]
        z = np.array(_zscores(judgments, criterion))
        for system in report["systems"]:
            mask = np.array([r["system"] == system["name"] for r in picked])
            expected = float(np.mean(z[mask]))
            assert system["criteria"][criterion]["z_mean"] == pytest.approx(expected, abs=1e-9)


def test_report_alpha_equals_krippendorff_on_the_raters_by_outputs_matrix(
    staff_client: APIClient, round_trip: tuple[str, list[dict[str, Any]]]
) -> None:
    # given the uploaded judgments, with some outputs rated by only two raters
    slug, judgments = round_trip

    # when the report is fetched
    report = staff_client.get(f"/api/campaigns/{slug}/report/").json()

    # then alpha per criterion is krippendorff.alpha at the criterion's level of measurement
    for criterion, level in LEVELS.items():
        matrix = reliability_matrix(judgments, criterion)
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
        entry = report["agreement"][criterion]
        assert entry["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)
        assert entry["units"] == int(np.sum(np.sum(~np.isnan(matrix), axis=0) >= 2))


def test_report_delta_vs_baseline_is_the_paired_item_mean_difference_with_wilcoxon_p(
    staff_client: APIClient, round_trip: tuple[str, list[dict[str, Any]]]
) -> None:
    from scipy import stats as scipy_stats

    # given the uploaded judgments
    slug, judgments = round_trip

    # when the report is fetched
    report = staff_client.get(f"/api/campaigns/{slug}/report/").json()

    # then the fine-tune's delta is mean(item means ft - item means base), p from scipy
    ft = next(s for s in report["systems"] if s["name"] == "ft")
    for criterion in LEVELS:
        def item_means(system: str, criterion: str = criterion) -> np.ndarray:
            items = sorted({r["item_id"] for r in judgments}, key=lambda x: int(x[1:]))
            return np.array([np.mean([r["value"] for r in judgments if r["item_id"] == i
                                      and r["system"] == system and r["criterion"] == criterion])
                             for i in items])

        ours, theirs = item_means("ft"), item_means("base")
        delta = ft["delta_vs_baseline"][criterion]
        assert delta["delta"] == pytest.approx(float(np.mean(ours - theirs)), abs=1e-12)
        # R's wilcox.test choice: exact for n <= 50 untied non-zero differences, else normal
        diff = np.abs(ours - theirs)
        exact = diff.size <= 50 and np.unique(diff).size == diff.size and bool(np.all(diff > 0))
        expected_p = scipy_stats.wilcoxon(ours, theirs, zero_method="pratt",
                                          method="exact" if exact else "approx").pvalue
        assert delta["p_value"] == pytest.approx(float(expected_p), abs=1e-12)


def test_report_counts_each_raters_rated_outputs(
    staff_client: APIClient, round_trip: tuple[str, list[dict[str, Any]]]
) -> None:
    # given the uploaded judgments
    slug, judgments = round_trip

    # when the report is fetched
    report = staff_client.get(f"/api/campaigns/{slug}/report/").json()

    # then each rater's count is the number of distinct outputs they rated
    expected = {rater: len({(r["item_id"], r["system"]) for r in judgments if r["rater"] == rater})
                for rater in RATERS}
    assert {r["rater"]: r["ratings"] for r in report["raters"]} == expected


def test_report_of_a_campaign_without_ratings_has_nulls_with_reasons(
    staff_client: APIClient
) -> None:
    # given a campaign with a rubric and outputs but no ratings
    output = OutputFactory()
    CriterionFactory(campaign=output.item.campaign, key="fluency")

    # when staff fetches its report
    response = staff_client.get(f"/api/campaigns/{output.item.campaign.slug}/report/")

    # then undefined numbers are null and explained, never made up
    assert response.status_code == 200
    report = response.json()
    stats = report["systems"][0]["criteria"]["fluency"]
    assert stats["mean"] is None and stats["n"] == 0 and stats["reason"]
    assert report["agreement"]["fluency"]["krippendorff_alpha"] is None
    assert report["agreement"]["fluency"]["reason"]
    assert report["raters"] == []


# --- permissions ------------------------------------------------------------------------


def test_report_refuses_anonymous_requests() -> None:
    # given a campaign and no credentials
    campaign = CampaignFactory()

    # when an anonymous client asks for its report
    response = APIClient().get(f"/api/campaigns/{campaign.slug}/report/")

    # then it is refused
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("role", [None, CampaignMembership.Role.RATER])
def test_report_is_404_for_a_user_who_does_not_administer_the_campaign(role: str | None) -> None:
    # given a campaign and a user who is not its admin (maybe one of its raters)
    campaign = CampaignFactory()
    user = UserFactory()
    if role:
        MembershipFactory(campaign=campaign, user=user, role=role)
    client = APIClient()
    client.force_authenticate(user)

    # when they ask for the report, and for a campaign that does not exist
    existing = client.get(f"/api/campaigns/{campaign.slug}/report/")
    missing = client.get("/api/campaigns/no-such-campaign/report/")

    # then both answers are the same 404: the campaign's existence does not leak
    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json()


def test_report_is_readable_by_its_campaign_admin_only_for_their_campaign() -> None:
    # given a non-staff user who administers one campaign but not another
    mine, other = CampaignFactory(), CampaignFactory()
    admin = UserFactory()
    MembershipFactory(campaign=mine, user=admin, role=CampaignMembership.Role.ADMIN)
    client = APIClient()
    client.force_authenticate(admin)

    # when they ask for both reports
    own = client.get(f"/api/campaigns/{mine.slug}/report/")
    foreign = client.get(f"/api/campaigns/{other.slug}/report/")

    # then they read their own and get 404 for the other
    assert own.status_code == 200
    assert own.json()["campaign"] == mine.slug
    assert foreign.status_code == 404


# --- query count --------------------------------------------------------------------------


@pytest.mark.parametrize("items,raters", [(3, RATERS[:2]), (12, (*RATERS, "dave", "erin"))])
def test_report_query_count_is_bounded_whatever_the_number_of_ratings(
    staff_client: APIClient, django_assert_max_num_queries: Any, items: int,
    raters: tuple[str, ...],
) -> None:
    # given a small or a larger campaign (same rubric and systems)
    slug = import_via_api(staff_client, items=items,
                          judgments=judgment_rows(items=items, raters=raters))

    # when the report is fetched
    with django_assert_max_num_queries(MAX_REPORT_QUERIES):
        response = staff_client.get(f"/api/campaigns/{slug}/report/")

    # then it stays under the same fixed bound
    assert response.status_code == 200


def test_report_query_count_does_not_grow_with_the_data(staff_client: APIClient) -> None:
    # given two campaigns of the same shape, one with ~10x the ratings of the other
    small = import_via_api(staff_client, items=3, judgments=judgment_rows(3, RATERS[:2]),
                           slug="small")
    large = import_via_api(staff_client, items=15,
                           judgments=judgment_rows(15, (*RATERS, "dave", "erin")), slug="large")

    # when each report is fetched
    counts = []
    for slug in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(f"/api/campaigns/{slug}/report/").status_code == 200
        counts.append(len(queries))

    # then both take the same number of queries
    assert counts[0] == counts[1]
