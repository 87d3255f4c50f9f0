"""`{% metric_run_latest campaign as run %}`: the latest run's status for the run panel."""

from __future__ import annotations

from typing import Any

from django import template

from metrics.selectors import metric_run_latest_for_campaign, metric_run_status_get

register = template.Library()


@register.simple_tag
def metric_run_latest(campaign: Any) -> dict[str, Any] | None:
    """The campaign's latest run as metric_run_status_get gives it, or None."""
    run = metric_run_latest_for_campaign(campaign=campaign)
    return None if run is None else metric_run_status_get(run=run)
