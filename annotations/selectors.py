"""Reads for campaigns and memberships, with permission scoping built in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotations.models import Assignment, Campaign, CampaignMembership, Output, QcKind, Rating


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


# --- the rater flow ---------------------------------------------------------------------

def campaign_get_for_rater(*, user: Any, slug: str) -> Campaign:
    """The campaign if the user is one of its raters; 404 otherwise (no existence leak)."""
    campaign = Campaign.objects.filter(
        slug=slug, memberships__user=user, memberships__role=CampaignMembership.Role.RATER
    ).first()
    if campaign is None:
        raise Http404("no such campaign")
    return campaign


def criterion_payload_list(*, campaign: Campaign) -> list[dict[str, Any]]:
    """The rubric as raters see it (key, label, help_text, min, max, labels, required).

    One plain-row query, in rubric order; the rater `next` payload embeds it as is.
    """
    rows = campaign.criteria.order_by("position", "id").values_list(
        "key", "label", "help_text", "scale_min", "scale_max", "scale_labels", "required")
    return [{"key": key, "label": label, "help_text": help_text, "min": float(low),
             "max": float(high), "labels": labels, "required": required}
            for key, label, help_text, low, high, labels, required in rows]


def assignment_get_for_rater(*, user: Any, pk: int) -> Assignment:
    """The user's own assignment in a campaign they rate; 404 for anyone else's."""
    member = CampaignMembership.objects.filter(
        campaign=OuterRef("campaign"), user=user, role=CampaignMembership.Role.RATER)
    assignment = (
        Assignment.objects.select_related("campaign", "output__item")
        .filter(Exists(member), pk=pk, rater=user).first()
    )
    if assignment is None:
        raise Http404("no such assignment")
    return assignment


def assignment_previous_for_rater(*, user: Any, campaign: Campaign,
                                  before: Assignment | None = None) -> Assignment | None:
    """The user's most recent submitted assignment (before `before` in their queue), or None.

    Loaded with its outputs, item and campaign, ready for the edit form.
    """
    queryset = (Assignment.objects.select_related("campaign", "output__item", "output_b")
                .filter(campaign=campaign, rater=user, status=Assignment.Status.SUBMITTED))
    if before is not None:
        queryset = queryset.filter(Q(position__lt=before.position)
                                   | Q(position=before.position, pk__lt=before.pk))
    return queryset.order_by("-position", "-pk").first()


def rating_get_for_assignment(*, user: Any, assignment: Assignment) -> Rating | None:
    """The user's rating of the assignment's output (or pair), with its values; None if none.

    Only the user's own assignment: anyone else's gives None.
    """
    if assignment.rater_id != user.pk:
        return None
    return (Rating.objects.prefetch_related("values__criterion")
            .filter(rater=user, output_id=assignment.output_id,
                    output_b_id=assignment.output_b_id).first())


def campaign_get_for_progress(*, user: Any, slug: str) -> tuple[Campaign, bool]:
    """The campaign and whether the user administers it; 404 for non-members."""
    campaign = Campaign.objects.filter(slug=slug).first()
    if campaign is None:
        raise Http404("no such campaign")
    role = (CampaignMembership.objects.filter(campaign=campaign, user=user)
            .values_list("role", flat=True).first())
    if user.is_staff or role == CampaignMembership.Role.ADMIN:
        return campaign, True
    if role is None:
        raise Http404("no such campaign")
    return campaign, False


@dataclass(frozen=True)
class RaterProgress:
    rater: str
    done: int
    assigned: int
    total: int


@dataclass(frozen=True)
class SystemCoverage:
    name: str
    outputs: int
    submitted: int
    assigned: int
    coverage: float


@dataclass(frozen=True)
class CampaignProgress:
    campaign: str
    status: str
    units: int
    total: int
    done: int
    me: RaterProgress
    raters: list[RaterProgress] | None
    systems: list[SystemCoverage] | None


def real_output_q(prefix: str = "") -> Q:
    """Outputs that count: neither imported control items nor the platform's QC copies."""
    return Q(**{f"{prefix}control__isnull": True}) & Q(**{f"{prefix}item__qc_kind": QcKind.NONE})


