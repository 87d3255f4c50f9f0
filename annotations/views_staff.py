"""Staff pages: create and edit campaigns, upload outputs, invite raters, start/pause/close,
per-rater reset and reassignment, quality control; plus the invitation and crowd join links.

Every campaign page is for the campaign's admins (staff or admin members); anyone else gets
404, as the API does. Views validate with a form, call one service and redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotations.forms_staff import (
    CampaignForm,
    CriterionFormSet,
    ExcludeForm,
    InvitationForm,
    OutputsUploadForm,
    QcCreateForm,
    ReassignForm,
    SignupForm,
    StatusForm,
    criteria_initial,
)
from annotations.models import Campaign, CampaignMembership, Invitation
from annotations.selectors import campaign_get_for_admin
from annotations.services import ImportFailed
from annotations.services.assignments import assignment_reassign, assignment_reset_for_rater
from annotations.services.campaigns import (
    CampaignStateError,
    campaign_create,
    campaign_draft_update,
    campaign_outputs_upload,
    campaign_status_set,
)
from annotations.services.invitations import (
    InvitationInvalid,
    crowd_join,
    crowd_link_get_or_create,
    invitation_accept,
    invitation_accept_new_rater,
    invitation_create,
    invitation_revoke,
    participant_id_from,
)
from annotations.services.qc import qc_degraded_create, qc_repeats_create, rater_exclude
from annotations.services.spec import spec_validate

STATUS_VERBS = {"active": "started", "paused": "paused", "closed": "closed"}


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in (else to the login page) and staff (else 403)."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    return wrapped


def _detail(campaign: Campaign, anchor: str = "") -> HttpResponse:
    url = reverse("annotations:campaign-detail", args=[campaign.slug])
    return redirect(f"{url}#{anchor}" if anchor else url)


def _rater(campaign: Campaign, username: str) -> Any:
    """A rater member of campaign by username; 404 otherwise."""
    membership = (CampaignMembership.objects.select_related("user")
                  .filter(campaign=campaign, user__username=username,
                          role=CampaignMembership.Role.RATER).first())
    if membership is None:
        raise Http404("no such rater in this campaign")
    return membership.user


# --- create and edit --------------------------------------------------------------------


def _campaign_form_page(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    initial = CampaignForm.initial_for(campaign) if campaign is not None else None
    form = CampaignForm(request.POST or None, campaign=campaign, initial=initial)
    criteria = CriterionFormSet(request.POST or None, prefix="criteria",
                                initial=criteria_initial(campaign))
    problems: list[str] = []
    if request.method == "POST" and form.is_valid() and criteria.is_valid():
        try:
            spec = spec_validate(form.spec_data(criteria.spec_criteria()), "form")
            if campaign is None:
                campaign = campaign_create(spec=spec, spec_name="form", created_by=request.user)
                messages.success(request, f"Created {campaign.name}. Now upload its outputs.")
                return redirect("annotations:staff-campaign-outputs", slug=campaign.slug)
            campaign_draft_update(campaign=campaign, spec=spec, by=request.user,
                                  baseline_id=form.cleaned_data.get("baseline"))
        except ImportFailed as failure:
            problems = failure.lines
        except (CampaignStateError, ValidationError) as exc:
            problems = [exc.messages[0] if isinstance(exc, ValidationError) else str(exc)]
        else:
            messages.success(request, "Saved.")
            return _detail(campaign)
    return render(request, "staff/campaign_form.html", {
        "form": form, "criteria": criteria, "problems": problems, "campaign": campaign,
    })


@staff_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    """New campaign: settings, rubric editor, quality-control thresholds."""
    return _campaign_form_page(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """Edit a draft campaign's settings and rubric."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    if campaign.status != Campaign.Status.DRAFT:
        messages.error(request, "Only a draft campaign can be edited here.")
        return _detail(campaign)
    return _campaign_form_page(request, campaign)


