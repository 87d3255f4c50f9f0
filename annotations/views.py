"""Staff and admin pages: campaign list, campaign overview with report, bundle upload."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotations.forms import CampaignImportForm, RatingsImportForm
from annotations.selectors import (
    campaign_get_for_admin,
    campaign_list_for_admin,
    membership_list_for_rater,
)
from annotations.services import ImportFailed, campaign_import, ratings_import
from metrics.services import report_build


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Campaigns the user administers, and those they rate in."""
    administered = campaign_list_for_admin(user=request.user)
    rating_in = membership_list_for_rater(user=request.user)
    return render(request, "annotations/home.html",
                  {"administered": administered, "rating_in": rating_in})


@login_required
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Overview for a campaign admin: per-system scores, agreement, downloads."""
    campaign = campaign_get_for_admin(user=request.user, slug=slug)
    report = report_build(campaign=campaign)
    return render(request, "annotations/campaign_detail.html", {
        "campaign": campaign, "report": report, "ratings_form": RatingsImportForm(),
    })


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
