"""POST /api/campaigns/<slug>/ratings/import/: existing judgments into a campaign you administer."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotations.models import (
    Campaign,
    CampaignMembership,
    Rating,
    RatingValue,
)
from annotations.services import campaign_import
from tests.annotations.factories import MembershipFactory, UserFactory
from tests.conftest import SPEC, jsonl_bytes, output_rows
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db


def _url(slug: str) -> str:
    return f"/api/campaigns/{slug}/ratings/import/"




def _upload(rows: list[Any], name: str = "judgments.jsonl") -> dict[str, Any]:
    return {"file": SimpleUploadedFile(name, jsonl_bytes(rows))}


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client




def judgment(item: str = "q1", system: str = "base", rater: str = "alice",
             criterion: str = "fluency", value: Any = 4) -> dict[str, Any]:
    return {"item_id": item, "system": system, "rater": rater, "criterion": criterion,
            "value": value}


@pytest.fixture
def campaign() -> Campaign:
    """The conftest bundle (4 items × base, ft; fluency and accuracy on 1–5), imported."""
    result = campaign_import(
        spec_stream=io.BytesIO(json.dumps(SPEC).encode()), spec_name="spec.json",
        outputs_stream=io.BytesIO(jsonl_bytes(output_rows())), outputs_name="outputs.jsonl",
    )
    return result.campaign


@pytest.fixture
def campaign_admin(campaign: Campaign) -> Any:
    """A non-staff user with the admin role in `campaign`."""
    return MembershipFactory(campaign=campaign, role=CampaignMembership.Role.ADMIN).user


def test_campaign_admin_imports_judgments(campaign: Campaign, campaign_admin: Any) -> None:
    # given two raters' judgments of two outputs on both criteria
    rows = [judgment(item=i, system=s, rater=r, criterion=c, value=v)
            for (i, s), v in ((("q1", "base"), 2), (("q1", "ft"), 5))
            for r in ("alice", "bob") for c in ("fluency", "accuracy")]

    # when the (non-staff) campaign admin uploads them
    response = _client(campaign_admin).post(_url(campaign.slug), _upload(rows),
                                            format="multipart")

    # then every value is stored, one rating per rater × output, raters joined as raters
    assert response.status_code == 201
    assert response.json() == {"rows": 8, "ratings_created": 4, "raters_created": 2}
    stored = sorted(RatingValue.objects.values_list(
        "rating__rater__username", "rating__output__item__external_id",
        "rating__output__system__name", "criterion__key", "value"))
    assert stored == sorted((r["rater"], r["item_id"], r["system"], r["criterion"],
                             float(r["value"])) for r in rows)
    assert set(Rating.objects.values_list("source", flat=True)) == {Rating.Source.IMPORT}
    assert set(campaign.memberships.filter(role=CampaignMembership.Role.RATER)
               .values_list("user__username", flat=True)) == {"alice", "bob"}


def test_staff_imports_judgments_given_as_csv(campaign: Campaign,
                                              staff_client: APIClient) -> None:
    # given judgments as CSV
    text = ("item_id,system,rater,criterion,value\n"
            "q2,ft,carol,accuracy,3\nq2,base,carol,accuracy,1\n")

    # when staff uploads them
    response = staff_client.post(
        _url(campaign.slug), {"file": SimpleUploadedFile("judgments.csv", text.encode())},
        format="multipart")

    # then both rows are stored
    assert response.status_code == 201
    assert response.json() == {"rows": 2, "ratings_created": 2, "raters_created": 1}
    assert sorted(RatingValue.objects.values_list("value", flat=True)) == [1.0, 3.0]


def test_import_reuses_an_existing_user_as_rater(campaign: Campaign,
                                                 staff_client: APIClient) -> None:
    # given a user that already exists
    existing = UserFactory(username="alice")
    before = get_user_model().objects.count()

    # when their judgments are imported
    response = staff_client.post(_url(campaign.slug), _upload([judgment()]), format="multipart")

    # then no user is created and the rating is theirs
    assert response.status_code == 201
    assert response.json()["raters_created"] == 0
    assert get_user_model().objects.count() == before
    assert Rating.objects.get().rater == existing


def test_import_refuses_anonymous_requests(campaign: Campaign) -> None:
    # given no credentials
    before = row_counts()

    # when judgments are uploaded anonymously
    response = APIClient().post(_url(campaign.slug), _upload([judgment()]), format="multipart")

    # then it is refused and nothing is written
    assert response.status_code in (401, 403)
    assert row_counts() == before


@pytest.mark.parametrize("role", [None, CampaignMembership.Role.RATER])
def test_import_is_404_for_a_user_who_does_not_administer_the_campaign(
    campaign: Campaign, role: str | None
) -> None:
    # given a plain user or one of the campaign's raters
    user = UserFactory()
    if role:
        MembershipFactory(campaign=campaign, user=user, role=role)
    before = row_counts()
    client = _client(user)

    # when they upload judgments, and upload to a campaign that does not exist
    existing = client.post(_url(campaign.slug), _upload([judgment()]), format="multipart")
    missing = client.post(_url("no-such-campaign"), _upload([judgment()]), format="multipart")

    # then both are the same 404 and nothing is written
    assert existing.status_code == missing.status_code == 404
    assert existing.json() == missing.json()
    assert row_counts() == before


def test_admin_of_another_campaign_gets_404(campaign: Campaign) -> None:
    # given the admin of a different campaign
    other_admin = MembershipFactory(role=CampaignMembership.Role.ADMIN).user

    # when they upload judgments into this one
    response = _client(other_admin).post(_url(campaign.slug), _upload([judgment()]),
                                         format="multipart")

    # then it is not found
    assert response.status_code == 404
    assert RatingValue.objects.count() == 0


@pytest.mark.parametrize("rows,expected", [
    pytest.param(
        [judgment(), judgment(criterion="clarity")],
        ["judgments.jsonl:2: field \"criterion\": unknown criterion 'clarity' (campaign has "
         "accuracy, fluency)"],
        id="unknown-criterion",
    ),
    pytest.param(
        [judgment(), judgment(rater="bob", value=6)],
        ["judgments.jsonl:2: field \"value\": 6 is outside the scale of 'fluency' (1–5)"],
        id="value-out-of-scale",
    ),
    pytest.param(
        [judgment(), judgment(rater="bob", value="good")],
        ['judgments.jsonl:2: field "value": "good" is not a number'],
        id="value-not-a-number",
    ),
    pytest.param(
        [judgment(), judgment(item="q99")],
        ["judgments.jsonl:2: field \"item_id\": unknown item 'q99'"],
        id="unknown-item",
    ),
    pytest.param(
        [judgment(), judgment(system="gpt")],
        ["judgments.jsonl:2: field \"system\": unknown system 'gpt'"],
        id="unknown-system",
    ),
    pytest.param(
        [judgment(), {"item_id": "q1", "system": "base", "criterion": "fluency", "value": 3}],
        ['judgments.jsonl:2: field "rater": missing'],
        id="rater-missing",
    ),
    pytest.param(
        [judgment(), judgment(value=5)],
        ['judgments.jsonl:2: field "value": duplicate rating: this rater already rated this '
         'output on this criterion'],
        id="duplicate-in-file",
    ),
    pytest.param(
        [judgment(), judgment(item="q2", value=0), judgment(item="q3", criterion="tone")],
        ["judgments.jsonl:2: field \"value\": 0 is outside the scale of 'fluency' (1–5)",
         "judgments.jsonl:3: field \"criterion\": unknown criterion 'tone' (campaign has "
         "accuracy, fluency)"],
        id="every-problem-listed",
    ),
])
def test_bad_judgments_return_400_with_one_line_errors_and_write_nothing(
    campaign: Campaign, campaign_admin: Any, rows: list[Any], expected: list[str]
) -> None:
    # given a judgments file with problems after a valid first row
    before = row_counts()

    # when the campaign admin uploads it
    response = _client(campaign_admin).post(_url(campaign.slug), _upload(rows),
                                            format="multipart")

    # then each problem is one line and nothing (no user, membership, rating) is written
    assert response.status_code == 400
    assert response.json() == {"errors": expected}
    assert row_counts() == before


def test_judgment_already_in_the_database_is_a_duplicate(campaign: Campaign,
                                                         staff_client: APIClient) -> None:
    # given a judgment imported earlier
    assert staff_client.post(_url(campaign.slug), _upload([judgment()]),
                             format="multipart").status_code == 201
    before = row_counts()

    # when a file repeats it after a new row
    response = staff_client.post(_url(campaign.slug),
                                 _upload([judgment(rater="bob"), judgment(value=1)]),
                                 format="multipart")

    # then the repeated line is reported and the new row is not written either
    assert response.status_code == 400
    assert response.json() == {"errors": [
        'judgments.jsonl:2: field "value": duplicate rating: this rater already rated this '
        'output on this criterion']}
    assert row_counts() == before
    assert RatingValue.objects.get().value == 4.0


def test_import_without_a_file_returns_400(campaign: Campaign, staff_client: APIClient) -> None:
    # given no file
    before = row_counts()

    # when staff posts the form
    response = staff_client.post(_url(campaign.slug), {}, format="multipart")

    # then the missing field is named and nothing is written
    assert response.status_code == 400
    assert "file" in response.json()
    assert row_counts() == before
