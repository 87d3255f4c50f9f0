"""Staff pages: campaign form with rubric editor, outputs upload, status, invitations and
crowd links, rater reset/reassign/exclude, QC copies; and who may open them."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Criterion,
    Invitation,
    Item,
    Output,
)
from annotations.services import campaign_import
from annotations.services.invitations import crowd_link_get_or_create, invitation_create
from tests.annotations.factories import MembershipFactory, UserFactory
from tests.conftest import SPEC, jsonl_bytes, output_rows
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff() -> Any:
    return UserFactory(username="boss", is_staff=True)


@pytest.fixture
def campaign() -> Campaign:
    """The conftest bundle, imported as an active campaign."""
    result = campaign_import(
        spec_stream=io.BytesIO(json.dumps(SPEC).encode()), spec_name="spec.json",
        outputs_stream=io.BytesIO(jsonl_bytes(output_rows())), outputs_name="outputs.jsonl")
    Campaign.objects.filter(pk=result.campaign.pk).update(status=Campaign.Status.ACTIVE)
    result.campaign.refresh_from_db()
    return result.campaign


@pytest.fixture
def rater(campaign: Campaign) -> Any:
    return MembershipFactory(campaign=campaign, user__username="rita").user


def _form_data(**changes: Any) -> dict[str, Any]:
    """A complete new-campaign POST: settings, QC and two criteria rows plus one spare."""
    data = {
        "name": "Support bot", "slug": "support-bot", "kind": "rating", "overlap": "2",
        "instructions": "Rate each answer.", "lease_minutes": "20", "quota": "",
        "show_references": "on", "metrics": "bleu, chrf rougeL",
        "control_rate": "0.1", "degraded_rate": "0.05", "repeat_rate": "0",
        "min_pass_rate": "0.8", "min_median_seconds": "2", "max_repeat_diff": "1",
        "degraded_alpha": "0.05", "min_qc_items": "3",
        "criteria-TOTAL_FORMS": "3", "criteria-INITIAL_FORMS": "2",
        "criteria-MIN_NUM_FORMS": "0", "criteria-MAX_NUM_FORMS": "50",
        "criteria-0-key": "fluency", "criteria-0-label": "Fluency", "criteria-0-min": "1",
        "criteria-0-max": "5", "criteria-0-labels": "1: bad; 5: native",
        "criteria-0-level": "ordinal", "criteria-0-required": "on",
        "criteria-1-key": "accuracy", "criteria-1-label": "Accuracy", "criteria-1-min": "0",
        "criteria-1-max": "10", "criteria-1-labels": "", "criteria-1-level": "interval",
        "criteria-2-key": "", "criteria-2-label": "", "criteria-2-min": "1",
        "criteria-2-max": "5", "criteria-2-labels": "", "criteria-2-level": "ordinal",
        "criteria-2-required": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- who may open the staff pages ---------------------------------------------------------


def _campaign_urls(slug: str) -> list[tuple[str, str]]:
    return [
        ("get", reverse("annotations:staff-campaign-edit", args=[slug])),
        ("get", reverse("annotations:staff-campaign-outputs", args=[slug])),
        ("post", reverse("annotations:staff-campaign-status", args=[slug])),
        ("post", reverse("annotations:staff-invitation-create", args=[slug])),
        ("post", reverse("annotations:staff-crowd-link", args=[slug])),
        ("get", reverse("annotations:staff-rater-reset", args=[slug, "rita"])),
        ("get", reverse("annotations:staff-rater-reassign", args=[slug, "rita"])),
        ("post", reverse("annotations:staff-rater-exclude", args=[slug, "rita"])),
        ("post", reverse("annotations:staff-qc-create", args=[slug])),
    ]


def test_anonymous_visitors_are_sent_to_login(campaign: Campaign) -> None:
    urls = [("get", reverse("annotations:staff-campaign-new")), *_campaign_urls(campaign.slug)]
    for method, url in urls:
        response = getattr(Client(), method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_a_rater_gets_403_for_new_and_404_for_campaign_pages(campaign: Campaign,
                                                             rater: Any) -> None:
    client = _login(rater)
    before = row_counts()

    assert client.get(reverse("annotations:staff-campaign-new")).status_code == 403
    assert client.post(reverse("annotations:staff-campaign-new"),
                       _form_data()).status_code == 403
    for method, url in _campaign_urls(campaign.slug):
        assert getattr(client, method)(url, {"status": "closed"}).status_code == 404, url
    assert row_counts() == before
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.ACTIVE
    assert not Invitation.objects.exists()


def test_an_admin_of_another_campaign_gets_404(campaign: Campaign) -> None:
    other = MembershipFactory(role=CampaignMembership.Role.ADMIN).user
    client = _login(other)
    for method, url in _campaign_urls(campaign.slug):
        assert getattr(client, method)(url).status_code == 404, url


def test_a_campaign_admin_member_may_run_their_campaign(campaign: Campaign) -> None:
    admin = MembershipFactory(campaign=campaign, role=CampaignMembership.Role.ADMIN).user

    response = _login(admin).post(reverse("annotations:staff-campaign-status",
                                          args=[campaign.slug]), {"status": "paused"})

    assert response.status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.PAUSED


# --- new campaign ---------------------------------------------------------------------------


def test_the_new_form_starts_with_the_default_rubric(staff: Any) -> None:
    response = _login(staff).get(reverse("annotations:staff-campaign-new"))

    assert response.status_code == 200
    rows = response.context["criteria"].initial
    assert [r["key"] for r in rows] == ["fluency", "relevance", "accuracy", "satisfaction"]
    assert all((r["min"], r["max"], r["level"]) == (1, 5, "ordinal") for r in rows)
    page = response.content.decode()
    assert 'id="criterion-template"' in page and "criteria-__prefix__-key" in page
    assert 'name="criteria-5-key"' in page  # two spare rows for browsers without JS
    assert 'name="criteria-6-key"' not in page


def test_creating_a_campaign_stores_settings_and_rubric(staff: Any) -> None:
    response = _login(staff).post(reverse("annotations:staff-campaign-new"), _form_data())

    campaign = Campaign.objects.get(slug="support-bot")
    assert response.status_code == 302
    assert response["Location"] == reverse("annotations:staff-campaign-outputs",
                                           args=["support-bot"])
    assert (campaign.name, campaign.kind, campaign.overlap, campaign.status) == (
        "Support bot", "rating", 2, "draft")
    assert campaign.metrics == ["bleu", "chrf", "rougeL"]
    assert campaign.options["lease_minutes"] == 20
    assert campaign.options["show_references"] is True
    assert "quota" not in campaign.options
    assert campaign.options["qc"] == {
        "control_rate": 0.1, "degraded_rate": 0.05, "repeat_rate": 0.0, "min_pass_rate": 0.8,
        "min_median_seconds": 2.0, "max_repeat_diff": 1.0, "degraded_alpha": 0.05,
        "min_qc_items": 3}
    rubric = list(campaign.criteria.values_list("key", "label", "scale_min", "scale_max",
                                                "scale_labels", "level", "required"))
    assert rubric == [("fluency", "Fluency", 1, 5, {"1": "bad", "5": "native"}, "ordinal", True),
                      ("accuracy", "Accuracy", 0, 10, {}, "interval", False)]
    assert CampaignMembership.objects.get(campaign=campaign).user == staff


def test_a_removed_row_is_left_out_and_a_filled_spare_row_is_added(staff: Any) -> None:
    data = _form_data(**{"criteria-0-DELETE": "on", "criteria-2-key": "satisfaction",
                         "criteria-2-label": "User satisfaction"})

    _login(staff).post(reverse("annotations:staff-campaign-new"), data)

    keys = list(Criterion.objects.filter(campaign__slug="support-bot")
                .values_list("key", flat=True))
    assert keys == ["accuracy", "satisfaction"]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"criteria-0-min": "5", "criteria-0-max": "5"}, "criteria-0-max",
     "must be greater than min (5 ≤ 5)"),
    ({"criteria-1-key": "fluency"}, "criteria-1-key", "duplicate criterion &#x27;fluency&#x27;"),
    ({"criteria-0-labels": "one is bad"}, "criteria-0-labels", "value: label pairs"),
    ({"criteria-0-labels": "9: too high"}, "criteria-0-labels", "9 is outside the scale"),
    ({"criteria-0-key": "not a slug!"}, "criteria-0-key", "Enter a valid"),
    ({"overlap": "0"}, "overlap", "greater than or equal to 1"),
    ({"control_rate": "1.5"}, "control_rate", "less than or equal to 1"),
    ({"slug": "new"}, "slug", "reserved"),
])
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_created(
        staff: Any, changes: dict[str, str], field: str, message: str) -> None:
    before = row_counts()

    response = _login(staff).post(reverse("annotations:staff-campaign-new"),
                                  _form_data(**changes))

    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="id_{field}_error">' in page
    error_html = page.split(f'id="id_{field}_error">', 1)[1].split("</p>", 1)[0]
    assert message in error_html
    assert row_counts() == before


def test_no_criteria_is_refused(staff: Any) -> None:
    data = _form_data(**{"criteria-0-DELETE": "on", "criteria-1-DELETE": "on"})

    response = _login(staff).post(reverse("annotations:staff-campaign-new"), data)

    assert response.status_code == 200
    assert "add at least one criterion" in response.content.decode()
    assert not Campaign.objects.exists()


def test_an_unknown_metric_is_reported_and_nothing_is_created(staff: Any) -> None:
    response = _login(staff).post(reverse("annotations:staff-campaign-new"),
                                  _form_data(metrics="bleu blue"))

    assert response.status_code == 200
    assert 'unknown metric &quot;blue&quot;' in response.content.decode()
    assert not Campaign.objects.exists()


def test_a_taken_slug_is_refused(staff: Any, campaign: Campaign) -> None:
    response = _login(staff).post(reverse("annotations:staff-campaign-new"),
                                  _form_data(slug=campaign.slug))
    assert "already exists" in response.content.decode()
    assert Campaign.objects.count() == 1


# --- edit and upload (draft) ----------------------------------------------------------------


@pytest.fixture
def draft(staff: Any) -> Campaign:
    _login(staff).post(reverse("annotations:staff-campaign-new"), _form_data())
    return Campaign.objects.get(slug="support-bot")


def test_a_draft_is_edited_with_its_rubric_prefilled(staff: Any, draft: Campaign) -> None:
    url = reverse("annotations:staff-campaign-edit", args=[draft.slug])
    client = _login(staff)
    page = client.get(url)
    assert [(r["key"], r["min"], r["max"]) for r in page.context["criteria"].initial] == [
        ("fluency", 1, 5), ("accuracy", 0, 10)]
    assert 'name="criteria-0-max" value="5"' in page.content.decode()
    assert page.context["form"].initial["lease_minutes"] == 20

    data = _form_data(name="Support bot v2", quota="40", **{
        "criteria-1-DELETE": "on", "criteria-2-key": "relevance"})
    data.pop("slug")
    response = client.post(url, data)

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.name == "Support bot v2" and draft.options["quota"] == 40
    assert list(draft.criteria.values_list("key", flat=True)) == ["fluency", "relevance"]


def test_a_started_campaign_is_not_edited(staff: Any, campaign: Campaign) -> None:
    response = _login(staff).get(reverse("annotations:staff-campaign-edit",
                                         args=[campaign.slug]))
    assert response.status_code == 302
    assert response["Location"] == reverse("annotations:campaign-detail", args=[campaign.slug])


def _upload(rows: list[Any], name: str = "outputs.jsonl", **extra: str) -> dict[str, Any]:
    return {"outputs": SimpleUploadedFile(name, jsonl_bytes(rows)), **extra}


def test_uploading_outputs_then_starting(staff: Any, draft: Campaign) -> None:
    client = _login(staff)
    response = client.post(reverse("annotations:staff-campaign-outputs", args=[draft.slug]),
                           _upload(output_rows(items=3), baseline="base"))
    assert response.status_code == 302
    assert Output.objects.filter(item__campaign=draft).count() == 6
    draft.refresh_from_db()
    assert draft.baseline.name == "base"

    client.post(reverse("annotations:staff-campaign-status", args=[draft.slug]),
                {"status": "active"})

    draft.refresh_from_db()
    assert draft.status == Campaign.Status.ACTIVE


def test_upload_problems_are_listed_inline_and_nothing_is_written(staff: Any,
                                                                 draft: Campaign) -> None:
    rows = [*output_rows(items=1), {"item_id": "q9", "system": "x", "output": "<b>", "oops": 1}]
    before = row_counts()

    response = _login(staff).post(
        reverse("annotations:staff-campaign-outputs", args=[draft.slug]), _upload(rows))

    assert response.status_code == 200
    assert ('outputs.jsonl:3: field &quot;oops&quot;: unknown field'
            in response.content.decode())
    assert row_counts() == before


def test_starting_without_outputs_says_why(staff: Any, draft: Campaign) -> None:
    response = _login(staff).post(
        reverse("annotations:staff-campaign-status", args=[draft.slug]), {"status": "active"},
        follow=True)

    assert "Not changed: upload the outputs before starting." in response.content.decode()
    assert Campaign.objects.get(pk=draft.pk).status == Campaign.Status.DRAFT


# --- the campaign page ---------------------------------------------------------------------


def test_the_campaign_page_shows_buttons_progress_and_qc(staff: Any, campaign: Campaign,
                                                         rater: Any) -> None:
    now = timezone.now()
    outputs = list(Output.objects.filter(item__campaign=campaign).order_by("pk"))
    Assignment.objects.create(campaign=campaign, rater=rater, output=outputs[0],
                              status=Assignment.Status.SUBMITTED, submitted_at=now)
    Assignment.objects.create(campaign=campaign, rater=rater, output=outputs[1],
                              lease_expires_at=now + timedelta(minutes=5))

    response = _login(staff).get(reverse("annotations:campaign-detail", args=[campaign.slug]))

    assert response.status_code == 200
    assert [t[0] for t in response.context["transitions"]] == ["paused", "closed"]
    progress = response.context["progress"]
    assert [(r.rater, r.done, r.assigned) for r in progress.raters] == [("rita", 1, 1)]
    page = response.content.decode()
    assert reverse("annotations:staff-rater-reset", args=[campaign.slug, "rita"]) in page
    assert reverse("annotations-api:campaign-progress", args=[campaign.slug]) in page
    assert 'id="qc-table"' in page and "staff/staff.js" in page


def test_system_names_are_escaped_on_the_campaign_page(staff: Any) -> None:
    rows = [{"item_id": "q1", "system": "<script>alert(1)</script>", "output": "x"}]
    result = campaign_import(
        spec_stream=io.BytesIO(json.dumps({**SPEC, "baseline": None}).encode()),
        spec_name="s.json", outputs_stream=io.BytesIO(jsonl_bytes(rows)),
        outputs_name="o.jsonl")

    page = _login(staff).get(reverse("annotations:campaign-detail",
                                     args=[result.campaign.slug])).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- invitations -----------------------------------------------------------------------------


def test_staff_create_and_revoke_personal_invitations(staff: Any, campaign: Campaign) -> None:
    client = _login(staff)
    client.post(reverse("annotations:staff-invitation-create", args=[campaign.slug]),
                {"email": "r@example.org"})
    invitation = Invitation.objects.get(campaign=campaign)
    page = client.get(reverse("annotations:campaign-detail", args=[campaign.slug]))
    assert reverse("annotations:invite-accept", args=[invitation.token]) in page.content.decode()

    client.post(reverse("annotations:staff-invitation-revoke",
                        args=[campaign.slug, invitation.pk]))

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_a_new_rater_signs_up_on_the_invitation_page(campaign: Campaign, staff: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=staff)
    url = reverse("annotations:invite-accept", args=[invitation.token])
    client = Client()
    assert client.get(url).status_code == 200

    response = client.post(url, {"username": "newrater", "password1": "Plenty-of-chars-42",
                                 "password2": "Plenty-of-chars-42"})

    assert response.status_code == 302
    assert response["Location"] == reverse("annotations:rater-campaign", args=[campaign.slug])
    membership = CampaignMembership.objects.get(user__username="newrater")
    assert membership.campaign == campaign and membership.role == "rater"
    assert client.get(reverse("annotations:home")).context["user"].username == "newrater"


def test_signup_errors_show_inline_and_create_nobody(campaign: Campaign, staff: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=staff)
    before = row_counts()

    response = Client().post(reverse("annotations:invite-accept", args=[invitation.token]),
                             {"username": "boss", "password1": "short", "password2": "short"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "this username is taken" in page
    assert row_counts() == before


def test_a_logged_in_user_joins_with_one_click(campaign: Campaign, staff: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=staff)
    user = UserFactory(username="existing")
    client = _login(user)

    response = client.post(reverse("annotations:invite-accept", args=[invitation.token]))

    assert response.status_code == 302
    assert CampaignMembership.objects.filter(campaign=campaign, user=user).exists()


def test_a_used_or_unknown_invitation_is_refused(campaign: Campaign, staff: Any) -> None:
    invitation = invitation_create(campaign=campaign, by=staff)
    _login(UserFactory()).post(reverse("annotations:invite-accept", args=[invitation.token]))
    late = _login(UserFactory(username="late"))

    used = late.get(reverse("annotations:invite-accept", args=[invitation.token]))
    posted = late.post(reverse("annotations:invite-accept", args=[invitation.token]))

    assert used.status_code == 410 and "already been used" in used.content.decode()
    assert posted.status_code == 400
    assert not CampaignMembership.objects.filter(user__username="late").exists()
    assert Client().get(reverse("annotations:invite-accept", args=["nope"])).status_code == 404


def test_the_crowd_link_logs_the_participant_in_with_a_code(campaign: Campaign,
                                                           staff: Any) -> None:
    _login(staff).post(reverse("annotations:staff-crowd-link", args=[campaign.slug]))
    link = Invitation.objects.get(campaign=campaign, reusable=True)
    client = Client()

    response = client.get(reverse("annotations:crowd-join", args=[link.token]),
                          {"PROLIFIC_PID": "5f8a9b0c1d2e3f4a5b6c7d8e", "STUDY_ID": "s1"})

    assert response.status_code == 302
    assert response["Location"] == reverse("annotations:rater-campaign", args=[campaign.slug])
    membership = CampaignMembership.objects.get(external_id="5f8a9b0c1d2e3f4a5b6c7d8e")
    assert len(membership.completion_code) == 16
    assert client.get(reverse("annotations:home")).context["user"] == membership.user
    page = _login(staff).get(reverse("annotations:campaign-detail", args=[campaign.slug]))
    assert page.context["participants"]["count"] == 1
    assert membership.completion_code in page.content.decode()


def test_the_crowd_link_needs_a_participant_id(campaign: Campaign, staff: Any) -> None:
    link = crowd_link_get_or_create(campaign=campaign, by=staff)
    before = row_counts()

    response = Client().get(reverse("annotations:crowd-join", args=[link.token]))

    assert response.status_code == 400
    assert "needs a participant id" in response.content.decode()
    assert row_counts() == before


# --- rater actions and QC ------------------------------------------------------------------


def _hold(campaign: Campaign, user: Any, count: int) -> list[Assignment]:
    now = timezone.now()
    outputs = Output.objects.filter(item__campaign=campaign).order_by("pk")[:count]
    return [Assignment.objects.create(campaign=campaign, rater=user, output=o, position=i,
                                      lease_expires_at=now + timedelta(minutes=30))
            for i, o in enumerate(outputs)]


def test_reset_asks_first_then_releases_the_work(staff: Any, campaign: Campaign,
                                                 rater: Any) -> None:
    _hold(campaign, rater, 2)
    url = reverse("annotations:staff-rater-reset", args=[campaign.slug, "rita"])
    client = _login(staff)

    confirm = client.get(url)
    assert confirm.status_code == 200 and "Reset rita?" in confirm.content.decode()
    assert Assignment.objects.filter(status=Assignment.Status.ASSIGNED).count() == 2

    client.post(url)

    assert not Assignment.objects.filter(status=Assignment.Status.ASSIGNED).exists()


def test_reassign_moves_the_work_to_the_chosen_rater(staff: Any, campaign: Campaign,
                                                     rater: Any) -> None:
    other = MembershipFactory(campaign=campaign, user__username="otto").user
    _hold(campaign, rater, 2)
    url = reverse("annotations:staff-rater-reassign", args=[campaign.slug, "rita"])
    client = _login(staff)
    assert client.get(url).context["form"].fields["to_rater"].choices == [("otto", "otto")]

    client.post(url, {"to_rater": "otto"})

    held = Assignment.objects.filter(status=Assignment.Status.ASSIGNED)
    assert sorted(held.values_list("rater__username", flat=True)) == ["otto", "otto"]
    assert other.pk in set(held.values_list("rater_id", flat=True))


def test_reassign_to_someone_outside_the_campaign_is_refused(staff: Any, campaign: Campaign,
                                                             rater: Any) -> None:
    UserFactory(username="stranger")
    MembershipFactory(campaign=campaign, user__username="otto")
    _hold(campaign, rater, 1)

    response = _login(staff).post(
        reverse("annotations:staff-rater-reassign", args=[campaign.slug, "rita"]),
        {"to_rater": "stranger"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Assignment.objects.get().rater == rater


def test_exclude_and_include_a_rater(staff: Any, campaign: Campaign, rater: Any) -> None:
    url = reverse("annotations:staff-rater-exclude", args=[campaign.slug, "rita"])
    client = _login(staff)

    client.post(url, {"excluded": "on"})
    assert CampaignMembership.objects.get(user=rater).excluded is True
    client.post(url)
    assert CampaignMembership.objects.get(user=rater).excluded is False


def test_qc_copies_are_created_from_the_form(staff: Any, campaign: Campaign) -> None:
    client = _login(staff)

    client.post(reverse("annotations:staff-qc-create", args=[campaign.slug]),
                {"what": "repeats", "count": "3", "seed": "7"})

    assert Item.objects.filter(campaign=campaign, qc_kind="repeat").count() == 3
    response = client.post(reverse("annotations:staff-qc-create", args=[campaign.slug]),
                           {"what": "repeats", "count": "500", "seed": "7"}, follow=True)
    assert "Not created: only" in response.content.decode()
    assert Item.objects.filter(campaign=campaign, qc_kind="repeat").count() == 3
