"""metric_values_upsert: one row per (output, metric) / (system, metric), updated in place."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from metrics.models import MetricValue
from metrics.services.runs import metric_values_upsert
from tests.metrics.services.test_metric_runs import make_campaign

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _values(campaign, value: float, details: dict) -> list[MetricValue]:
    outputs = list(campaign.items.first().outputs.all())
    segments = [MetricValue(campaign=campaign, system_id=o.system_id, output_id=o.pk,
                            metric="bleu", value=value, details=details, updated_at=NOW)
                for o in outputs]
    corpus = [MetricValue(campaign=campaign, system_id=o.system_id, metric="bleu",
                          value=value, reason="", details=details, updated_at=NOW)
              for o in outputs]
    return segments + corpus


def test_a_second_upsert_updates_the_rows_instead_of_adding_any():
    # given stored segment and corpus values
    campaign = make_campaign(items=2, systems=("base", "ft"), metrics=["bleu"])
    first = _values(campaign, 10.0, {"n": 1})
    metric_values_upsert(values=first[:2], level="segment")
    metric_values_upsert(values=first[2:], level="corpus")
    # when the same keys are written again with other values
    again = _values(campaign, 20.0, {"n": 2, 3: "int key"})
    metric_values_upsert(values=again[:2], level="segment")
    metric_values_upsert(values=again[2:], level="corpus")
    # then each key holds one row with the new value and details (int keys as strings, as JSON)
    stored = list(MetricValue.objects.filter(campaign=campaign))
    assert len(stored) == 4
    assert {v.value for v in stored} == {20.0}
    assert all(v.details == {"n": 2, "3": "int key"} for v in stored)
    assert sum(v.output_id is None for v in stored) == 2