def _units_total(campaign: Campaign) -> int:
    """Real units of the campaign: outputs, or output pairs of one item (pairwise)."""
    outputs = Output.objects.filter(real_output_q(), item__campaign=campaign)
    if campaign.kind != Campaign.Kind.PAIRWISE:
        return outputs.count()
    per_item = (outputs.order_by().values("item").annotate(n=Count("pk"))
                .values_list("n", flat=True))
    return sum(n * (n - 1) // 2 for n in per_item)


def _rater_rows(campaign: Campaign, now: datetime) -> QuerySet[Any]:
    real = real_output_q("output__")
    return (
        Assignment.objects.filter(campaign=campaign).order_by().values("rater_id",
                                                                       "rater__username")
        .annotate(done=Count("pk", filter=Q(status=Assignment.Status.SUBMITTED)),
                  assigned=Count("pk", filter=Q(status=Assignment.Status.ASSIGNED,
                                                lease_expires_at__gt=now)),
                  qc=Count("pk", filter=~real & (Q(status=Assignment.Status.SUBMITTED) | Q(
                      status=Assignment.Status.ASSIGNED, lease_expires_at__gt=now))))
    )


def campaign_progress_get(*, campaign: Campaign, user: Any, admin: bool,
                          now: datetime | None = None) -> CampaignProgress:
    """Done/assigned/total for the user; with admin, every rater and per-system coverage.

    Campaign `units`, `total` and `done` count real units only (QC items never count). A
    rater's own done/assigned count every item they were given, QC included, and their total
    adds their QC items to their share of real units, so QC items look like any other item
    and the bar never runs past its end.
    """
    now = now or timezone.now()
    units = _units_total(campaign)
    quota = (campaign.options or {}).get("quota")
    rater_total = min(int(quota), units) if quota is not None else units
    rows = _rater_rows(campaign, now)
    mine = next(iter(rows.filter(rater_id=user.pk)), {"done": 0, "assigned": 0, "qc": 0})
    me = RaterProgress(user.get_username(), mine["done"], mine["assigned"],
                       rater_total + mine["qc"])
    done = Assignment.objects.filter(real_output_q("output__"), campaign=campaign,
                                     status=Assignment.Status.SUBMITTED).count()
    raters = systems = None
    if admin:
        raters = [RaterProgress(r["rater__username"], r["done"], r["assigned"],
                                rater_total + r["qc"])
                  for r in rows.order_by("rater__username")]
        systems = _system_coverage(campaign, now)
    return CampaignProgress(campaign.slug, campaign.status, units, units * campaign.overlap,
                            done, me, raters, systems)


def _system_coverage(campaign: Campaign, now: datetime) -> list[SystemCoverage]:
    counts: dict[str, dict[str, int]] = {}
    for side in ("output", "output_b"):
        rows = (
            Assignment.objects.filter(real_output_q(f"{side}__"), campaign=campaign,
                                      **{f"{side}__isnull": False})
            .order_by().values(name=F(f"{side}__system__name"))
            .annotate(submitted=Count("pk", filter=Q(status=Assignment.Status.SUBMITTED)),
                      assigned=Count("pk", filter=Q(status=Assignment.Status.ASSIGNED,
                                                    lease_expires_at__gt=now)))
        )
        for row in rows:
            entry = counts.setdefault(row["name"], {"submitted": 0, "assigned": 0})
            entry["submitted"] += row["submitted"]
            entry["assigned"] += row["assigned"]
    result = []
    real = Q(outputs__control__isnull=True, outputs__item__qc_kind=QcKind.NONE)
    for system in campaign.systems.annotate(n=Count("outputs", filter=real)).order_by("name"):
        entry = counts.get(system.name, {"submitted": 0, "assigned": 0})
        slots = system.n * campaign.overlap
        if campaign.kind == Campaign.Kind.PAIRWISE:
            slots *= max(campaign.systems.count() - 1, 1)
        result.append(SystemCoverage(system.name, system.n, entry["submitted"],
                                     entry["assigned"],
                                     entry["submitted"] / slots if slots else 0.0))
    return result


# Raters (the create_rater command).
