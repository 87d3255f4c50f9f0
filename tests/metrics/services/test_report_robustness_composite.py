"""Robustness (metric change from an item to its perturbed variants in the same `group`) and
the campaign's composite score appear in systems[].metrics and in the exports."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openpyxl import load_workbook

from annotations.models import Item, Output, QcKind
from metrics.models import MetricValue
from metrics.services import report_build
from metrics.services.exports import report_json_write, report_xlsx_write
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    ItemFactory,
    OutputFactory,
    RatingFactory,
    RatingValueFactory,
    SystemFactory,
)

pytestmark = pytest.mark.django_db

# item id -> group; q1 and q2 are originals (their id is the group id), "b" has no original
# named after its group, so its first item (b-1) is the original.
ITEMS = {"q1": "q1", "q1-typo": "q1", "q1-case": "q1", "q2": "q2", "q2-x": "q2",
         "b-1": "b", "b-2": "b", "solo": ""}
ROUGE = {
    "base": {"q1": 0.8, "q1-typo": 0.6, "q1-case": 0.4, "q2": 0.5, "q2-x": 0.6,
             "b-1": 0.3, "b-2": 0.1, "solo": 0.9},
    "ft": {"q1": 0.7, "q1-typo": 0.7, "q1-case": 0.5, "q2": 0.6, "q2-x": None,
           "b-1": 0.2, "b-2": 0.4, "solo": 0.1},
}


def grouped_campaign(**options: Any) -> Any:
    """Two systems over grouped items with stored rougeL segment values (None: undefined)."""
    campaign = CampaignFactory(metrics=["rougeL", "bleu", "ter"], options=options)
    systems = {n: SystemFactory(campaign=campaign, name=n, is_baseline=n == "base")
               for n in ROUGE}
    for external_id, group in ITEMS.items():
        item = ItemFactory(campaign=campaign, external_id=external_id, group=group)
        for name, system in systems.items():
            output = OutputFactory(item=item, system=system)
            MetricValue.objects.create(campaign=campaign, system=system, output=output,
                                       metric="rougeL", value=ROUGE[name][external_id])
    # a repeat copy in group q1 with a wild value: QC copies never count
    copy = Item.objects.create(campaign=campaign, external_id="rep", group="q1",
                               qc_kind=QcKind.REPEAT)
    source = Output.objects.get(item__external_id="q1", system=systems["base"])
    qc = Output.objects.create(item=copy, system=systems["base"], qc_source=source,
                               qc_method="repeat")
    MetricValue.objects.create(campaign=campaign, system=systems["base"], output=qc,
                               metric="rougeL", value=-50.0)
    return campaign


def expected_robustness(system: str) -> float:
    """Mean over groups of mean(variant − original), variants without a value skipped."""
    values = ROUGE[system]
    originals = {"q1": "q1", "q2": "q2", "b": "b-1"}
    per_group = []
    for group, original in originals.items():
        changes = [values[i] - values[original] for i, g in ITEMS.items()
                   if g == group and i != original and values[i] is not None]
        if changes:
            per_group.append(np.mean(changes))
    return float(np.mean(per_group))


def test_robustness_of_the_asked_metrics_is_in_systems_metrics():
    # given a campaign asking for rougeL robustness
    campaign = grouped_campaign(robustness=["rougeL"])

    report = report_build(campaign=campaign, n_resamples=50)

    # then each system has the mean change over its groups (q2 of ft has no scored variant)
    for system in report["systems"]:
        assert system["metrics"]["robustness:rougeL"] == pytest.approx(
            expected_robustness(system["name"]), abs=1e-12)
    ft = next(s for s in report["systems"] if s["name"] == "ft")
    assert ft["robustness"]["rougeL"]["groups"] == 2
    base = next(s for s in report["systems"] if s["name"] == "base")
    assert base["robustness"]["rougeL"]["groups"] == 3


def test_robustness_true_means_every_segment_level_metric_of_the_campaign():
    campaign = grouped_campaign(robustness=True)
    report = report_build(campaign=campaign, n_resamples=50)
    metrics = report["systems"][0]["metrics"]
    assert metrics["robustness:rougeL"] == pytest.approx(expected_robustness("base"))
    # bleu and ter have no stored segment values: null with the reason alongside
    assert metrics["robustness:bleu"] is None
    assert report["systems"][0]["robustness"]["bleu"]["reason"]


def test_no_robustness_unless_the_campaign_asks():
    report = report_build(campaign=grouped_campaign(), n_resamples=50)
    assert not any(k.startswith("robustness:") for s in report["systems"] for k in s["metrics"])
    assert all("robustness" not in s for s in report["systems"])


def rate(campaign: Any, scores: dict[str, list[int]]) -> None:
    """fluency ratings per system (one rater per value, on the system's first outputs)."""
    fluency = CriterionFactory(campaign=campaign, key="fluency", scale_min=1, scale_max=5)
    for name, values in scores.items():
        outputs = Output.objects.filter(system__campaign=campaign, system__name=name,
                                        item__qc_kind="").order_by("id")
        for output, value in zip(outputs, values, strict=False):
            RatingValueFactory(rating=RatingFactory(output=output), criterion=fluency,
                               value=value)


def test_composite_is_the_weighted_mean_of_range_normalised_components():
    # given fluency means 3 and 4.5, corpus BLEU 20 and 30, TER 70 and 50 (lower is better)
    campaign = grouped_campaign()
    campaign.composite = {"fluency": 0.5, "bleu": 0.3, "ter": 0.2}
    campaign.save()
    rate(campaign, {"base": [2, 4, 3], "ft": [5, 4]})
    corpus = {"base": {"bleu": 20.0, "ter": 70.0}, "ft": {"bleu": 30.0, "ter": 50.0}}
    for system in campaign.systems.all():
        for metric, value in corpus[system.name].items():
            MetricValue.objects.create(campaign=campaign, system=system, metric=metric,
                                       value=value)

    report = report_build(campaign=campaign, n_resamples=50)

    # then: fluency on its 1–5 scale, BLEU on sacrebleu's 0–100, TER (unbounded above) on the
    # observed range and flipped; weights sum to 1
    fluency = {"base": np.mean([2, 4, 3]), "ft": np.mean([5, 4])}
    for system in report["systems"]:
        name = system["name"]
        ter = corpus[name]["ter"]
        parts = {"fluency": (fluency[name] - 1) / 4, "bleu": corpus[name]["bleu"] / 100,
                 "ter": 1 - (ter - 50.0) / (70.0 - 50.0)}
        expected = 0.5 * parts["fluency"] + 0.3 * parts["bleu"] + 0.2 * parts["ter"]
        assert system["metrics"]["composite"] == pytest.approx(expected, abs=1e-12)
        assert system["composite"]["components"] == pytest.approx(parts)


def test_composite_missing_a_component_is_null_with_the_reason():
    campaign = grouped_campaign()
    campaign.composite = {"bleu": 1.0}
    campaign.save()
    report = report_build(campaign=campaign, n_resamples=50)
    for system in report["systems"]:
        assert system["metrics"]["composite"] is None
        assert system["composite"]["reason"] == "missing bleu"


def test_exports_carry_robustness_and_composite(tmp_path: Path):
    campaign = grouped_campaign(robustness=["rougeL"])
    campaign.composite = {"bleu": 1.0}
    campaign.save()
    for system, value in zip(campaign.systems.order_by("name"), (10.0, 40.0), strict=True):
        MetricValue.objects.create(campaign=campaign, system=system, metric="bleu", value=value)

    out = io.StringIO()
    report_json_write(campaign=campaign, stream=out)
    systems = {s["name"]: s for s in json.loads(out.getvalue())["systems"]}
    assert systems["ft"]["metrics"]["composite"] == pytest.approx(0.4)
    assert systems["ft"]["metrics"]["robustness:rougeL"] == pytest.approx(
        expected_robustness("ft"))

    path = tmp_path / "r.xlsx"
    report_xlsx_write(campaign=campaign, path=path)
    summary = list(load_workbook(path, read_only=True)["summary"].iter_rows(values_only=True))
    header = summary[0]
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in summary[1:]}
    assert rows["ft"]["composite"] == pytest.approx(0.4)
    assert rows["ft"]["robustness:rougeL"] == pytest.approx(expected_robustness("ft"))
