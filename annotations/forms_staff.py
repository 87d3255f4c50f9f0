"""Forms for the staff pages: campaign settings with a rubric formset, uploads, invitations,
rater actions and quality-control copies."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.validators import MaxValueValidator, MinValueValidator

from annotations.models import Campaign, Criterion

from .services.spec import LEVELS, RESERVED_SLUGS

# options.qc defaults (shared facts of issue 4); the form shows and stores all of them.
QC_DEFAULTS: dict[str, float | int] = {
    "control_rate": 0.0, "degraded_rate": 0.0, "repeat_rate": 0.0, "min_pass_rate": 0.8,
    "min_median_seconds": 2.0, "max_repeat_diff": 1.0, "degraded_alpha": 0.05,
    "min_qc_items": 3,
}
DEFAULT_LEASE_MINUTES = 30

DEFAULT_CRITERIA: list[dict[str, Any]] = [
    {"key": "fluency", "label": "Fluency", "help": "Is the text well-formed and natural?",
     "min": 1, "max": 5, "labels": "1: incomprehensible; 3: understandable; 5: native",
     "level": "ordinal", "required": True},
    {"key": "relevance", "label": "Relevance", "help": "Does it answer the input?",
     "min": 1, "max": 5, "labels": "1: off-topic; 5: fully on point", "level": "ordinal",
     "required": True},
    {"key": "accuracy", "label": "Accuracy", "help": "Is it correct against the reference?",
     "min": 1, "max": 5, "labels": "1: wrong; 5: fully correct", "level": "ordinal",
     "required": True},
    {"key": "satisfaction", "label": "User satisfaction",
     "help": "How satisfied would the user be with this answer?", "min": 1, "max": 5,
     "labels": "1: very unhappy; 5: delighted", "level": "ordinal", "required": True},
]


def _rate(label: str, **kwargs: Any) -> forms.FloatField:
    return forms.FloatField(label=label, min_value=0, max_value=1, **kwargs)


class CampaignForm(forms.Form):
    """A campaign's settings; the rubric comes from CriterionFormSet beside it."""

    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=100, help_text="used in links; cannot change later")
    kind = forms.ChoiceField(choices=Campaign.Kind.choices, initial=Campaign.Kind.RATING)
    overlap = forms.IntegerField(label="Overlap k", min_value=1, max_value=100, initial=3,
                                 help_text="raters per output")
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    baseline = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                      label="Baseline system")
    lease_minutes = forms.IntegerField(min_value=1, max_value=24 * 60,
                                       initial=DEFAULT_LEASE_MINUTES,
                                       help_text="unsubmitted work returns to the pool after")
    quota = forms.IntegerField(min_value=1, required=False,
                               help_text="most units one rater may take (empty: no limit)")
    show_references = forms.BooleanField(required=False, initial=True,
                                         label="Show references to raters")
    metrics = forms.CharField(required=False, max_length=2000,
                              help_text="automatic metric names, separated by spaces or commas "
                                        "(e.g. bleu chrf rougeL)")
    control_rate = _rate("Control items rate", initial=QC_DEFAULTS["control_rate"])
    degraded_rate = _rate("Degraded copies rate", initial=QC_DEFAULTS["degraded_rate"])
    repeat_rate = _rate("Repeats rate", initial=QC_DEFAULTS["repeat_rate"])
    min_pass_rate = _rate("Minimum QC pass rate", initial=QC_DEFAULTS["min_pass_rate"])
    min_median_seconds = forms.FloatField(min_value=0, initial=QC_DEFAULTS["min_median_seconds"],
                                          label="Minimum median seconds per item")
    max_repeat_diff = forms.FloatField(min_value=0, initial=QC_DEFAULTS["max_repeat_diff"],
                                       label="Maximum mean difference on repeats")
    degraded_alpha = forms.FloatField(
        initial=QC_DEFAULTS["degraded_alpha"], label="Significance level for degraded copies",
        validators=[MinValueValidator(0.0001), MaxValueValidator(0.5)])
    min_qc_items = forms.IntegerField(min_value=1, initial=QC_DEFAULTS["min_qc_items"],
                                      label="QC items needed before flagging")

    QC_FIELDS = tuple(QC_DEFAULTS)

    def __init__(self, *args: Any, campaign: Campaign | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        if campaign is not None:
            del self.fields["slug"]  # links already point at it
            systems = list(campaign.systems.values_list("pk", "name"))
            _choice_field(self, "baseline").choices = [("", "none"), *systems]
            if not systems:
                del self.fields["baseline"]
        else:
            del self.fields["baseline"]  # systems arrive with the outputs

    @classmethod
    def initial_for(cls, campaign: Campaign) -> dict[str, Any]:
        """The form's initial values from a saved campaign."""
        options = campaign.options or {}
        qc = {**QC_DEFAULTS, **(options.get("qc") or {})}
        return {
            "name": campaign.name, "kind": campaign.kind, "overlap": campaign.overlap,
            "instructions": campaign.instructions, "baseline": campaign.baseline_id,
            "lease_minutes": options.get("lease_minutes", DEFAULT_LEASE_MINUTES),
            "quota": options.get("quota"),
            "show_references": options.get("show_references", True),
            "metrics": " ".join(campaign.metrics or []),
            **{name: qc[name] for name in cls.QC_FIELDS},
        }

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"{slug!r} is reserved; choose another")
        if Campaign.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"a campaign {slug!r} already exists")
        return slug

    def clean_metrics(self) -> list[str]:
        return [m for m in re.split(r"[\s,]+", self.cleaned_data["metrics"]) if m]

    def spec_data(self, criteria: list[dict[str, Any]]) -> dict[str, Any]:
        """The cleaned settings and rubric in the campaign spec's shape (DESIGN.md §4)."""
        data = self.cleaned_data
        kept = dict(self.campaign.options or {}) if self.campaign is not None else {}
        options = {**kept, "lease_minutes": data["lease_minutes"],
                   "show_references": data["show_references"],
                   "qc": {**(kept.get("qc") or {}),
                          **{name: data[name] for name in self.QC_FIELDS}}}
        if data.get("quota") is not None:
            options["quota"] = data["quota"]
        else:
            options.pop("quota", None)
        return {
            "name": data["name"],
            "slug": data["slug"] if self.campaign is None else self.campaign.slug,
            "kind": data["kind"], "overlap": data["overlap"],
            "instructions": data["instructions"], "metrics": data["metrics"],
            "criteria": criteria, "options": options,
        }


