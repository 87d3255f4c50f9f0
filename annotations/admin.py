"""Django admin for every annotations model: list display, filters, search, inlines."""

from __future__ import annotations

from django.contrib import admin

from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Criterion,
    Invitation,
    Item,
    Output,
    Rating,
    RatingRevision,
    RatingValue,
    System,
)


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0
    fields = ("position", "key", "label", "scale_min", "scale_max", "level", "required")


class SystemInline(admin.TabularInline):
    model = System
    extra = 0
    fields = ("name", "is_baseline", "attributes", "training_time_s", "gpu_memory_mb")


class MembershipInline(admin.TabularInline):
    model = CampaignMembership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "kind", "status", "overlap", "baseline", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "slug")
    readonly_fields = ("created_at", "updated_at")
    raw_id_fields = ("baseline", "created_by")
    inlines = [CriterionInline, SystemInline, MembershipInline]


@admin.register(Criterion)
class CriterionAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "campaign", "scale_min", "scale_max", "level", "required")
    list_filter = ("level", "required", "campaign")
    search_fields = ("key", "label", "campaign__slug")


@admin.register(System)
class SystemAdmin(admin.ModelAdmin):
    list_display = ("name", "campaign", "is_baseline", "training_time_s", "gpu_memory_mb")
    list_filter = ("is_baseline", "campaign")
    search_fields = ("name", "campaign__slug")


class OutputInline(admin.TabularInline):
    model = Output
    extra = 0
    fields = ("system", "text", "latency_ms", "token_count")
    raw_id_fields = ("system",)
    show_change_link = True


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("external_id", "campaign", "group", "short_input")
    list_filter = ("campaign",)
    search_fields = ("external_id", "input", "group")
    list_select_related = ("campaign",)
    inlines = [OutputInline]

    @admin.display(description="input")
    def short_input(self, item: Item) -> str:
        return item.input[:80]


@admin.register(Output)
class OutputAdmin(admin.ModelAdmin):
    list_display = ("id", "item", "system", "short_text", "latency_ms", "token_count")
    list_filter = ("system__campaign", "system")
    search_fields = ("item__external_id", "text", "system__name")
    list_select_related = ("item", "system")
    raw_id_fields = ("item", "system")

    @admin.display(description="text")
    def short_text(self, output: Output) -> str:
        return output.text[:80]


@admin.register(CampaignMembership)
class CampaignMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "campaign", "role", "created_at")
    list_filter = ("role", "campaign")
    search_fields = ("user__username", "campaign__slug")
    raw_id_fields = ("user",)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("campaign", "email", "role", "created_at", "accepted_at")
    list_filter = ("role", "campaign")
    search_fields = ("email", "campaign__slug")
    raw_id_fields = ("created_by", "accepted_by")


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "rater", "output", "status", "lease_expires_at",
                    "submitted_at")
    list_filter = ("status", "campaign")
    search_fields = ("rater__username", "output__item__external_id")
    raw_id_fields = ("rater", "output", "output_b")
    list_select_related = ("campaign", "rater")


class RatingValueInline(admin.TabularInline):
    model = RatingValue
    extra = 0
    raw_id_fields = ("criterion",)


class RatingRevisionInline(admin.TabularInline):
    model = RatingRevision
    extra = 0
    readonly_fields = ("values", "choice", "comment", "edited_by", "created_at")
    can_delete = False


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("id", "rater", "output", "choice", "source", "time_spent_ms", "created_at")
    list_filter = ("source", "output__system__campaign")
    search_fields = ("rater__username", "output__item__external_id", "comment")
    raw_id_fields = ("rater", "output", "output_b", "assignment")
    list_select_related = ("rater",)
    inlines = [RatingValueInline, RatingRevisionInline]


@admin.register(RatingValue)
class RatingValueAdmin(admin.ModelAdmin):
    list_display = ("id", "rating", "criterion", "value")
    list_filter = ("criterion__campaign", "criterion__key")
    search_fields = ("rating__rater__username",)
    raw_id_fields = ("rating", "criterion")
    list_select_related = ("criterion",)


@admin.register(RatingRevision)
class RatingRevisionAdmin(admin.ModelAdmin):
    list_display = ("id", "rating", "edited_by", "created_at")
    raw_id_fields = ("rating", "edited_by")
