"""Campaigns, systems, items, outputs, rubric, assignments and ratings (DESIGN.md §3)."""

from __future__ import annotations

import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class Campaign(models.Model):
    class Kind(models.TextChoices):
        RATING = "rating", "Rating (one output at a time)"
        PAIRWISE = "pairwise", "Pairwise (A/B)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RATING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    instructions = models.TextField(blank=True)
    overlap = models.PositiveSmallIntegerField(
        default=3, help_text="k: how many raters judge each output"
    )
    metrics = models.JSONField(default=list, blank=True, help_text="automatic metric names")
    composite = models.JSONField(
        default=dict, blank=True, help_text="weights per criterion/metric for the composite score"
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="settings such as tokenizer, lease minutes, quota"
    )
    baseline = models.ForeignKey(
        "System", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="campaigns_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="campaign_overlap_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Criterion(models.Model):
    class Level(models.TextChoices):
        NOMINAL = "nominal", "Nominal"
        ORDINAL = "ordinal", "Ordinal"
        INTERVAL = "interval", "Interval"
        RATIO = "ratio", "Ratio"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="criteria")
    key = models.SlugField(max_length=64)
    label = models.CharField(max_length=200)
    help_text = models.TextField(blank=True)
    scale_min = models.FloatField(default=1)
    scale_max = models.FloatField(default=5)
    scale_labels = models.JSONField(
        default=dict, blank=True, help_text='value -> label, e.g. {"1": "poor", "5": "excellent"}'
    )
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.ORDINAL)
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["campaign_id", "position", "id"]
        verbose_name_plural = "criteria"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "key"], name="criterion_key_unique"),
            models.CheckConstraint(
                condition=Q(scale_min__lt=F("scale_max")), name="criterion_scale_min_lt_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.scale_min:g}–{self.scale_max:g})"

    def accepts(self, value: float) -> bool:
        """True when value is a finite number inside this criterion's scale."""
        return math.isfinite(value) and self.scale_min <= value <= self.scale_max

    def clean(self) -> None:
        if self.scale_min >= self.scale_max:
            raise ValidationError({"scale_max": "must be greater than scale_min"})


class System(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="systems")
    name = models.CharField(max_length=200)
    is_baseline = models.BooleanField(default=False)
    attributes = models.JSONField(
        default=dict, blank=True, help_text='ablation factors, e.g. {"lr": "1e-5", "data": "v2"}'
    )
    training_time_s = models.FloatField(null=True, blank=True)
    gpu_memory_mb = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="system_name_unique"),
            models.UniqueConstraint(
                fields=["campaign"], condition=Q(is_baseline=True), name="one_baseline_per_campaign"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class QcKind(models.TextChoices):
    """Items the platform adds for quality control (imported control items carry `control`)."""

    NONE = "", "Regular item"
    DEGRADED = "degraded", "Degraded copy of a real output"
    REPEAT = "repeat", "Repeat of a real output"


class Item(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=200)
    input = models.TextField(blank=True)
    references = models.JSONField(default=list, blank=True)
    label = models.JSONField(null=True, blank=True, help_text="gold class, number or classes")
    relevance = models.JSONField(null=True, blank=True, help_text="doc id -> graded relevance")
    gold_boxes = models.JSONField(null=True, blank=True)
    group = models.CharField(max_length=200, blank=True, help_text="perturbation group")
    metadata = models.JSONField(default=dict, blank=True)
    qc_kind = models.CharField(
        max_length=16, choices=QcKind.choices, blank=True, default=QcKind.NONE, db_default="",
        help_text="quality-control copy made by the platform; left out of every report",
    )

    class Meta:
        ordering = ["campaign_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"], name="item_external_id_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "group"], name="item_campaign_group"),
            # Created by migration 0006 in SQL; declared here so Django knows it (0007).
            models.Index(fields=["campaign", "id"], name="item_campaign_id"),
        ]

    def __str__(self) -> str:
        return self.external_id


class Output(models.Model):
    # Both keys are covered by the composite indexes below. Instead of row-by-row foreign-key
    # triggers (two thirds of a bulk import's time), the per-statement trigger of migration
    # 0002 checks that the item and the system exist and belong to the same campaign, which a
    # foreign key cannot say; deletes cascade through Django.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="outputs",
                             db_index=False, db_constraint=False)
    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="outputs",
                               db_index=False, db_constraint=False)
    text = models.TextField(blank=True)
    logprobs = models.JSONField(null=True, blank=True)
    prediction = models.JSONField(null=True, blank=True)
    score = models.JSONField(null=True, blank=True)
    ranking = models.JSONField(null=True, blank=True)
    boxes = models.JSONField(null=True, blank=True, help_text="[[x1, y1, x2, y2], ...]")
    confidence = models.JSONField(null=True, blank=True, help_text="one score per box")
    returns = models.JSONField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    token_count = models.PositiveIntegerField(null=True, blank=True)
    control = models.JSONField(null=True, blank=True, help_text="criterion -> [low, high]")
    metadata = models.JSONField(default=dict, blank=True)
    qc_source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="qc_copies",
        db_constraint=False, db_index=False,  # no per-row trigger or index cost on imports
        help_text="the real output a degraded or repeated copy was made from",
    )
    qc_method = models.CharField(max_length=32, blank=True, default="", db_default="",
                                 help_text="how the copy was made: shuffle, truncate, ...")

    class Meta:
        ordering = ["item_id", "system_id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "system"], name="output_item_system_unique"),
        ]
        indexes = [
            models.Index(fields=["system", "item"], name="output_system_item"),
            models.Index(fields=["qc_source"], condition=Q(qc_source__isnull=False),
                         name="output_qc_source"),
        ]

    def __str__(self) -> str:
        return f"output {self.pk}"


