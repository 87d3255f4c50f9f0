"""Server-rendered pages: home, campaign overview, staff bundle import, judgments upload."""

from __future__ import annotations

import html
import io
import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotations.models import (
    Campaign,
    CampaignMembership,
    RatingValue,
)
from annotations.services import campaign_import, ratings_import
from tests.annotations.factories import MembershipFactory, UserFactory
from tests.conftest import SPEC, jsonl_bytes, output_rows
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db





def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def judgments() -> list[dict[str, Any]]:
    return [{"item_id": f"q{i}", "system": system, "rater": rater, "criterion": criterion,
             "value": 1 + (i + len(rater) + (system == "ft") * 2) % 5}
            for i in range(1, 5) for system in ("base", "ft") for rater in ("alice", "bob")
            for criterion in ("fluency", "accuracy")]


@pytest.fixture
def campaign() -> Campaign:
    """The conftest bundle imported, with two raters' judgments."""
    result = campaign_import(
        spec_stream=io.BytesIO(json.dumps(SPEC).encode()), spec_name="spec.json",
        outputs_stream=io.BytesIO(jsonl_bytes(output_rows())), outputs_name="outputs.jsonl",
    )
    ratings_import(campaign=result.campaign, stream=io.BytesIO(jsonl_bytes(judgments())),
                   name="judgments.jsonl")
    return result.campaign


@pytest.fixture
def campaign_admin(campaign: Campaign) -> Any:
    return MembershipFactory(campaign=campaign, role=CampaignMembership.Role.ADMIN).user


# --- home ---------------------------------------------------------------------------------


def test_home_sends_anonymous_visitors_to_login() -> None:
    # given no session
    # when the home page is opened
    response = Client().get(reverse("annotations:home"))

    # then it redirects to the login page
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_home_lists_the_campaigns_a_user_administers(campaign: Campaign,
                                                     campaign_admin: Any) -> None:
    # given the campaign admin
    # when they open the home page
    response = _login(campaign_admin).get(reverse("annotations:home"))

    # then their campaign is linked
    assert response.status_code == 200
    assert reverse("annotations:campaign-detail", args=[campaign.slug]) in response.content.decode()
    assert campaign.name in response.content.decode()


def test_home_shows_a_rater_where_they_rate_but_no_admin_link(campaign: Campaign) -> None:
    # given a rater of the campaign
    rater = MembershipFactory(campaign=campaign, role=CampaignMembership.Role.RATER).user

    # when they open the home page
    response = _login(rater).get(reverse("annotations:home"))

    # then the campaign is named under "You rate in" without a link to its overview
    page = response.content.decode()
    assert response.status_code == 200
    assert "You rate in" in page and campaign.name in page
    assert reverse("annotations:campaign-detail", args=[campaign.slug]) not in page


def test_home_offers_staff_the_import_page_when_there_is_no_campaign(staff_user: Any) -> None:
    # given staff and no campaign
    # when they open the home page
    response = _login(staff_user).get(reverse("annotations:home"))

    # then it points to the import page
    assert response.status_code == 200
    assert reverse("annotations:campaign-import") in response.content.decode()


# --- campaign overview --------------------------------------------------------------------


def test_campaign_page_shows_a_row_per_system_and_download_links(
    campaign: Campaign, campaign_admin: Any
) -> None:
    # given an imported and rated campaign, and its admin
    # when they open its page
    response = _login(campaign_admin).get(
        reverse("annotations:campaign-detail", args=[campaign.slug]))

    # then each system has a row with its score cells, and the three downloads are linked
    assert response.status_code == 200
    page = response.content.decode()
    rows = re.findall(r'<tr><th scope="row">(\w+)', page)
    assert rows[:2] == ["base", "ft"]
    assert [s["name"] for s in response.context["report"]["systems"]] == ["base", "ft"]
    export = reverse("metrics-api:export", args=[campaign.slug])
    for fmt in ("json", "csv", "xlsx"):
        assert f'href="{export}?format={fmt}"' in page


@pytest.mark.parametrize("fmt", [
    "json",
    "csv",
    "xlsx",
])
def test_campaign_page_download_links_work_for_its_admin(
    campaign: Campaign, campaign_admin: Any, fmt: str
) -> None:
    # given the campaign admin's session
    client = _login(campaign_admin)

    # when they follow a download link from the page
    response = client.get(f"{reverse('metrics-api:export', args=[campaign.slug])}?format={fmt}")

    # then the file downloads
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]


def test_campaign_page_is_404_for_a_rater_who_is_not_its_admin(campaign: Campaign) -> None:
    # given a rater of the campaign
    rater = MembershipFactory(campaign=campaign, role=CampaignMembership.Role.RATER).user

    # when they open the campaign page
    response = _login(rater).get(reverse("annotations:campaign-detail", args=[campaign.slug]))

    # then it is not found
    assert response.status_code == 404


def test_campaign_page_sends_anonymous_visitors_to_login(campaign: Campaign) -> None:
    # given no session
    # when the campaign page is opened
    response = Client().get(reverse("annotations:campaign-detail", args=[campaign.slug]))

    # then it redirects to login
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- staff import page --------------------------------------------------------------------


