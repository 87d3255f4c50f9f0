"""Reads for campaigns and memberships, with permission scoping built in."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from annotations.models import Campaign, CampaignMembership


def campaign_list_for_admin(*, user: Any) -> QuerySet[Campaign]:
    """Campaigns the user may administer: all for staff, else those where they are admin."""
    queryset = Campaign.objects.select_related("baseline", "created_by")
    if user.is_staff:
        return queryset
    return queryset.filter(
        memberships__user=user, memberships__role=CampaignMembership.Role.ADMIN
    )


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
