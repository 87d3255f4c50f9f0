"""Rater pages: instructions, the rating (or A/B) page, edits of earlier items, skip, end page.

Views stay thin: selectors read (and scope everything to the rater's own work, 404 for the
rest), the engine hands out assignments, rating_submit stores judgments, and every POST
redirects (POST/redirect/GET).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotations.forms_rater import RatingForm, SkipForm
from annotations.models import Assignment, Campaign, Rating
from annotations.selectors import (
    RaterProgress,
    assignment_get_for_rater,
    assignment_previous_for_rater,
    campaign_get_for_rater,
    campaign_progress_get,
    membership_list_for_rater,
    rating_get_for_assignment,
)
from annotations.services.assignments import assignment_claim_next, assignment_skip
from annotations.services.ratings import rating_scores, rating_submit

UNAVAILABLE: dict[str, str] = {
    Campaign.Status.DRAFT: "This campaign has not started yet. Please come back later.",
    Campaign.Status.PAUSED: "This campaign is paused for now. Your work so far is saved; "
                            "please come back later.",
    Campaign.Status.CLOSED: "This campaign is closed. Thank you for your work.",
}


def _progress(campaign: Campaign, user: Any) -> RaterProgress:
    return campaign_progress_get(campaign=campaign, user=user, admin=False).me



def _unavailable(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """A calm page for a campaign that is not taking ratings."""
    return render(request, "rater/unavailable.html", {
        "campaign": campaign, "message": UNAVAILABLE.get(campaign.status, ""),
        "progress": _progress(campaign, request.user),
    })


def _own_assignment(request: HttpRequest, slug: str, pk: int) -> tuple[Campaign, Assignment]:
    campaign = campaign_get_for_rater(user=request.user, slug=slug)
    assignment = assignment_get_for_rater(user=request.user, pk=pk)
    if assignment.campaign_id != campaign.pk:
        raise Http404("no such assignment")
    assignment.campaign = campaign
    return campaign, assignment


def _form(campaign: Campaign, assignment: Assignment, user: Any,
          data: Any = None) -> RatingForm:
    criteria = list(campaign.criteria.all())
    if data is not None:
        return RatingForm(data, campaign=campaign, criteria=criteria)
    rating = rating_get_for_assignment(user=user, assignment=assignment)
    scores = rating_scores(rating=rating) if rating is not None else {}
    initial = RatingForm.initial_for(campaign=campaign, criteria=criteria, rating=rating,
                                     scores=scores)
    return RatingForm(campaign=campaign, criteria=criteria, initial=initial)


def _render_item(request: HttpRequest, campaign: Campaign, assignment: Assignment,
                 form: RatingForm, skip_form: SkipForm | None = None) -> HttpResponse:
    item = assignment.output.item
    show_references = (campaign.options or {}).get("show_references", True)
    editing = assignment.status != Assignment.Status.ASSIGNED
    pairwise = campaign.kind == Campaign.Kind.PAIRWISE
    return render(request, "rater/pairwise.html" if pairwise else "rater/rate.html", {
        "campaign": campaign, "assignment": assignment, "item": item,
        "output": assignment.output, "output_b": assignment.output_b if pairwise else None,
        "references": (item.references or []) if show_references else [],
        "form": form, "groups": form.groups(), "editing": editing, "pairwise": pairwise,
        "skip_form": None if editing else (skip_form or SkipForm()),
        "previous": assignment_previous_for_rater(user=request.user, campaign=campaign,
                                                  before=assignment),
        "progress": _progress(campaign, request.user),
    })


@login_required
def rater_campaign(request: HttpRequest, slug: str) -> HttpResponse:
    """The campaign's instructions and the rater's progress, then a start/continue button."""
    campaign = campaign_get_for_rater(user=request.user, slug=slug)
    return render(request, "rater/campaign.html", {
        "campaign": campaign, "progress": _progress(campaign, request.user),
        "message": UNAVAILABLE.get(campaign.status, ""),
        "pairwise": campaign.kind == Campaign.Kind.PAIRWISE,
    })


@login_required
def rater_item(request: HttpRequest, slug: str) -> HttpResponse:
    """The rater's current assignment (resumed after a logout), or the end page when done."""
    campaign = campaign_get_for_rater(user=request.user, slug=slug)
    if campaign.status != Campaign.Status.ACTIVE:
        return _unavailable(request, campaign)
    assignment = assignment_claim_next(campaign=campaign, rater=request.user)
    if assignment is None:
        return redirect("annotations:rater-done", slug=campaign.slug)
    assignment.campaign = campaign
    return _render_item(request, campaign, assignment,
                        _form(campaign, assignment, request.user))


@login_required
@require_http_methods(["GET", "POST"])
def rater_assignment(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """GET: an earlier item to edit, pre-filled. POST: store a rating, then the next item."""
    campaign, assignment = _own_assignment(request, slug, pk)
    if request.method == "GET":
        if assignment.status == Assignment.Status.ASSIGNED:
            return redirect("annotations:rater-item", slug=campaign.slug)
        return _render_item(request, campaign, assignment,
                            _form(campaign, assignment, request.user))
    editing = assignment.status != Assignment.Status.ASSIGNED
    form = _form(campaign, assignment, request.user, data=request.POST)
    if form.is_valid():
        try:
            rating_submit(assignment=assignment, rater=request.user,
                          source=Rating.Source.FORM, **form.submission())
        except ValidationError as error:
            form.add_service_errors(error.message_dict)
        else:
            if editing:
                messages.success(request, "Your changes are saved.")
            return redirect("annotations:rater-item", slug=campaign.slug)
    return _render_item(request, campaign, assignment, form)


@login_required
@require_http_methods(["POST"])
def rater_skip(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Skip the current item with a reason, then the next item."""
    campaign, assignment = _own_assignment(request, slug, pk)
    form = SkipForm(request.POST)
    if assignment.status != Assignment.Status.ASSIGNED:
        return redirect("annotations:rater-item", slug=campaign.slug)
    if not form.is_valid():
        return _render_item(request, campaign, assignment,
                            _form(campaign, assignment, request.user), skip_form=form)
    try:
        assignment_skip(assignment=assignment, rater=request.user, reason=form.reason_text())
    except ValidationError as error:  # rated meanwhile (another tab): nothing to skip
        messages.error(request, " ".join(error.messages))
    else:
        messages.info(request, "Item skipped.")
    return redirect("annotations:rater-item", slug=campaign.slug)


@login_required
def rater_done(request: HttpRequest, slug: str) -> HttpResponse:
    """Thanks, and the completion code in crowd mode; back to work if some is left."""
    campaign = campaign_get_for_rater(user=request.user, slug=slug)
    if campaign.status in (Campaign.Status.DRAFT, Campaign.Status.PAUSED):
        return _unavailable(request, campaign)
    if campaign.status == Campaign.Status.ACTIVE and assignment_claim_next(
            campaign=campaign, rater=request.user) is not None:
        return redirect("annotations:rater-item", slug=campaign.slug)
    membership = membership_list_for_rater(user=request.user).filter(campaign=campaign).first()
    return render(request, "rater/done.html", {
        "campaign": campaign, "progress": _progress(campaign, request.user),
        "completion_code": membership.completion_code if membership else "",
    })
