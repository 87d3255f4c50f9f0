"""Campaign lifecycle: create from a validated spec, edit a draft, upload its outputs, start,
pause and close, delete, memberships."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

from django.db import transaction

from annotations.models import (
    Campaign,
    CampaignMembership,
    Criterion,
    Item,
    Output,
    Rating,
    RatingValue,
    System,
)

from .bulk import analyze_tables
from .problems import ImportFailed, Problem, ProblemList
from .spec import CampaignSpec

if TYPE_CHECKING:
    from .imports.common import CampaignImportResult

UPDATABLE_FIELDS = ("name", "instructions", "status", "overlap")


@transaction.atomic
def campaign_create(*, spec: CampaignSpec, spec_name: str = "spec",
                    created_by: Any = None) -> Campaign:
    """Create the campaign, its rubric and declared systems; the creator becomes its admin."""
    if Campaign.objects.filter(slug=spec.slug).exists():
        raise ImportFailed([Problem(spec_name, spec.line_of.get("slug", 1),
                                    f"campaign {spec.slug!r} already exists", field="slug")])
    campaign = Campaign(
        name=spec.name, slug=spec.slug, kind=spec.kind, instructions=spec.instructions,
        overlap=spec.overlap, metrics=list(spec.metrics), composite=spec.composite,
        options=spec.options, created_by=created_by,
    )
    campaign.full_clean()
    campaign.save()
    Criterion.objects.bulk_create([
        Criterion(campaign=campaign, key=c.key, label=c.label, help_text=c.help_text,
                  scale_min=c.scale_min, scale_max=c.scale_max, scale_labels=c.scale_labels,
                  level=c.level, required=c.required, position=i)
        for i, c in enumerate(spec.criteria)
    ])
    System.objects.bulk_create([
        System(campaign=campaign, name=s.name, attributes=s.attributes,
               training_time_s=s.training_time_s, gpu_memory_mb=s.gpu_memory_mb,
               is_baseline=s.name == spec.baseline)
        for s in spec.systems
    ])
    if created_by is not None:
        membership_add(campaign=campaign, user=created_by, role=CampaignMembership.Role.ADMIN)
    return campaign


def campaign_update(*, campaign: Campaign, **changes: Any) -> Campaign:
    """Change the editable fields (name, instructions, status, overlap) after validation."""
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(campaign, name, value)
    campaign.full_clean()
    campaign.save(update_fields=[*changes, "updated_at"])
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign with everything in it."""
    campaign.delete()


def membership_add(*, campaign: Campaign, user: Any, role: str) -> CampaignMembership:
    """Join user to campaign with role (an existing membership takes the new role)."""
    membership, _ = CampaignMembership.objects.update_or_create(
        campaign=campaign, user=user, defaults={"role": role}
    )
    return membership


class CampaignStateError(ValueError):
    """A change the campaign's current state does not allow (one line, for the user)."""


# The status a campaign may move to from each status.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    Campaign.Status.DRAFT: frozenset({Campaign.Status.ACTIVE}),
    Campaign.Status.ACTIVE: frozenset({Campaign.Status.PAUSED, Campaign.Status.CLOSED}),
    Campaign.Status.PAUSED: frozenset({Campaign.Status.ACTIVE, Campaign.Status.CLOSED}),
    Campaign.Status.CLOSED: frozenset(),
}


