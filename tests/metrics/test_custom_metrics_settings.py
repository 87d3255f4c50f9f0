"""EVAL_CUSTOM_METRICS: a user's metric is registered, accepted in specs, run and reported."""

from __future__ import annotations

import io
import json
from unittest import mock

import numpy as np
import pytest

from annotations.models import Output
from annotations.services import campaign_import
from metrics import apps
from metrics.compute.automatic import REGISTRY
from metrics.models import MetricValue
from metrics.services import report_build
from metrics.services.runs import metric_run_start
from tests.metrics.services.test_metric_runs import run_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def custom_registered(settings, monkeypatch):
    # the registry and the loader's memory are restored after the test
    monkeypatch.setattr(REGISTRY, "_specs", dict(REGISTRY._specs))
    monkeypatch.setattr(apps, "_LOADED", set())
    settings.EVAL_CUSTOM_METRICS = ["tests.metrics.custom_example:mean_words"]
    return apps.custom_metrics_register()


def test_a_custom_metric_from_settings_runs_and_is_reported_like_a_built_in(custom_registered):
    assert custom_registered == ["mean_words"]
    spec = {"name": "C", "slug": "c", "metrics": ["bleu", "mean_words"],
            "criteria": [{"key": "fluency", "min": 1, "max": 5}]}
    rows = [{"item_id": f"q{i}", "system": s, "output": " ".join(["w"] * (i + len(s))),
             "references": ["w w w"]} for i in range(4) for s in ("base", "ft2")]
    campaign = campaign_import(
        spec_stream=io.BytesIO(json.dumps(spec).encode()), spec_name="spec.json",
        outputs_stream=io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode()),
        outputs_name="o.jsonl").campaign
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue"):
        run = metric_run_start(campaign=campaign)
    run_all(run)
    report = report_build(campaign=campaign, n_resamples=0)
    for system in report["systems"]:
        texts = Output.objects.filter(system__campaign=campaign, system__name=system["name"]) \
            .values_list("text", flat=True)
        assert system["metrics"]["mean_words"] == pytest.approx(
            np.mean([len(t.split()) for t in texts]))
    assert MetricValue.objects.filter(metric="mean_words", output__isnull=True).count() == 2


def test_a_spec_naming_an_unregistered_metric_is_refused(bundle):
    from annotations.services import ImportFailed
    from tests.conftest import SPEC

    spec_path, outputs_path = bundle(spec={**SPEC, "metrics": ["mean_words"]})
    with pytest.raises(ImportFailed) as failure, spec_path.open("rb") as s, \
            outputs_path.open("rb") as o:
        campaign_import(spec_stream=s, spec_name="spec.json", outputs_stream=o,
                        outputs_name="outputs.jsonl")
    assert 'field "metrics[0]": unknown metric "mean_words"' in str(failure.value)
