"""Metric runs and their stored values (segment-level per output, corpus-level per system)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class MetricRun(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    campaign = models.ForeignKey(
        "annotations.Campaign", on_delete=models.CASCADE, related_name="metric_runs"
    )
    metrics = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    outputs_total = models.PositiveIntegerField(default=0)
    outputs_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    versions = models.JSONField(default=dict, blank=True, help_text="library versions used")
    skipped = models.JSONField(
        default=dict, blank=True, help_text="metric name -> why it was not computed"
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="metric options (tokenizer, ...) used by every chunk"
    )
    force = models.BooleanField(
        default=False, help_text="recompute every value, ignoring the stored fingerprints"
    )
    segments_computed = models.PositiveIntegerField(default=0)
    segments_reused = models.PositiveIntegerField(
        default=0, help_text="segment values kept because their inputs had not changed"
    )
    corpus_computed = models.PositiveIntegerField(default=0)
    corpus_reused = models.PositiveIntegerField(
        default=0, help_text="system values kept because their inputs had not changed"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["campaign", "status"], name="metricrun_campaign_status")]

    def __str__(self) -> str:
        return f"metric run {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        """Fraction of chunks done, 0..1."""
        return self.chunks_done / self.chunks_total if self.chunks_total else 0.0


class MetricRunChunk(models.Model):
    """One chunk of a run: an inclusive output id range; `done_at` makes counting idempotent."""

    run = models.ForeignKey(MetricRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_output_id = models.BigIntegerField()
    last_output_id = models.BigIntegerField()
    outputs = models.PositiveIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    digests = models.JSONField(
        default=dict, blank=True,
        help_text="system id -> [outputs, hash sum of their inputs] (set when the chunk is done)",
    )

    class Meta:
        ordering = ["run_id", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "index"], name="metricrunchunk_run_index_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"


class MetricValue(models.Model):
    """A metric's value for one output (segment level) or one system (corpus level)."""

    run = models.ForeignKey(MetricRun, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="values")
    # No single-column indexes on campaign, system and output: the composite indexes below
    # lead with each of them (fewer indexes to maintain on every value written).
    campaign = models.ForeignKey(
        "annotations.Campaign", on_delete=models.CASCADE, related_name="metric_values",
        db_index=False,
    )
    system = models.ForeignKey(
        "annotations.System", on_delete=models.CASCADE, related_name="metric_values",
        db_index=False,
    )
    output = models.ForeignKey(
        "annotations.Output", null=True, blank=True, on_delete=models.CASCADE,
        related_name="metric_values", db_index=False,
    )
    metric = models.CharField(max_length=64)
    value = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, help_text="why the value is undefined")
    details = models.JSONField(default=dict, blank=True, help_text="signature, mode, versions")
    fingerprint = models.CharField(
        max_length=64, blank=True, default="", db_default="",
        help_text="hash of the value's inputs, metric, options and library versions",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["output", "metric"], condition=Q(output__isnull=False),
                name="metricvalue_segment_unique",
            ),
            models.UniqueConstraint(
                fields=["system", "metric"], condition=Q(output__isnull=True),
                name="metricvalue_corpus_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "metric"], name="metricvalue_campaign_metric"),
            # a system's segment values of one metric in output order (finalize)
            models.Index(fields=["system", "metric", "output"], condition=Q(output__isnull=False),
                         name="metricvalue_system_segments"),
        ]

    def __str__(self) -> str:
        return f"{self.metric}={self.value}"
