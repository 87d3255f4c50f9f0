"""Shared set-up for the metric-run API tests: campaigns, runs and who may see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rest_framework.test import APIClient

from annotations.models import Campaign, CampaignMembership
from metrics.models import MetricRun
from tests.annotations.factories import (
    CampaignFactory,
    ItemFactory,
    MembershipFactory,
    OutputFactory,
    SystemFactory,
    UserFactory,
)

# Who gets a 404 (never a 403: a campaign's existence must not leak to them).
OUTSIDERS = ("stranger", "rater")


def campaign_with_outputs(*, items: int = 3, metrics: list[str] | None = None) -> Campaign:
    """Two systems answering `items` items with a reference each."""
    campaign = CampaignFactory(metrics=["bleu", "chrf"] if metrics is None else metrics)
    systems = [SystemFactory(campaign=campaign, name=n, is_baseline=n == "base")
               for n in ("base", "ft")]
    for i in range(items):
        item = ItemFactory(campaign=campaign, external_id=f"q{i}",
                           references=[f"the cat sat on mat {i}"])
        for system in systems:
            OutputFactory(item=item, system=system, text=f"the cat sat {system.name} {i}")
    return campaign


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def outsider_client(campaign: Campaign, who: str) -> APIClient:
    """A user who is not the campaign's admin: a stranger, or one of its raters."""
    user = UserFactory()
    if who == "rater":
        MembershipFactory(campaign=campaign, user=user, role=CampaignMembership.Role.RATER)
    return client_for(user)


def admin_client(campaign: Campaign) -> APIClient:
    """A non-staff user who administers the campaign."""
    user = UserFactory()
    MembershipFactory(campaign=campaign, user=user, role=CampaignMembership.Role.ADMIN)
    return client_for(user)


def make_run(campaign: Campaign, **fields: Any) -> MetricRun:
    """A run stored as it would be mid-way or finished (no task involved)."""
    defaults: dict[str, Any] = {"metrics": ["bleu"], "chunks_total": 40, "outputs_total": 42330}
    defaults.update(fields)
    return MetricRun.objects.create(campaign=campaign, **defaults)


def running(campaign: Campaign, now: Any) -> MetricRun:
    """12 of 40 chunks, 8,300 outputs done in 10 s: 830 outputs/s and 34,030 left (41 s)."""
    return make_run(campaign, status=MetricRun.Status.RUNNING, chunks_done=12,
                    outputs_done=8300, started_at=now - timedelta(seconds=10))


FIXED_NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
