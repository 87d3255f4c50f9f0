"""manage.py run_metrics on a rerun: reused vs computed counts, --force (eager, SQLite)."""

from __future__ import annotations

import pytest

from annotations.models import Output
from metrics.models import MetricRun
from tests.metrics.commands.test_run_metrics import eager, run_command  # noqa: F401 - fixture
from tests.metrics.services.test_metric_runs import make_campaign


@pytest.mark.django_db(transaction=True)
def test_a_rerun_reports_values_reused_and_computed(eager):  # noqa: F811 - the fixture
    # given a campaign of 2 systems × 3 items whose metrics were computed once
    campaign = make_campaign(items=3, metrics=["bleu", "chrf"])
    code, out, err = run_command(campaign.slug, "--wait")
    assert code == 0, err
    assert "segment values 12 computed, 0 reused; system values 4 computed, 0 reused" in out
    # when one output changes and the command runs again
    edited = Output.objects.filter(item__campaign=campaign).order_by("id").first()
    Output.objects.filter(pk=edited.pk).update(text="the cat sat on the mat")
    code, out, err = run_command(campaign.slug, "--wait")
    # then only its 2 segment values and its system's 2 values are computed
    assert code == 0, err
    last = MetricRun.objects.filter(campaign=campaign).order_by("-id").first()
    assert (f"metric run {last.pk} succeeded: segment values 2 computed, 10 reused; "
            "system values 2 computed, 2 reused") in out


@pytest.mark.django_db(transaction=True)
def test_an_unchanged_rerun_reuses_everything_and_force_recomputes(eager):  # noqa: F811
    campaign = make_campaign(items=2, metrics=["bleu"])
    assert run_command(campaign.slug, "--wait")[0] == 0
    code, out, _ = run_command(campaign.slug, "--wait")
    assert code == 0
    assert "segment values 0 computed, 4 reused; system values 0 computed, 2 reused" in out
    code, out, _ = run_command(campaign.slug, "--force", "--wait")
    assert code == 0
    assert "segment values 4 computed, 0 reused; system values 2 computed, 0 reused" in out
    assert MetricRun.objects.filter(campaign=campaign).order_by("-id").first().force is True
