"""Invitations: personal single-use links, open crowd links, joining a campaign through them.

A personal invitation is accepted once, by a logged-in user or by a new rater who picks a
username and password on the accept page. A crowd link (`reusable`) is opened by any number
of participants of a crowd platform (Prolific, MTurk, ...); each participant id gets one
rater account per campaign, reused when they come back, and a completion code.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.models import Campaign, CampaignMembership, Invitation

from .campaigns import membership_add

PARTICIPANT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Query parameters crowd platforms use for the participant id, in the order we look.
PARTICIPANT_PARAMS = ("PROLIFIC_PID", "workerId", "participant")


class InvitationInvalid(ValueError):
    """The link cannot be used (unknown, revoked, already used, closed campaign)."""


def _token() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


@transaction.atomic
def invitation_create(*, campaign: Campaign, email: str = "", by: Any) -> Invitation:
    """A personal, single-use rater invitation with a fresh token."""
    invitation = Invitation(campaign=campaign, email=email, token=_token(),
                            role=CampaignMembership.Role.RATER, created_by=by)
    invitation.full_clean()
    invitation.save()
    return invitation


@transaction.atomic
def crowd_link_get_or_create(*, campaign: Campaign, by: Any) -> Invitation:
    """The campaign's open crowd link (a live one is reused); marks the campaign crowd mode."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    link = (Invitation.objects.filter(campaign=locked, reusable=True, revoked_at__isnull=True)
            .order_by("pk").first())
    if link is None:
        link = Invitation(campaign=locked, token=_token(), reusable=True,
                          role=CampaignMembership.Role.RATER, created_by=by)
        link.full_clean()
        link.save()
    if not (locked.options or {}).get("crowd"):
        locked.options = {**(locked.options or {}), "crowd": True}
        locked.save(update_fields=["options", "updated_at"])
        campaign.options = locked.options
    return link


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by: Any,
                      now: datetime | None = None) -> Invitation:
    """Stop a link from being used again (memberships made through it stay)."""
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.revoked_at is None:
        locked.revoked_at = now or timezone.now()
        locked.save(update_fields=["revoked_at"])
    if locked.reusable:
        live = Invitation.objects.filter(campaign_id=locked.campaign_id, reusable=True,
                                         revoked_at__isnull=True).exists()
        campaign = Campaign.objects.select_for_update().get(pk=locked.campaign_id)
        if not live and (campaign.options or {}).get("crowd"):
            campaign.options = {**campaign.options, "crowd": False}
            campaign.save(update_fields=["options", "updated_at"])
    invitation.revoked_at = locked.revoked_at
    return invitation


def _usable(token: str, *, reusable: bool) -> Invitation:
    """The invitation row for token, locked; InvitationInvalid when it cannot be used."""
    invitation = (Invitation.objects.select_for_update().select_related("campaign")
                  .filter(token=token, reusable=reusable).first()) if token else None
    if invitation is None:
        raise InvitationInvalid("this invitation link is not valid")
    if invitation.revoked_at is not None:
        raise InvitationInvalid("this invitation link has been revoked")
    if invitation.campaign.status == Campaign.Status.CLOSED:
        raise InvitationInvalid("this campaign is closed")
    return invitation


def _join(campaign: Campaign, user: Any) -> CampaignMembership:
    existing = CampaignMembership.objects.filter(campaign=campaign, user=user).first()
    if existing is not None and existing.role == CampaignMembership.Role.ADMIN:
        raise InvitationInvalid("you administer this campaign; raters are invited, not admins")
    if existing is not None:
        return existing
    return membership_add(campaign=campaign, user=user, role=CampaignMembership.Role.RATER)


@transaction.atomic
def invitation_accept(*, token: str, user: Any, now: datetime | None = None
                      ) -> CampaignMembership:
    """Join user to the invitation's campaign as a rater; the link then stops working."""
    invitation = _usable(token, reusable=False)
    if invitation.accepted_by_id is not None and invitation.accepted_by_id != user.pk:
        raise InvitationInvalid("this invitation has already been used")
    membership = _join(invitation.campaign, user)
    if invitation.accepted_by_id is None:
        invitation.accepted_by = user
        invitation.accepted_at = now or timezone.now()
        invitation.save(update_fields=["accepted_by", "accepted_at"])
    return membership


@transaction.atomic
def invitation_accept_new_rater(*, token: str, username: str, password: str,
                                email: str = "") -> tuple[Any, CampaignMembership]:
    """Create a rater account with a password and accept the invitation with it."""
    _usable(token, reusable=False)  # check before creating anybody
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=username).exists():
        raise InvitationInvalid(f"the username {username!r} is taken")
    user = user_model(username=username, email=email)
    user.set_password(password)
    user.full_clean()
    try:
        with transaction.atomic():  # a savepoint: a concurrent sign-up may take the name
            user.save()
    except IntegrityError:
        raise InvitationInvalid(f"the username {username!r} is taken") from None
    return user, invitation_accept(token=token, user=user)


def _crowd_user_create(base: str) -> Any:
    """A new user without a password, named base (or base-2, base-3, ... when taken)."""
    user_model = get_user_model()
    for n in range(1, 1000):
        username = base if n == 1 else f"{base}-{n}"
        if user_model.objects.filter(username__iexact=username).exists():
            continue
        user = user_model(username=username)
        user.set_unusable_password()
        try:
            with transaction.atomic():  # a savepoint: another campaign's join may race us
                user.save()
        except IntegrityError:
            continue
        return user
    raise InvitationInvalid("could not find a free username for this participant")


def participant_id_from(params: Any) -> str:
    """The participant id from a crowd platform's query parameters ('' when none is given)."""
    for name in PARTICIPANT_PARAMS:
        value = params.get(name)
        if value:
            return str(value).strip()
    return ""


@transaction.atomic
def crowd_join(*, token: str, participant_id: str) -> tuple[Any, CampaignMembership]:
    """The rater for this participant (created on first visit) and their membership."""
    if not PARTICIPANT_RE.match(participant_id or ""):
        raise InvitationInvalid("the link needs a participant id (PROLIFIC_PID, workerId or "
                                "participant): 1 to 64 letters, digits, '.', '_' or '-'")
    link = _usable(token, reusable=True)  # the row lock serialises joins through this link
    campaign = link.campaign
    membership = (CampaignMembership.objects.select_related("user")
                  .filter(campaign=campaign, external_id=participant_id).first())
    if membership is not None:
        if not membership.completion_code:
            membership.completion_code = secrets.token_hex(8).upper()
            membership.save(update_fields=["completion_code"])
        return membership.user, membership
    user = _crowd_user_create(f"crowd-{participant_id}")
    membership = CampaignMembership(
        campaign=campaign, user=user, role=CampaignMembership.Role.RATER,
        external_id=participant_id, completion_code=secrets.token_hex(8).upper())
    membership.full_clean()
    membership.save()
    return user, membership
