"""Report and exports leave out QC outputs (control items, degraded and repeat copies) and the
ratings of excluded raters: every number equals numpy/scipy/krippendorff on the data without
them."""

from __future__ import annotations

import csv
import io
from typing import Any

import krippendorff
import numpy as np
import pytest
from django.contrib.auth import get_user_model
from scipy import stats

from annotations.models import CampaignMembership, Criterion, Item, Output, QcKind
from metrics.models import MetricValue
from metrics.services import report_build
from metrics.services.exports import report_csv_write
from tests.annotations.factories import RatingFactory, RatingValueFactory
from tests.metrics.services.test_report_build import LEVELS, RATERS, make_campaign

pytestmark = pytest.mark.django_db

EXCLUDED = "spammer"


def add_noise(campaign: Any, rows: list[dict[str, Any]]) -> None:
    """QC copies and an excluded rater, all rated with extreme scores that would move every
    statistic if they were counted."""
    User = get_user_model()
    criteria = list(Criterion.objects.filter(campaign=campaign))
    systems = {s.name: s for s in campaign.systems.all()}
    real = Output.objects.filter(item__campaign=campaign, system__name="ft").order_by("id")
    copies = []
    control_item = Item.objects.create(campaign=campaign, external_id="ctl-1")
    copies.append(Output.objects.create(item=control_item, system=systems["base"], text="x",
                                        control={"fluency": [1, 2]}))
    for kind, method, source in ((QcKind.DEGRADED, "shuffle", real[0]),
                                 (QcKind.REPEAT, "repeat", real[1])):
        item = Item.objects.create(campaign=campaign, external_id=f"{kind}-1", qc_kind=kind)
        copies.append(Output.objects.create(item=item, system=source.system, text="y",
                                            qc_source=source, qc_method=method))
    for output in copies:
        MetricValue.objects.create(campaign=campaign, system=output.system, output=output,
                                   metric="bleu", value=100.0)
        for name in RATERS:
            rating = RatingFactory(rater=User.objects.get(username=name), output=output)
            for criterion in criteria:
                RatingValueFactory(rating=rating, criterion=criterion, value=1)
    spammer = User.objects.create(username=EXCLUDED)
    CampaignMembership.objects.create(campaign=campaign, user=spammer, excluded=True)
    for output in Output.objects.filter(item__campaign=campaign, item__qc_kind=""):
        rating = RatingFactory(rater=spammer, output=output)
        for criterion in criteria:
            RatingValueFactory(rating=rating, criterion=criterion,
                               value=5 if output.system.name == "base" else 1)


@pytest.fixture
def noisy() -> tuple[Any, list[dict[str, Any]]]:
    campaign, rows = make_campaign(np.random.default_rng(7), items=10)
    add_noise(campaign, rows)
    return campaign, rows


def test_means_counts_and_outputs_leave_out_qc_outputs_and_excluded_raters(noisy):
    campaign, rows = noisy
    report = report_build(campaign=campaign, n_resamples=50)
    for system in report["systems"]:
        assert system["outputs"] == 10  # the QC copies are not the system's outputs
        for key in LEVELS:
            values = [r["value"] for r in rows
                      if r["system"] == system["name"] and r["criterion"] == key]
            assert system["criteria"][key]["n"] == len(values)
            assert system["criteria"][key]["mean"] == pytest.approx(np.mean(values), abs=1e-12)


def test_alpha_is_krippendorff_on_the_clean_raters_by_outputs_matrix(noisy):
    campaign, rows = noisy
    report = report_build(campaign=campaign, n_resamples=50)
    units = sorted({(r["item_id"], r["system"]) for r in rows})
    for key, level in LEVELS.items():
        matrix = np.full((len(RATERS), len(units)), np.nan)
        for r in rows:
            if r["criterion"] == key:
                matrix[RATERS.index(r["rater"]), units.index((r["item_id"], r["system"]))] = \
                    r["value"]
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
        assert report["agreement"][key]["krippendorff_alpha"] == pytest.approx(expected,
                                                                              abs=1e-9)


def test_excluded_rater_is_named_but_not_among_the_raters(noisy):
    campaign, rows = noisy
    report = report_build(campaign=campaign, n_resamples=50)
    assert report["excluded_raters"] == [EXCLUDED]
    expected = {name: len({(r["item_id"], r["system"]) for r in rows if r["rater"] == name})
                for name in RATERS}
    assert {r["rater"]: r["ratings"] for r in report["raters"]} == expected


def test_correlations_ignore_segment_values_of_qc_outputs(noisy):
    campaign, rows = noisy
    # given a bleu segment value on every real output (QC copies carry 100.0)
    rng = np.random.default_rng(3)
    bleu = {}
    for output in Output.objects.filter(item__campaign=campaign, item__qc_kind="",
                                        control__isnull=True).select_related("item", "system"):
        bleu[(output.item.external_id, output.system.name)] = value = float(rng.uniform(0, 60))
        MetricValue.objects.create(campaign=campaign, system=output.system, output=output,
                                   metric="bleu", value=value)
    report = report_build(campaign=campaign, n_resamples=50)
    for key in LEVELS:
        units = sorted({(r["item_id"], r["system"]) for r in rows if r["criterion"] == key})
        means = [np.mean([r["value"] for r in rows if r["criterion"] == key
                          and (r["item_id"], r["system"]) == u]) for u in units]
        expected = stats.spearmanr(means, [bleu[u] for u in units]).statistic
        entry = report["correlations"][key]["bleu"]
        assert entry["n"] == len(units)
        assert entry["spearman"] == pytest.approx(expected, abs=1e-12)


def test_csv_export_has_only_clean_rows_with_scipy_zscores(noisy):
    campaign, rows = noisy
    out = io.StringIO()
    report_csv_write(campaign=campaign, stream=out)
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(table) == len(rows)
    assert {t["rater"] for t in table} == set(RATERS)
    assert {t["item_id"] for t in table} == {r["item_id"] for r in rows}
    for key in LEVELS:
        for name in RATERS:
            picked = [t for t in table if t["criterion"] == key and t["rater"] == name]
            expected = stats.zscore([float(t["value"]) for t in picked])
            assert [float(t["z_score"]) for t in picked] == pytest.approx(list(expected),
                                                                          abs=1e-9)
