"""Snapshot of row counts, to prove a failed import changed nothing."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from annotations.models import (
    Campaign,
    CampaignMembership,
    Criterion,
    Item,
    Output,
    Rating,
    RatingValue,
    System,
)

MODELS = [Campaign, Criterion, System, Item, Output, Rating, RatingValue, CampaignMembership]


def row_counts() -> dict[str, int]:
    """Rows per table of everything an import may write, users included."""
    counts = {m.__name__: m.objects.count() for m in MODELS}
    counts["User"] = get_user_model().objects.count()
    return counts
