"""The metric-run endpoints are described in the OpenAPI schema."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


def test_schema_lists_every_run_operation_with_the_run_component() -> None:
    # given the project's OpenAPI schema
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]

    # then start, latest, detail and cancel are there with their methods
    assert "post" in paths["/api/campaigns/{slug}/runs/"]
    assert "get" in paths["/api/campaigns/{slug}/runs/latest/"]
    assert "get" in paths["/api/campaigns/{slug}/runs/{run_id}/"]
    assert "post" in paths["/api/campaigns/{slug}/runs/{run_id}/cancel/"]
    # and the run's fields are typed, with the start input taking a metric list
    run = schema["components"]["schemas"]["MetricRun"]["properties"]
    assert run["chunks_done"]["type"] == "integer"
    assert run["eta_s"]["nullable"] is True
    start = schema["components"]["schemas"]["MetricRunStartInput"]["properties"]
    assert start["metrics"]["type"] == "array"
    responses = paths["/api/campaigns/{slug}/runs/"]["post"]["responses"]
    assert {"201", "400", "409"} <= set(responses)
