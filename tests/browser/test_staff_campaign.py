"""An admin creates a campaign through the staff UI in a real browser, uploads its outputs,
starts it and watches progress update live."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from annotations.models import Assignment, Campaign, CampaignMembership, Output
from annotations.services import assignment_claim_next, rating_submit
from annotations.services.campaigns import (
    campaign_create,
    campaign_outputs_upload,
    campaign_status_set,
)
from annotations.services.invitations import crowd_link_get_or_create
from annotations.services.spec import spec_validate
from tests.browser.conftest import login, screenshot
from tests.conftest import jsonl_bytes, output_rows

pytestmark = pytest.mark.django_db(transaction=True)


def _criterion_row(page, key: str):
    return page.locator("fieldset[data-criterion]").filter(
        has=page.locator(f'input[name$="-key"][value="{key}"]'))


def test_an_admin_creates_uploads_and_starts_a_campaign(page, tmp_path: Path) -> None:
    get_user_model().objects.create_user("admin", password="pw-admin-123", is_staff=True)
    login(page, "admin", "pw-admin-123")

    # given the new-campaign form with the default rubric
    page.goto("/staff/campaigns/new/")
    keys = page.locator("fieldset[data-criterion]:visible input[name$='-key']")
    assert [keys.nth(i).input_value() for i in range(keys.count())] == [
        "fluency", "relevance", "accuracy", "satisfaction"]
    page.fill("#id_name", "Browser campaign")
    page.fill("#id_slug", "browser-campaign")
    page.fill("#id_overlap", "2")
    page.fill("#id_instructions", "Judge each answer on its own.")
    page.fill("#id_metrics", "bleu chrf")

    # when they add a criterion and remove one with the rubric editor
    page.get_by_role("button", name="+ Add criterion").click()
    new_row = page.locator("fieldset[data-criterion]:visible").last
    new_row.locator("input[name$='-key']").fill("helpfulness")
    new_row.locator("input[name$='-label']").fill("Helpfulness")
    new_row.locator("input[name$='-max']").fill("7")
    new_row.locator("select[name$='-level']").select_option("interval")
    new_row.locator("input[name$='-labels']").fill("1: useless; 7: perfect")
    _criterion_row(page, "relevance").get_by_role("button", name="Remove").click()
    assert _criterion_row(page, "relevance").is_hidden()
    screenshot(page, "admin-new-campaign")

    with page.expect_navigation():
        page.get_by_role("button", name="Create campaign and upload outputs").click()

    # then the outputs page; a broken file is reported inline
    assert "/staff/campaigns/browser-campaign/outputs/" in page.url
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"item_id": "q1", "system": "base"}\n', encoding="utf-8")
    page.set_input_files("#id_outputs", str(bad))
    with page.expect_navigation():
        page.get_by_role("button", name="Upload").click()
    assert 'bad.jsonl:1: field "output": missing' in page.get_by_role("alert").inner_text()

    good = tmp_path / "outputs.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in output_rows(items=3)),
                    encoding="utf-8")
    page.set_input_files("#id_outputs", str(good))
    page.fill("#id_baseline", "base")
    with page.expect_navigation():
        page.get_by_role("button", name="Upload").click()
    assert page.url.endswith("/campaigns/browser-campaign/")

    # and the draft can still be edited: the form comes back filled in
    with page.expect_navigation():
        page.get_by_role("link", name="Edit settings and rubric").click()
    assert page.locator("#id_baseline option:checked").inner_text() == "base"
    assert page.locator("fieldset[data-criterion]:visible").count() == 4
    page.fill("#id_overlap", "3")
    screenshot(page, "admin-edit-campaign")
    with page.expect_navigation():
        page.get_by_role("button", name="Save changes").click()

    with page.expect_navigation():
        page.get_by_role("button", name="Start").click()
    assert page.locator("#campaign-status").inner_text() == "Active"

    campaign = Campaign.objects.get(slug="browser-campaign")
    assert (campaign.name, campaign.overlap, campaign.status, campaign.metrics) == (
        "Browser campaign", 3, "active", ["bleu", "chrf"])
    assert campaign.baseline.name == "base"
    rubric = list(campaign.criteria.values_list("key", "scale_min", "scale_max", "level",
                                                "scale_labels"))
    assert rubric == [
        ("fluency", 1, 5, "ordinal", {"1": "incomprehensible", "3": "understandable",
                                      "5": "native"}),
        ("accuracy", 1, 5, "ordinal", {"1": "wrong", "5": "fully correct"}),
        ("satisfaction", 1, 5, "ordinal", {"1": "very unhappy", "5": "delighted"}),
        ("helpfulness", 1, 7, "interval", {"1": "useless", "7": "perfect"}),
    ]
    assert Output.objects.filter(item__campaign=campaign).count() == 6


def _submit(assignment: Assignment, value: int) -> None:
    rating_submit(assignment=assignment, rater=assignment.rater, scores={"fluency": value},
                  satisfaction=None, comment="", key=f"k{assignment.pk}", choice=None,
                  time_spent_ms=3000)


def _held(user) -> list[Assignment]:
    return list(Assignment.objects.filter(rater=user, status=Assignment.Status.ASSIGNED)
                .order_by("position"))


def test_progress_refreshes_itself_while_raters_work(page) -> None:
    admin = get_user_model().objects.create_user("admin", password="pw-admin-123",
                                                 is_staff=True)
    spec = spec_validate({"name": "Live", "slug": "live", "overlap": 2, "criteria": [
        {"key": "fluency", "label": "Fluency", "min": 1, "max": 5}]}, "spec")
    campaign = campaign_create(spec=spec, created_by=admin)
    rows = output_rows(items=4, systems=("base", "ft-v2"))
    campaign_outputs_upload(campaign=campaign, name="o.jsonl", baseline="base",
                            stream=io.BytesIO(jsonl_bytes(rows)))
    campaign_status_set(campaign=campaign, status="active", by=admin)
    link = crowd_link_get_or_create(campaign=campaign, by=admin)
    alice, bob = (get_user_model().objects.create_user(name) for name in ("alice", "bob"))
    for user in (alice, bob):
        CampaignMembership.objects.create(campaign=campaign, user=user)
        assert assignment_claim_next(campaign=campaign, rater=user) is not None  # a 2-output block
    _submit(_held(alice)[0], 4)

    login(page, "admin", "pw-admin-123")
    page.goto("/campaigns/live/")
    assert page.locator("#progress [data-field=done]").inner_text() == "1"
    stamp = page.locator("#progress").get_attribute("data-refreshed")

    # when raters submit more while the page is open
    _submit(_held(alice)[0], 3)
    _submit(_held(bob)[0], 2)

    # then the page shows it without a reload (it polls every 5 s)
    page.wait_for_function(
        "s => document.querySelector('#progress').getAttribute('data-refreshed') !== s",
        arg=stamp, timeout=15_000)
    assert page.locator("#progress [data-field=done]").inner_text() == "3"
    cells = [[c.inner_text() for c in row.locator("th, td").all()[:4]]
             for row in page.locator("#progress-raters tbody tr").all()]
    assert cells == [["alice", "2", "0", "8"], ["bob", "1", "1", "8"]]
    systems = [[c.inner_text() for c in row.locator("th, td").all()[:4]]
               for row in page.locator("#progress-systems tbody tr").all()]
    assert [s[0] for s in systems] == ["base", "ft-v2"]
    assert sum(int(s[2]) for s in systems) == 3 and sum(int(s[3]) for s in systems) == 1
    assert page.locator(f"input#crowd-link[value*='/join/{link.token}/']").count() == 1
    screenshot(page, "admin-progress")

    # and reset asks for confirmation before releasing bob's work
    page.locator("#progress-raters tbody tr").nth(1).get_by_role("link", name="Reset").click()
    assert page.get_by_role("heading", name="Reset bob?").is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, release their work").click()
    assert not _held(bob)


def test_the_rubric_editor_works_without_javascript(browser, live_server) -> None:
    get_user_model().objects.create_user("admin", password="pw-admin-123", is_staff=True)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        login(page, "admin", "pw-admin-123")
        page.goto("/staff/campaigns/new/")
        # given four default rows and two spare rows, with "Remove" checkboxes
        assert page.locator("fieldset[data-criterion]:visible").count() == 6
        assert page.get_by_role("button", name="+ Add criterion").is_hidden()
        page.fill("#id_name", "No script")
        page.fill("#id_slug", "no-script")
        _criterion_row(page, "accuracy").get_by_label("Remove").check()
        spare = page.locator("fieldset[data-criterion]").nth(4)
        spare.locator("input[name$='-key']").fill("safety")
        spare.locator("input[name$='-max']").fill("3")

        # when a bad scale is sent first, the error shows inline and the choices stay
        _criterion_row(page, "fluency").locator("input[name$='-min']").fill("6")
        with page.expect_navigation():
            page.get_by_role("button", name="Create campaign and upload outputs").click()
        assert "must be greater than min" in page.locator("#id_criteria-0-max_error").inner_text()
        assert not Campaign.objects.exists()
        screenshot(page, "admin-new-campaign-nojs-errors")
        _criterion_row(page, "fluency").locator("input[name$='-min']").fill("1")
        with page.expect_navigation():
            page.get_by_role("button", name="Create campaign and upload outputs").click()

        # then the campaign has the rubric chosen without any script
        campaign = Campaign.objects.get(slug="no-script")
        assert list(campaign.criteria.values_list("key", "scale_max")) == [
            ("fluency", 5), ("relevance", 5), ("satisfaction", 5), ("safety", 3)]
    finally:
        context.close()
