"""Django admin for metric runs and values."""

from __future__ import annotations

from django.contrib import admin

from metrics.models import MetricRun, MetricRunChunk, MetricValue


class MetricRunChunkInline(admin.TabularInline):
    model = MetricRunChunk
    extra = 0
    readonly_fields = ("index", "first_output_id", "last_output_id", "outputs", "done_at")
    can_delete = False


@admin.register(MetricRun)
class MetricRunAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "status", "chunks_done", "chunks_total", "created_at",
                    "finished_at")
    list_filter = ("status", "campaign")
    search_fields = ("campaign__slug", "error")
    readonly_fields = ("created_at", "started_at", "finished_at", "skipped")
    inlines = [MetricRunChunkInline]


@admin.register(MetricValue)
class MetricValueAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "system", "output", "metric", "value", "reason")
    list_filter = ("metric", "campaign")
    search_fields = ("metric", "system__name")
    raw_id_fields = ("output", "system", "run")
    list_select_related = ("campaign", "system")
