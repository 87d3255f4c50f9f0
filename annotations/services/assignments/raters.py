"""Raters of a campaign: a user, a membership and an API token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from annotations.models import (
    Campaign,
    CampaignMembership,
)
from annotations.services.campaigns import membership_add


@dataclass(frozen=True)
class RaterCreated:
    user: Any
    user_created: bool
    membership: CampaignMembership
    token: str


@transaction.atomic
def rater_create(*, username: str, campaign: Campaign, email: str = "") -> RaterCreated:
    """Create or reuse a user, join them to campaign as rater, and give them an API token."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    created = user is None
    if user is None:
        user = user_model(username=username, email=email)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    elif email and user.email != email:
        user.email = email
        user.save(update_fields=["email"])
    existing = CampaignMembership.objects.filter(campaign=campaign, user=user).first()
    if existing is not None and existing.role == CampaignMembership.Role.ADMIN:
        membership = existing  # never demote a campaign admin
    else:
        membership = membership_add(campaign=campaign, user=user,
                                    role=CampaignMembership.Role.RATER)
    token, _ = Token.objects.get_or_create(user=user)
    return RaterCreated(user, created, membership, token.key)
