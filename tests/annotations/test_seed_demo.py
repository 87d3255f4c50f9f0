"""manage.py seed_demo: a demo campaign, its admin and three raters with working logins."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from annotations.models import Campaign, CampaignMembership, Item, Output, Rating, RatingValue

pytestmark = pytest.mark.django_db

LOGIN = re.compile(r"^(admin|rater) login:\s+(\S+) / (\S+)$", re.MULTILINE)


def seed() -> tuple[str, list[tuple[str, str, str]]]:
    """Run the command; return its output and the (role, username, password) it printed."""
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    return text, LOGIN.findall(text)


def _can_log_in(username: str, password: str) -> bool:
    return Client().login(username=username, password=password)


def test_seed_demo_creates_systems_with_one_baseline() -> None:
    # given an empty database
    # when the demo is seeded
    seed()

    # then the demo campaign has at least three systems, exactly one of them the baseline
    campaign = Campaign.objects.get(slug="demo")
    systems = list(campaign.systems.all())
    assert len(systems) >= 3
    baselines = [s for s in systems if s.is_baseline]
    assert len(baselines) == 1
    assert campaign.baseline == baselines[0]


def test_seed_demo_creates_items_with_input_references_and_an_output_per_system() -> None:
    # given an empty database
    # when the demo is seeded
    seed()

    # then there are at least 40 items, each with an input, references and every system's output
    campaign = Campaign.objects.get(slug="demo")
    items = list(campaign.items.filter(qc_kind=""))
    assert len(items) >= 40
    assert all(item.input.strip() for item in items)
    assert all(item.references and all(r.strip() for r in item.references) for item in items)
    systems = campaign.systems.count()
    assert Output.objects.filter(item__campaign=campaign, item__qc_kind="").count() == \
        len(items) * systems


def test_seed_demo_rubric_is_fluency_relevance_accuracy_satisfaction_on_1_to_5() -> None:
    # given an empty database
    # when the demo is seeded
    seed()

    # then the four criteria are on a 1–5 scale
    campaign = Campaign.objects.get(slug="demo")
    rubric = {c.key: (c.scale_min, c.scale_max) for c in campaign.criteria.all()}
    assert rubric == {key: (1.0, 5.0)
                      for key in ("fluency", "relevance", "accuracy", "satisfaction")}


def test_seed_demo_adds_ratings_within_the_scale() -> None:
    # given an empty database
    # when the demo is seeded
    seed()

    # then some ratings exist, all in 1–5, from the three raters
    values = RatingValue.objects.filter(criterion__campaign__slug="demo")
    assert values.count() > 0
    assert set(values.values_list("value", flat=True)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    raters = set(Rating.objects.values_list("rater__username", flat=True))
    assert raters == {"rater1", "rater2", "rater3"}


def test_seed_demo_prints_a_staff_admin_login_that_works() -> None:
    # given an empty database
    # when the demo is seeded
    _, logins = seed()

    # then the printed demo-admin password logs in, and the admin is staff
    admins = [(user, password) for role, user, password in logins if role == "admin"]
    assert len(admins) == 1
    username, password = admins[0]
    assert username == "demo-admin"
    assert get_user_model().objects.get(username=username).is_staff
    assert _can_log_in(username, password)
    assert not _can_log_in(username, password + "x")


def test_seed_demo_prints_three_rater_logins_that_work() -> None:
    # given an empty database
    # when the demo is seeded
    _, logins = seed()

    # then three raters are printed, each can log in and is a rater of the demo campaign
    raters = [(user, password) for role, user, password in logins if role == "rater"]
    assert len(raters) == 3
    campaign = Campaign.objects.get(slug="demo")
    for username, password in raters:
        assert _can_log_in(username, password), username
        assert campaign.memberships.get(user__username=username).role == \
            CampaignMembership.Role.RATER


def test_seed_demo_admin_can_open_the_demo_campaign_page() -> None:
    # given a seeded demo
    _, logins = seed()
    username, password = next((u, p) for role, u, p in logins if role == "admin")
    client = Client()
    assert client.login(username=username, password=password)

    # when the admin opens the demo campaign page
    response = client.get("/campaigns/demo/")

    # then it renders the report
    assert response.status_code == 200
    assert "ft-v2" in response.content.decode()


def test_seed_demo_twice_keeps_one_campaign_and_refreshes_the_passwords() -> None:
    # given a seeded demo
    _, first = seed()
    counts = (Campaign.objects.count(), Item.objects.count(), Output.objects.count(),
              Rating.objects.count(), RatingValue.objects.count(),
              CampaignMembership.objects.count(), get_user_model().objects.count())

    # when the command runs again
    text, second = seed()

    # then nothing is duplicated, and the newly printed passwords are the ones that work
    assert Campaign.objects.filter(slug="demo").count() == 1
    assert (Campaign.objects.count(), Item.objects.count(), Output.objects.count(),
            Rating.objects.count(), RatingValue.objects.count(),
            CampaignMembership.objects.count(), get_user_model().objects.count()) == counts
    assert "demo campaign 'demo'" in text
    assert [u for _, u, _ in second] == [u for _, u, _ in first]
    for _, username, password in second:
        assert _can_log_in(username, password), username


def test_seed_demo_adds_a_pairwise_campaign_and_quality_control_copies() -> None:
    # given an empty database
    # when the demo is seeded
    seed()

    # then the raters also rate in an active pairwise campaign over the same outputs
    pairwise = Campaign.objects.get(slug="demo-pairwise")
    assert pairwise.kind == Campaign.Kind.PAIRWISE and pairwise.status == Campaign.Status.ACTIVE
    raters = set(pairwise.memberships.filter(role=CampaignMembership.Role.RATER)
                 .values_list("user__username", flat=True))
    assert raters == {"rater1", "rater2", "rater3"}
    # and the rating campaign mixes degraded copies and repeats of real outputs into the work
    demo = Campaign.objects.get(slug="demo")
    copies = Output.objects.filter(item__campaign=demo).exclude(item__qc_kind="")
    assert {o.qc_method for o in copies} >= {"repeat"} and copies.count() == 9
    assert all(o.qc_source_id is not None for o in copies)
    assert demo.options["qc"]["degraded_rate"] > 0