def parse_scale_labels(text: str) -> dict[str, str]:
    """`1: poor; 5: excellent` -> {"1": "poor", "5": "excellent"}; ValueError names the bad part."""
    labels: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        value, sep, label = part.partition(":")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or number is None or not label.strip():
            raise ValueError(f"write value: label pairs separated by ';' (got {part!r})")
        labels[f"{number:g}"] = label.strip()
    return labels


def format_scale_labels(labels: dict[str, str]) -> str:
    return "; ".join(f"{value}: {label}" for value, label in (labels or {}).items())


class CriterionForm(forms.Form):
    """One row of the rubric editor."""

    key = forms.SlugField(max_length=64, widget=forms.TextInput(attrs={"size": 12}))
    label = forms.CharField(max_length=200, required=False)
    help = forms.CharField(max_length=1000, required=False, label="Help text")
    min = forms.FloatField(initial=1, widget=forms.NumberInput(attrs={"step": "any"}))
    max = forms.FloatField(initial=5, widget=forms.NumberInput(attrs={"step": "any"}))
    labels = forms.CharField(max_length=2000, required=False, label="Scale labels",
                             widget=forms.TextInput(attrs={"placeholder": "1: poor; 5: great"}))
    level = forms.ChoiceField(choices=[(level, level) for level in LEVELS], initial="ordinal",
                              label="Level", help_text="of measurement (for agreement)")
    required = forms.BooleanField(required=False, initial=True)

    def has_changed(self) -> bool:
        # A spare row (empty_permitted) counts only once a key is typed: its other fields
        # carry defaults. Rows the page started with always count.
        typed = (self.data.get(self.add_prefix("key")) or "").strip()
        return not self.empty_permitted or bool(typed)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        low, high = data.get("min"), data.get("max")
        scale_ok = low is not None and high is not None and low < high
        if low is not None and high is not None and not scale_ok:
            self.add_error("max", f"must be greater than min ({high:g} ≤ {low:g})")
        if "labels" in data:
            try:
                data["labels"] = parse_scale_labels(data["labels"])
            except ValueError as exc:
                self.add_error("labels", str(exc))
            else:
                outside = [v for v in data["labels"] if not low <= float(v) <= high] \
                    if low is not None and high is not None and scale_ok else []
                if outside:
                    self.add_error("labels", f"{outside[0]} is outside the scale")
        return data

    def spec_entry(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"key": data["key"], "label": data["label"] or data["key"], "help": data["help"],
                "min": data["min"], "max": data["max"], "labels": data["labels"],
                "level": data["level"], "required": data["required"]}