@login_required
@require_http_methods(["GET", "POST"])
def campaign_outputs(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload (or replace) a draft campaign's outputs; problems are listed inline."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    form = OutputsUploadForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["outputs"]
        try:
            result = campaign_outputs_upload(
                campaign=campaign, stream=upload, name=upload.name,
                fmt=form.cleaned_data["format"] or None,
                baseline=form.cleaned_data["baseline"].strip(), by=request.user)
        except ImportFailed as failure:
            problems = failure.lines
        except CampaignStateError as exc:
            problems = [str(exc)]
        else:
            messages.success(request, f"Uploaded {result.outputs} outputs of {result.systems} "
                                      f"systems on {result.items} items.")
            return _detail(campaign)
    return render(request, "staff/campaign_outputs.html", {
        "campaign": campaign, "form": form, "problems": problems,
        "outputs": campaign.items.count(),
    })


@login_required
@require_POST
def campaign_status(request: HttpRequest, slug: str) -> HttpResponse:
    """Start, pause, resume or close."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown status.")
        return _detail(campaign)
    try:
        campaign_status_set(campaign=campaign, status=form.cleaned_data["status"],
                            by=request.user)
    except CampaignStateError as exc:
        messages.error(request, f"Not changed: {exc}.")
    else:
        verb = STATUS_VERBS.get(campaign.status, campaign.status)
        messages.success(request, f"Campaign {verb}.")
    return _detail(campaign)


# --- invitations ------------------------------------------------------------------------


@login_required
@require_POST
def invitation_new(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    form = InvitationForm(request.POST)
    if form.is_valid():
        invitation_create(campaign=campaign, email=form.cleaned_data["email"], by=request.user)
        messages.success(request, "Invitation link created: copy it from the list below.")
    else:
        messages.error(request, f"Not created: {form.errors['email'][0]}")
    return _detail(campaign, "invitations")


@login_required
@require_POST
def crowd_link(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    crowd_link_get_or_create(campaign=campaign, by=request.user)
    messages.success(request, "Crowd link ready.")
    return _detail(campaign, "invitations")


@login_required
@require_POST
def invitation_revoke_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    invitation = get_object_or_404(Invitation, pk=pk, campaign=campaign)
    invitation_revoke(invitation=invitation, by=request.user)
    messages.success(request, "Link revoked.")
    return _detail(campaign, "invitations")


def _after_join(campaign: Campaign) -> HttpResponse:
    return redirect("annotations:rater-campaign", slug=campaign.slug)


def _invitation_problem(invitation: Invitation | None, user: Any) -> str:
    """Why this personal invitation cannot be used by user now ('' when it can)."""
    if invitation is None:
        return "this invitation link is not valid"
    if invitation.revoked_at is not None:
        return "this invitation link has been revoked"
    if invitation.campaign.status == Campaign.Status.CLOSED:
        return "this campaign is closed"
    if invitation.accepted_by_id is not None and invitation.accepted_by_id != user.pk:
        return "this invitation has already been used"
    return ""


@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """A personal invitation: a logged-in user joins, or a new rater signs up."""
    invitation = (Invitation.objects.select_related("campaign")
                  .filter(token=token, reusable=False).first())
    signup = SignupForm(request.POST or None) if not request.user.is_authenticated else None
    error = _invitation_problem(invitation, request.user)
    if request.method == "POST" and not error:
        try:
            if request.user.is_authenticated:
                invitation_accept(token=token, user=request.user)
                return _after_join(invitation.campaign)  # type: ignore[union-attr]
            if signup is not None and signup.is_valid():
                user, membership = invitation_accept_new_rater(
                    token=token, username=signup.cleaned_data["username"],
                    password=signup.cleaned_data["password1"])
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return _after_join(membership.campaign)
        except (InvitationInvalid, ValidationError) as exc:
            error = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
    status = 200
    if invitation is None:
        status = 404
    elif error or (signup is not None and signup.errors):
        status = 400 if request.method == "POST" else 410
    return render(request, "staff/invite_accept.html", {
        "invitation": invitation, "signup": signup, "error": error,
        "usable": invitation is not None and not _invitation_problem(invitation, request.user),
        "login_url": f"{reverse('login')}?next={request.path}",
    }, status=status)


@require_http_methods(["GET"])
def crowd_join_view(request: HttpRequest, token: str) -> HttpResponse:
    """An open crowd link: the participant id from the query string becomes a rater."""
    try:
        user, membership = crowd_join(token=token,
                                      participant_id=participant_id_from(request.GET))
    except InvitationInvalid as exc:
        return render(request, "staff/join_error.html", {"error": str(exc)}, status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return _after_join(membership.campaign)


# --- rater actions ----------------------------------------------------------------------


def _other_raters(campaign: Campaign, exclude: str) -> list[str]:
    return list(CampaignMembership.objects.filter(
        campaign=campaign, role=CampaignMembership.Role.RATER, excluded=False)
        .exclude(user__username=exclude).order_by("user__username")
        .values_list("user__username", flat=True))


@login_required
@require_http_methods(["GET", "POST"])
def rater_reset(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    """Confirm, then release the rater's unsubmitted assignments back to the pool."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    rater = _rater(campaign, username)
    if request.method == "POST":
        released = assignment_reset_for_rater(campaign=campaign, rater=rater,
                                                          by=request.user)
        messages.success(request, f"Released {released} unsubmitted assignments of "
                                  f"{rater.get_username()}.")
        return _detail(campaign, "progress")
    return render(request, "staff/rater_confirm.html", {
        "campaign": campaign, "rater": rater, "action": "reset", "form": None,
    })


@login_required
@require_http_methods(["GET", "POST"])
def rater_reassign(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    """Choose another rater, confirm, and move the rater's unsubmitted work to them."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    rater = _rater(campaign, username)
    form = ReassignForm(request.POST or None, raters=_other_raters(campaign, username))
    if request.method == "POST" and form.is_valid():
        target = _rater(campaign, form.cleaned_data["to_rater"])
        try:
            moved = assignment_reassign(campaign=campaign, from_rater=rater,
                                                    to_rater=target, by=request.user)
        except ValidationError as exc:
            form.add_error("to_rater", exc.messages[0])
        else:
            messages.success(request, f"Moved {moved} assignments from {rater.get_username()} "
                                      f"to {target.get_username()}.")
            return _detail(campaign, "progress")
    return render(request, "staff/rater_confirm.html", {
        "campaign": campaign, "rater": rater, "action": "reassign", "form": form,
    })


@login_required
@require_POST
def rater_exclude_view(request: HttpRequest, slug: str, username: str) -> HttpResponse:
    """Exclude a rater's ratings from the report, or include them again."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    rater = _rater(campaign, username)
    form = ExcludeForm(request.POST)
    form.is_valid()  # a boolean: absent means include
    excluded = form.cleaned_data["excluded"]
    rater_exclude(campaign=campaign, user=rater, excluded=excluded, by=request.user)
    messages.success(request, f"{rater.get_username()} "
                              f"{'excluded from' if excluded else 'included in'} the report.")
    return _detail(campaign, "qc")


@login_required
@require_POST
def qc_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Add degraded copies or repeats of real outputs."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    form = QcCreateForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        messages.error(request, f"Not created: {field}: {errors[0]}")
        return _detail(campaign, "qc")
    data = form.cleaned_data
    create = qc_degraded_create if data["what"] == "degraded" else qc_repeats_create
    try:
        with transaction.atomic():
            made = create(campaign=campaign, count=data["count"], seed=data["seed"],
                          by=request.user)
    except (ValueError, ValidationError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, f"Not created: {message}")
    else:
        noun = "degraded copies" if data["what"] == "degraded" else "repeats"
        messages.success(request, f"Created {made} {noun}.")
    return _detail(campaign, "qc")
