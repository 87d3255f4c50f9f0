"""Campaign lifecycle: create from a validated spec, update, delete, memberships."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotations.models import Campaign, CampaignMembership, Criterion, System

from .problems import ImportFailed, Problem
from .spec import CampaignSpec

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
