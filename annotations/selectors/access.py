"""Campaigns and memberships as their users may see them (permission scoping built in)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
)


def campaign_list_for_admin(*, user: Any) -> QuerySet[Campaign]:
    """Campaigns the user may administer: all for staff, else those where they are admin."""
    queryset = Campaign.objects.select_related("baseline", "created_by")
    if user.is_staff:
        return queryset
    return queryset.filter(
        memberships__user=user, memberships__role=CampaignMembership.Role.ADMIN
    )


def membership_list_for_rater(*, user: Any) -> QuerySet[CampaignMembership]:
    """The user's rater memberships, with their campaigns."""
    return CampaignMembership.objects.filter(
        user=user, role=CampaignMembership.Role.RATER
    ).select_related("campaign")


def campaign_get_for_admin(*, user: Any, slug: str) -> Campaign:
    """The campaign if the user administers it; 404 otherwise (no existence leak)."""
    campaign = campaign_list_for_admin(user=user).filter(slug=slug).first()
    if campaign is None:
        raise Http404("no such campaign")
    return campaign


def campaign_is_admin(*, user: Any, campaign: Campaign) -> bool:
    """True for staff and the campaign's admins."""
    if user.is_staff:
        return True
    return CampaignMembership.objects.filter(
        campaign=campaign, user=user, role=CampaignMembership.Role.ADMIN
    ).exists()


def live_q(now: datetime, prefix: str = "") -> Q:
    """Assignments holding a slot: submitted, or assigned with an unexpired lease."""
    return Q(**{f"{prefix}status": Assignment.Status.SUBMITTED}) | Q(
        **{f"{prefix}status": Assignment.Status.ASSIGNED, f"{prefix}lease_expires_at__gt": now}
    )