class CampaignMembership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Campaign admin"
        RATER = "rater", "Rater"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="campaign_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RATER)
    created_at = models.DateTimeField(auto_now_add=True)
    excluded = models.BooleanField(
        default=False, db_default=False,
        help_text="an admin excluded this rater's ratings from the report")
    excluded_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True, default="", db_default="",
                                   help_text="crowd platform participant id")
    completion_code = models.CharField(max_length=64, blank=True, default="", db_default="",
                                       help_text="shown on the end page in crowd mode")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="membership_unique"),
        ]
        indexes = [models.Index(fields=["user", "role"], name="membership_user_role")]

    def __str__(self) -> str:
        return f"{self.user} in {self.campaign} ({self.role})"


class Invitation(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True)
    token = models.CharField(max_length=64, unique=True)
    role = models.CharField(
        max_length=16, choices=CampaignMembership.Role.choices,
        default=CampaignMembership.Role.RATER,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    reusable = models.BooleanField(
        default=False, db_default=False, help_text="an open crowd link anyone may join through")
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"invitation to {self.campaign} ({self.email or 'open'})"


class Assignment(models.Model):
    class Status(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="assignments")
    output_b = models.ForeignKey(
        Output, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments_as_b",
        help_text="second output of a pairwise comparison",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ASSIGNED)
    seed = models.BigIntegerField(default=0, help_text="order/side randomisation seed")
    position = models.PositiveIntegerField(default=0, help_text="order in the rater's queue")
    skip_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rater_id", "position", "id"]
        indexes = [
            models.Index(fields=["campaign", "rater", "status"], name="assignment_rater_status"),
            models.Index(fields=["output", "status"], name="assignment_output_status"),
            # The claim's indexes, created by migration 0006 in SQL and declared here (0007)
            # so a table rebuild (SQLite's ALTER) keeps them.
            models.Index(fields=["campaign", "lease_expires_at"], name="assignment_open_lease",
                         condition=models.Q(status="assigned")),
            models.Index(fields=["campaign", "rater", "position"],
                         name="assignment_rater_position"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Rating(models.Model):
    """One rater's judgment of one output (or output pair); values per criterion below."""

    class Source(models.TextChoices):
        FORM = "form", "Web form"
        API = "api", "API"
        IMPORT = "import", "Import"

    class Choice(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        TIE = "tie", "Tie"

    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ratings"
    )
    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="ratings")
    output_b = models.ForeignKey(
        Output, null=True, blank=True, on_delete=models.CASCADE, related_name="ratings_as_b",
        db_index=False,
    )
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="ratings",
        db_index=False,
    )
    choice = models.CharField(max_length=8, choices=Choice.choices, blank=True)
    # Bulk imports write rows by COPY without this column: the database fills the default.
    preferences = models.JSONField(
        default=dict, db_default={}, blank=True,
        help_text='pairwise: criterion key -> "A" | "B" | "tie" (A is output, B is output_b)')
    comment = models.TextField(blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    key = models.CharField(max_length=100, blank=True, help_text="client idempotency key")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.FORM)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rater", "output"], condition=Q(output_b__isnull=True),
                name="rating_rater_output_unique",
            ),
            models.UniqueConstraint(
                fields=["rater", "output", "output_b"], condition=Q(output_b__isnull=False),
                name="rating_rater_pair_unique",
            ),
        ]
        # Imported ratings have neither a pair nor an assignment: index only the rows that do.
        indexes = [
            models.Index(fields=["output_b"], condition=Q(output_b__isnull=False),
                         name="rating_output_b"),
            models.Index(fields=["assignment"], condition=Q(assignment__isnull=False),
                         name="rating_assignment"),
        ]

    def __str__(self) -> str:
        return f"rating {self.pk}"


class RatingValue(models.Model):
    """The score one rating gives on one criterion (unique per rater × output × criterion)."""

    # The hottest table (one row per score). Row-by-row foreign-key triggers would double the
    # cost of a bulk import, so existence of the rating and the criterion, and the scale
    # bounds, are checked per statement by the trigger of migration 0002 instead; deletes
    # cascade through Django. The rating side is covered by the (rating, criterion) index.
    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="values",
                               db_index=False, db_constraint=False)
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="values",
                                  db_constraint=False)
    value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rating", "criterion"], name="rating_value_unique"),
            # NaN is never a score; finite bounds are checked against the criterion's scale.
            models.CheckConstraint(condition=Q(value=F("value")), name="rating_value_not_nan"),
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}={self.value:g}"

    def clean(self) -> None:
        if not self.criterion.accepts(self.value):
            raise ValidationError(
                {"value": f"{self.value!r} is outside {self.criterion.scale_min:g}–"
                          f"{self.criterion.scale_max:g}"}
            )


class RatingRevision(models.Model):
    """The previous state of a rating, kept each time the rating is edited."""

    rating = models.ForeignKey(Rating, on_delete=models.CASCADE, related_name="revisions")
    values = models.JSONField(help_text="criterion key -> value before the edit")
    key = models.CharField(max_length=100, blank=True,
                           help_text="client idempotency key of the superseded submission")
    choice = models.CharField(max_length=8, blank=True)
    preferences = models.JSONField(default=dict, db_default={}, blank=True)
    comment = models.TextField(blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rating_id", "created_at"]

    def __str__(self) -> str:
        return f"revision of rating {self.rating_id}"
