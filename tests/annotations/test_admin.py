"""Django admin: every model of annotations and metrics opens; search and filters work."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Invitation,
    Rating,
    RatingRevision,
)
from metrics.models import MetricRun, MetricValue
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    MembershipFactory,
    OutputFactory,
    RatingFactory,
    RatingValueFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

APPS = ("annotations", "metrics")
REGISTERED = sorted(
    (model for model in admin.site._registry if model._meta.app_label in APPS),
    key=lambda m: m._meta.label,
)


@pytest.fixture
def superuser_client() -> Client:
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def data() -> dict[str, Any]:
    """One row of every registered model, linked the way real data is."""
    campaign = CampaignFactory(name="Alpha support bot", slug="alpha", status="active")
    criterion = CriterionFactory(campaign=campaign, key="fluency")
    output = OutputFactory(item__campaign=campaign, item__external_id="q-alpha",
                           system__name="ft")
    rater = UserFactory(username="alice")
    membership = MembershipFactory(campaign=campaign, user=rater)
    assignment = Assignment.objects.create(campaign=campaign, rater=rater, output=output)
    rating = RatingFactory(rater=rater, output=output, assignment=assignment,
                           source=Rating.Source.FORM, comment="clear answer")
    value = RatingValueFactory(rating=rating, criterion=criterion, value=4)
    revision = RatingRevision.objects.create(rating=rating, values={"fluency": 3},
                                             edited_by=rater)
    invitation = Invitation.objects.create(campaign=campaign, email="bob@example.org",
                                           token="tok-123")
    run = MetricRun.objects.create(campaign=campaign, metrics=["bleu"], status="succeeded")
    metric_value = MetricValue.objects.create(run=run, campaign=campaign, system=output.system,
                                              metric="bleu", value=23.5)
    # a second campaign and rating, so that search and filters have something to exclude
    other = CampaignFactory(name="Beta translation", slug="beta", status="draft")
    other_output = OutputFactory(item__campaign=other, item__external_id="q-beta")
    other_rating = RatingFactory(rater=UserFactory(username="bob"), output=other_output,
                                 source=Rating.Source.IMPORT)
    objects: dict[str, Model] = {
        m._meta.label: m for m in (campaign, criterion, output.system, output.item, output,
                                   membership, invitation, assignment, rating, value, revision,
                                   run, metric_value)
    }
    objects["other_campaign"] = other
    objects["other_rating"] = other_rating
    return objects


def _changelist(model: type[Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_every_model_of_both_apps_is_registered() -> None:
    # given the admin registry, then it covers the models the data fixture creates
    labels = {m._meta.label for m in REGISTERED}
    assert {"annotations.Campaign", "annotations.Criterion", "annotations.System",
            "annotations.Item", "annotations.Output", "annotations.CampaignMembership",
            "annotations.Invitation", "annotations.Assignment", "annotations.Rating",
            "annotations.RatingValue", "annotations.RatingRevision", "metrics.MetricRun",
            "metrics.MetricValue"} <= labels


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_superuser_opens_the_changelist_and_a_change_page(
    superuser_client: Client, data: dict[str, Any], model: type[Model]
) -> None:
    # given one object of the model
    obj = data[model._meta.label]

    # when a superuser opens its changelist and its change page
    changelist = superuser_client.get(_changelist(model))
    change = superuser_client.get(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                args=[obj.pk]))

    # then both render, and the object is listed
    assert changelist.status_code == 200
    assert obj.pk in {o.pk for o in changelist.context["cl"].result_list}
    assert change.status_code == 200


def test_campaign_changelist_search_finds_by_name(superuser_client: Client,
                                                  data: dict[str, Any]) -> None:
    # given campaigns "Alpha support bot" and "Beta translation"
    # when the changelist is searched for "support"
    response = superuser_client.get(_changelist(Campaign), {"q": "support"})

    # then only the Alpha campaign is listed
    assert response.status_code == 200
    assert [c.slug for c in response.context["cl"].result_list] == ["alpha"]


def test_campaign_changelist_filters_by_status(superuser_client: Client,
                                               data: dict[str, Any]) -> None:
    # given an active and a draft campaign
    # when the changelist is filtered on status=draft
    response = superuser_client.get(_changelist(Campaign), {"status__exact": "draft"})

    # then only the draft one is listed
    assert response.status_code == 200
    assert [c.slug for c in response.context["cl"].result_list] == ["beta"]


def test_rating_changelist_search_finds_by_rater_username(superuser_client: Client,
                                                          data: dict[str, Any]) -> None:
    # given ratings by alice and bob
    # when the changelist is searched for "alice"
    response = superuser_client.get(_changelist(Rating), {"q": "alice"})

    # then only alice's rating is listed
    assert response.status_code == 200
    assert [r.pk for r in response.context["cl"].result_list] == [
        data["annotations.Rating"].pk]


def test_rating_changelist_filters_by_source_and_campaign(superuser_client: Client,
                                                          data: dict[str, Any]) -> None:
    # given a form rating in Alpha and an imported rating in Beta
    # when the changelist is filtered on source=import, then on Alpha's campaign
    by_source = superuser_client.get(_changelist(Rating), {"source__exact": "import"})
    by_campaign = superuser_client.get(
        _changelist(Rating),
        {"output__system__campaign__id__exact": data["annotations.Campaign"].pk},
    )

    # then each filter keeps just the matching rating
    assert by_source.status_code == by_campaign.status_code == 200
    assert [r.pk for r in by_source.context["cl"].result_list] == [data["other_rating"].pk]
    assert [r.pk for r in by_campaign.context["cl"].result_list] == [
        data["annotations.Rating"].pk]


def test_staff_without_permissions_cannot_open_the_campaign_changelist() -> None:
    # given a staff user with no model permissions
    client = Client()
    client.force_login(UserFactory(username="intern", is_staff=True))
    CampaignFactory()

    # when they open the campaign changelist
    response = client.get(_changelist(Campaign))

    # then it is forbidden
    assert response.status_code == 403


def test_anonymous_users_are_sent_to_the_admin_login() -> None:
    # given no session
    # when the campaign changelist is opened
    response = Client().get(_changelist(Campaign))

    # then it redirects to the admin login
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_membership_changelist_lists_roles(superuser_client: Client,
                                           data: dict[str, Any]) -> None:
    # given a rater membership
    # when the membership changelist is filtered on role=rater
    response = superuser_client.get(_changelist(CampaignMembership), {"role__exact": "rater"})

    # then it is listed
    assert response.status_code == 200
    assert [m.pk for m in response.context["cl"].result_list] == [
        data["annotations.CampaignMembership"].pk]