def _bundle(rows: list[Any]) -> dict[str, Any]:
    return {"spec": SimpleUploadedFile("spec.json", json.dumps(dict(SPEC, slug="page")).encode()),
            "outputs": SimpleUploadedFile("outputs.jsonl", jsonl_bytes(rows))}


def test_import_page_renders_the_form_for_staff(staff_user: Any) -> None:
    # given staff
    # when they open the import page
    response = _login(staff_user).get(reverse("annotations:campaign-import"))

    # then the upload form is shown
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="spec"' in page and 'name="outputs"' in page


def test_valid_upload_redirects_to_the_new_campaign_page(staff_user: Any) -> None:
    # given staff and a valid bundle
    client = _login(staff_user)

    # when they upload it
    response = client.post(reverse("annotations:campaign-import"), _bundle(output_rows()))

    # then the campaign exists and they land on its page
    assert response.status_code == 302
    assert response["Location"] == reverse("annotations:campaign-detail", args=["page"])
    assert Campaign.objects.get(slug="page").items.count() == 4
    follow = client.get(response["Location"])
    assert follow.status_code == 200
    assert "Imported 8 outputs of 2 systems on 4 items." in follow.content.decode()


def test_invalid_upload_shows_the_one_line_error_inline_and_writes_nothing(
    staff_user: Any
) -> None:
    # given a bundle whose third outputs row has no "system"
    rows = [*output_rows(items=1), {"item_id": "q2", "input": "question 2?", "output": "x"}]
    before = row_counts()

    # when staff uploads it
    response = _login(staff_user).post(reverse("annotations:campaign-import"), _bundle(rows))

    # then the page is shown again with the problem as one line, and nothing is written
    assert response.status_code == 200
    expected = 'outputs.jsonl:3: field "system": missing'
    assert response.context["problems"] == [expected]
    page = html.unescape(response.content.decode())
    assert f"<li><code>{expected}</code></li>" in page
    assert row_counts() == before


@pytest.mark.parametrize("method", ["get", "post"])
def test_import_page_sends_non_staff_to_login_and_writes_nothing(method: str) -> None:
    # given a logged-in user who is not staff
    client = _login(UserFactory())
    before = row_counts()

    # when they open or post to the import page
    url = reverse("annotations:campaign-import")
    response = (client.get(url) if method == "get"
                else client.post(url, _bundle(output_rows())))

    # then they are redirected to log in and nothing is written
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert row_counts() == before


def test_import_page_sends_anonymous_visitors_to_login() -> None:
    # given no session
    # when the import page is opened
    response = Client().get(reverse("annotations:campaign-import"))

    # then it redirects to a login page
    assert response.status_code == 302
    assert "login" in response["Location"]


# --- judgments upload from the campaign page ----------------------------------------------


def test_admin_uploads_judgments_from_the_campaign_page(campaign: Campaign,
                                                       campaign_admin: Any) -> None:
    # given a new rater's judgment
    upload = SimpleUploadedFile("more.jsonl", jsonl_bytes([
        {"item_id": "q1", "system": "ft", "rater": "carol", "criterion": "fluency", "value": 5}]))
    before = RatingValue.objects.count()

    # when the admin uploads it
    client = _login(campaign_admin)
    response = client.post(reverse("annotations:ratings-import", args=[campaign.slug]),
                           {"file": upload})

    # then it is stored and they are back on the campaign page with a confirmation
    assert response.status_code == 302
    assert response["Location"] == reverse("annotations:campaign-detail", args=[campaign.slug])
    assert RatingValue.objects.count() == before + 1
    assert "Imported 1 rating values." in client.get(response["Location"]).content.decode()


def test_bad_judgments_upload_reports_the_problem_and_writes_nothing(
    campaign: Campaign, campaign_admin: Any
) -> None:
    # given a judgment outside the scale
    upload = SimpleUploadedFile("more.jsonl", jsonl_bytes([
        {"item_id": "q1", "system": "ft", "rater": "carol", "criterion": "fluency", "value": 9}]))
    before = row_counts()

    # when the admin uploads it
    client = _login(campaign_admin)
    response = client.post(reverse("annotations:ratings-import", args=[campaign.slug]),
                           {"file": upload}, follow=True)

    # then the one-line problem is shown and nothing is written
    assert response.status_code == 200
    assert ("more.jsonl:1: field \"value\": 9 is outside the scale of 'fluency' (1–5)"
            in html.unescape(response.content.decode()))
    assert row_counts() == before


def test_judgments_upload_is_404_for_a_rater(campaign: Campaign) -> None:
    # given a rater who is not admin
    rater = MembershipFactory(campaign=campaign, role=CampaignMembership.Role.RATER).user
    before = row_counts()

    # when they post judgments to the campaign
    response = _login(rater).post(
        reverse("annotations:ratings-import", args=[campaign.slug]),
        {"file": SimpleUploadedFile("x.jsonl", jsonl_bytes([judgments()[0]]))})

    # then it is not found and nothing is written
    assert response.status_code == 404
    assert row_counts() == before
