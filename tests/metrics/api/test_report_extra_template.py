"""templates/metrics/_report_extra.html: the pairwise, composite/robustness and exclusion parts
of the report on the campaign page, with untrusted names escaped."""

from __future__ import annotations

import pytest
from django.template import engines

from annotations.models import CampaignMembership, Rating
from metrics.services import report_build
from tests.annotations.factories import UserFactory
from tests.metrics.services.test_report_pairwise import pairwise_campaign
from tests.metrics.services.test_report_robustness_composite import grouped_campaign

pytestmark = pytest.mark.django_db

PAGE = '{% include "metrics/_report_extra.html" %}'


def render(report: dict) -> str:
    return engines["django"].from_string(PAGE).render({"report": report})


def test_pairwise_tables_show_the_reports_numbers_and_escape_names() -> None:
    campaign, judgments = pairwise_campaign(items=2)
    campaign.systems.filter(name="ft-b").update(name="<b>ft-b</b>")
    spammer = UserFactory(username="<i>spam</i>")
    CampaignMembership.objects.create(campaign=campaign, user=spammer, excluded=True)
    report = report_build(campaign=campaign, n_resamples=50)

    html = render(report)

    assert "data-report-pairwise" in html
    assert f"({len(judgments)} judgments)" in html
    assert "<b>ft-b</b>" not in html and "&lt;b&gt;ft-b&lt;/b&gt;" in html
    assert "&lt;i&gt;spam&lt;/i&gt; (excluded by an admin)" in html
    first = report["pairwise"]["systems"][0]
    assert f"<strong>{first['win_rate']:.3f}</strong>" in html
    assert "data-report-derived" not in html


def test_composite_and_robustness_columns_appear_when_the_campaign_asks() -> None:
    campaign = grouped_campaign(robustness=["rougeL"])
    campaign.composite = {"bleu": 1.0}
    campaign.save()
    report = report_build(campaign=campaign, n_resamples=50)

    html = render(report)

    assert "data-report-derived" in html and "rougeL robustness" in html
    assert 'title="missing bleu"' in html  # composite undefined: no corpus BLEU stored
    assert f"{report['systems'][0]['robustness']['rougeL']['value']:.4f}" in html
    assert "data-report-pairwise" not in html


def test_rating_campaign_without_extras_renders_nothing_visible() -> None:
    campaign = grouped_campaign()
    Rating.objects.all().delete()
    html = render(report_build(campaign=campaign, n_resamples=50))
    assert html.strip() == ""