@transaction.atomic
def campaign_status_set(*, campaign: Campaign, status: str, by: Any) -> Campaign:
    """Start, pause, resume or close a campaign; starting needs criteria and outputs."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if status not in Campaign.Status.values:
        raise CampaignStateError(f"unknown status {status!r}")
    if status not in STATUS_TRANSITIONS[locked.status]:
        raise CampaignStateError(
            f"a {locked.get_status_display().lower()} campaign cannot become "
            f"{Campaign.Status(status).label.lower()}")
    if locked.status == Campaign.Status.DRAFT:
        if not locked.criteria.exists():
            raise CampaignStateError("add at least one criterion before starting")
        if not Output.objects.filter(item__campaign=locked).exists():
            raise CampaignStateError("upload the outputs before starting")
    locked.status = status
    locked.full_clean()
    locked.save(update_fields=["status", "updated_at"])
    if status == Campaign.Status.ACTIVE:
        from .assignments import assignment_coverage_rebuild  # it imports this module

        # The rubric, kind and outputs may all have changed while paused or in draft.
        assignment_coverage_rebuild(campaign=locked)
    campaign.status, campaign.updated_at = locked.status, locked.updated_at
    return campaign


def _draft_locked(campaign: Campaign) -> Campaign:
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.status != Campaign.Status.DRAFT:
        raise CampaignStateError("only a draft campaign can be edited this way")
    return locked


@transaction.atomic
def campaign_draft_update(*, campaign: Campaign, spec: CampaignSpec, by: Any,
                          baseline_id: int | None = None) -> Campaign:
    """Rewrite a draft's settings and rubric from a spec (its slug stays).

    Criteria are matched by key: kept ones are updated in place, new ones created, and
    dropped ones deleted unless ratings already use them (ratings are never lost).
    """
    locked = _draft_locked(campaign)
    existing = {c.key: c for c in locked.criteria.all()}
    dropped = set(existing) - {c.key for c in spec.criteria}
    used = sorted(RatingValue.objects.filter(criterion__in=[existing[k] for k in dropped])
                  .values_list("criterion__key", flat=True).distinct())
    if used:
        raise CampaignStateError(f"criterion {used[0]!r} has ratings and cannot be removed")
    Criterion.objects.filter(campaign=locked, key__in=dropped).delete()
    for position, c in enumerate(spec.criteria):
        criterion = existing.get(c.key) or Criterion(campaign=locked, key=c.key)
        for name, value in (("label", c.label), ("help_text", c.help_text),
                            ("scale_min", c.scale_min), ("scale_max", c.scale_max),
                            ("scale_labels", c.scale_labels), ("level", c.level),
                            ("required", c.required), ("position", position)):
            setattr(criterion, name, value)
        criterion.full_clean()
        criterion.save()
    keys = {c.key for c in spec.criteria} | set(spec.metrics)
    fields: tuple[tuple[str, Any], ...] = (
        ("name", spec.name), ("kind", spec.kind), ("instructions", spec.instructions),
        ("overlap", spec.overlap), ("metrics", list(spec.metrics)), ("options", spec.options),
        ("composite", {k: w for k, w in (locked.composite or {}).items() if k in keys}))
    for name, value in fields:
        setattr(locked, name, value)
    if baseline_id is not None or locked.baseline_id is not None:
        _baseline_set(locked, baseline_id)
    locked.full_clean()
    locked.save()
    return locked


def _baseline_set(campaign: Campaign, system_id: int | None) -> None:
    if system_id is not None and not campaign.systems.filter(pk=system_id).exists():
        raise CampaignStateError("the baseline must be one of the campaign's systems")
    others = campaign.systems.filter(is_baseline=True)
    if system_id is not None:
        others = others.exclude(pk=system_id)
    others.update(is_baseline=False)
    if system_id is not None:
        campaign.systems.filter(pk=system_id).update(is_baseline=True)
    campaign.baseline_id = system_id


def campaign_outputs_upload(*, campaign: Campaign, stream: IO[bytes], name: str,
                            fmt: str | None = None, baseline: str = "",
                            by: Any = None) -> CampaignImportResult:
    """Load (or replace) a draft campaign's outputs from JSONL/CSV; all or nothing.

    The rows are validated and written by the bundle import's loader; a problem rolls
    everything back, including the removal of the outputs uploaded before.
    """
    from .imports.common import CampaignImportResult, format_resolve
    from .imports.outputs import outputs_load

    resolved = format_resolve(name, fmt)
    with transaction.atomic():
        locked = _draft_locked(campaign)
        if Rating.objects.filter(output__item__campaign=locked).exists():
            raise CampaignStateError("this draft already has ratings; its outputs cannot be "
                                     "replaced")
        Item.objects.filter(campaign=locked).delete()
        locked.baseline = None
        System.objects.filter(campaign=locked).delete()
        problems = ProblemList()
        loader = outputs_load(campaign=locked, stream=stream, name=name, fmt=resolved,
                              problems=problems)
        if not problems and not loader.outputs_written:
            problems.add(Problem(name, 1, "the file has no outputs"))
        if not problems and baseline:
            if baseline not in loader.systems:
                problems.add(Problem(name, 1, f"system {baseline!r} has no outputs",
                                     field="baseline"))
            else:
                _baseline_set(locked, loader.systems[baseline])
        problems.raise_if_any()
        locked.save(update_fields=["baseline", "updated_at"])
    analyze_tables(Item)  # fresh planner statistics, as after campaign_import
    campaign.baseline_id = locked.baseline_id
    return CampaignImportResult(campaign=locked, systems=len(loader.systems),
                                items=len(loader.items), outputs=loader.outputs_written)
