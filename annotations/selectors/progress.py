"""Campaign progress per rater and system, and the rater's "My campaigns" rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from annotations.models import (
    Assignment,
    Campaign,
    Output,
    QcKind,
)

from .access import membership_list_for_rater


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


# --- the home page ---------------------------------------------------------------------


@dataclass(frozen=True)
class MyCampaign:
    """A row of "My campaigns" on the home page."""

    campaign: Campaign
    progress: RaterProgress
    started: bool
    open: bool


def rater_campaign_rows(*, user: Any) -> list[MyCampaign]:
    """The campaigns the user rates in, each with their own progress, for the home page."""
    rows = []
    for membership in membership_list_for_rater(user=user).order_by("campaign__name"):
        campaign = membership.campaign
        progress = campaign_progress_get(campaign=campaign, user=user, admin=False).me
        rows.append(MyCampaign(campaign, progress, bool(progress.done or progress.assigned),
                               campaign.status == Campaign.Status.ACTIVE))
    return rows