def _deleted(form: forms.Form) -> bool:
    """Whether the formset row's delete box is ticked (the formset has can_delete)."""
    return bool(form.cleaned_data.get(forms.formsets.DELETION_FIELD_NAME, False))


def _choice_field(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    if not isinstance(field, forms.ChoiceField):
        raise TypeError(f"{name} is not a choice field")
    return field


class BaseCriterionFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: dict[str, int] = {}
        kept = 0
        for form in self.forms:
            if not form.has_changed() or _deleted(form):
                continue
            kept += 1
            key = form.cleaned_data["key"]
            if key in seen:
                form.add_error("key", f"duplicate criterion {key!r}")
            seen[key] = 1
        if kept == 0:
            raise forms.ValidationError("add at least one criterion")

    def spec_criteria(self) -> list[dict[str, Any]]:
        return [form.spec_entry() for form in self.forms
                if form.has_changed() and not _deleted(form)]


# formset_factory builds a subclass of BaseCriterionFormSet (its stub says BaseFormSet).
CriterionFormSet = cast(type[BaseCriterionFormSet], forms.formset_factory(
    CriterionForm, formset=BaseCriterionFormSet, extra=2, can_delete=True, max_num=50,
    validate_max=True))


def criteria_initial(campaign: Campaign | None) -> list[dict[str, Any]]:
    """The rubric rows to start from: the campaign's criteria, or the default rubric."""
    if campaign is None:
        return [dict(row) for row in DEFAULT_CRITERIA]
    def number(value: float) -> float | int:
        return int(value) if float(value).is_integer() else value

    return [{"key": c.key, "label": c.label, "help": c.help_text, "min": number(c.scale_min),
             "max": number(c.scale_max), "labels": format_scale_labels(c.scale_labels),
             "level": c.level, "required": c.required}
            for c in Criterion.objects.filter(campaign=campaign).order_by("position", "pk")]


class OutputsUploadForm(forms.Form):
    outputs = forms.FileField(label="Outputs (JSONL or CSV, one output per row)")
    format = forms.ChoiceField(
        label="Format", required=False,
        choices=[("", "from the file extension"), ("jsonl", "JSONL"), ("csv", "CSV")])
    baseline = forms.CharField(max_length=200, required=False, label="Baseline system",
                               help_text="name of the system the others are compared with")


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Campaign.Status.choices)


class InvitationForm(forms.Form):
    email = forms.EmailField(required=False, label="Email (optional, for your records)")


class SignupForm(forms.Form):
    """A new rater picks a username and password on an invitation page."""

    username = forms.RegexField(regex=r"^[\w.@+-]+$", max_length=150,
                                error_messages={"invalid": "letters, digits and @ . + - _ only"})
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("this username is taken; choose another")
        return username

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "the two passwords differ")
        elif first:
            try:
                validate_password(first)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class ReassignForm(forms.Form):
    to_rater = forms.ChoiceField(label="Give the work to")

    def __init__(self, *args: Any, raters: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "to_rater").choices = [(r, r) for r in raters]


class ExcludeForm(forms.Form):
    excluded = forms.BooleanField(required=False)


class QcCreateForm(forms.Form):
    what = forms.ChoiceField(choices=[("degraded", "Degraded copies"), ("repeats", "Repeats")])
    count = forms.IntegerField(min_value=1, max_value=10_000, initial=10)
    seed = forms.IntegerField(min_value=0, initial=0, help_text="same seed, same copies")
