"""Staff and admin pages: campaign list, campaign overview with report, bundle upload."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotations.forms import CampaignImportForm, RatingsImportForm
from annotations.forms_staff import InvitationForm, QcCreateForm
from annotations.models import Campaign, CampaignMembership, Invitation
from annotations.selectors import (
    campaign_get_for_admin,
    campaign_list_for_admin,
    campaign_progress_get,
    membership_list_for_rater,
    rater_campaign_rows,
)
from annotations.selectors_qc import qc_rater_stats
from annotations.services import ImportFailed, campaign_import, ratings_import
from annotations.services.campaigns import STATUS_TRANSITIONS
from metrics.services import report_build


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Campaigns the user administers, and those they rate in."""
    administered = campaign_list_for_admin(user=request.user)
    rating_in = membership_list_for_rater(user=request.user)
    return render(request, "annotations/home.html",
                  {"administered": administered, "rating_in": rating_in,
                   "my_campaigns": rater_campaign_rows(user=request.user)})


@login_required
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The campaign admin's page: status, setup, invitations, live progress, QC, report."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    report = report_build(campaign=campaign)
    invitations = (Invitation.objects.filter(campaign=campaign)
                   .select_related("accepted_by").order_by("-reusable", "-created_at"))
    return render(request, "annotations/campaign_detail.html", {
        "campaign": campaign, "report": report, "ratings_form": RatingsImportForm(),
        "progress": campaign_progress_get(campaign=campaign, user=request.user, admin=True),
        "crowd_link": next((i for i in invitations if i.reusable and i.revoked_at is None),
                           None),
        "invitations": [i for i in invitations if not i.reusable],
        "participants": _crowd_participants(campaign),
        "invitation_form": InvitationForm(), "qc_form": QcCreateForm(),
        "qc_stats": qc_rater_stats(campaign=campaign),
        "transitions": _transitions(campaign),
    })


PARTICIPANTS_SHOWN = 100


def _crowd_participants(campaign: Campaign) -> dict[str, object]:
    """The latest crowd participants with their completion codes, and how many there are."""
    members = (CampaignMembership.objects.filter(campaign=campaign).exclude(external_id="")
               .select_related("user").order_by("-created_at"))
    return {"latest": list(members[:PARTICIPANTS_SHOWN]), "count": members.count()}


def _transitions(campaign: Campaign) -> list[tuple[str, str]]:
    """(status, button label) for the moves the campaign's status allows."""
    labels = {Campaign.Status.ACTIVE: "Resume" if campaign.status == Campaign.Status.PAUSED
              else "Start", Campaign.Status.PAUSED: "Pause", Campaign.Status.CLOSED: "Close"}
    return [(status, labels[status]) for status in
            (Campaign.Status.ACTIVE, Campaign.Status.PAUSED, Campaign.Status.CLOSED)
            if status in STATUS_TRANSITIONS[campaign.status]]


@staff_member_required
@require_http_methods(["GET", "POST"])
def campaign_import_page(request: HttpRequest) -> HttpResponse:
    """Upload a spec and outputs; problems are listed inline and nothing is written."""
    form = CampaignImportForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        spec = form.cleaned_data["spec"]
        outputs = form.cleaned_data["outputs"]
        try:
            result = campaign_import(
                spec_stream=spec, spec_name=spec.name, outputs_stream=outputs,
                outputs_name=outputs.name, outputs_format=form.cleaned_data["format"] or None,
                created_by=request.user,
            )
        except ImportFailed as failure:
            problems = failure.lines
        else:
            messages.success(request, f"Imported {result.outputs} outputs of {result.systems} "
                                      f"systems on {result.items} items.")
            return redirect("annotations:campaign-detail", slug=result.campaign.slug)
    return render(request, "annotations/campaign_import.html",
                  {"form": form, "problems": problems})


@login_required
@require_http_methods(["POST"])
def ratings_import_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload existing judgments into a campaign you administer."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    form = RatingsImportForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = ratings_import(campaign=campaign, stream=upload, name=upload.name)
        except ImportFailed as failure:
            for line in failure.lines:
                messages.error(request, line)
        else:
            messages.success(request, f"Imported {result.rows} rating values.")
    else:
        messages.error(request, "Choose a file to upload.")
    return redirect("annotations:campaign-detail", slug=campaign.slug)
