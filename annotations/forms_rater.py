"""Forms for the rater pages: one rating (or A/B comparison) and a skip with its reason.

The rating form is built from the campaign's rubric. Each criterion becomes a group of scale
points from min to max in steps of 1 when both ends are whole numbers and there are at most
MAX_POINTS of them (so 0–1 is two points, 0–10 eleven); any other scale (non-integer ends
such as -0.5–0.5, or a long one such as 0–100) becomes a number input that accepts any
value inside the scale. Digits pick a point: its value (10 is 0 on 1–10), or on scales
below zero its position (1…9, then 0 for the tenth). Pairwise campaigns
ask for the overall choice (A, B or tie) and an optional A/B/tie preference per criterion.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from django import forms

from annotations.models import Campaign, Criterion, Rating
from annotations.services.ratings import SATISFACTION

MAX_POINTS = 11
# Time on task beyond this is a tab left open, not work; the server clamps to [0, this].
MAX_TIME_SPENT_MS = 2 * 60 * 60 * 1000
COMMENT_MAX_LENGTH = 10_000
CHOICE_KEYS: dict[str, tuple[str, ...]] = {"A": ("a", "1"), "B": ("b", "2"),
                                           "tie": ("t", "3")}
CHOICE_LABELS = {"A": "A is better", "B": "B is better", "tie": "Tie"}


def new_key() -> str:
    """A fresh idempotency key for one rendering of the rating page."""
    return secrets.token_urlsafe(18)


def scale_points(criterion: Criterion) -> list[float] | None:
    """The scale points shown as radio buttons, or None when a number input is used."""
    low, high = criterion.scale_min, criterion.scale_max
    if not (float(low).is_integer() and float(high).is_integer()):
        return None
    count = int(high) - int(low) + 1
    if count > MAX_POINTS:
        return None
    return [float(v) for v in range(int(low), int(high) + 1)]


def point_text(value: float) -> str:
    """A scale point as the form sends it: '3', '-1', '0'."""
    return f"{value:g}"


def _scale_label(criterion: Criterion, value: float) -> str:
    labels = criterion.scale_labels or {}
    for text in (point_text(value), str(value), str(int(value))):
        if text in labels:
            return str(labels[text])
    return ""


def _hotkeys(points: list[float]) -> list[str]:
    """The digit per point: its value on 0–9 (10 takes 0 when 0 is no point), else none;
    on scales below zero, its position (1…9, then 0 for the tenth)."""
    if points[0] >= 0:
        keys = [point_text(p) if p <= 9 else "" for p in points]
        if 10.0 in points and 0.0 not in points:
            keys[points.index(10.0)] = "0"
        return keys
    return [str((i + 1) % 10) if i < 10 else "" for i in range(len(points))]


@dataclass(frozen=True)
class Point:
    value: str
    label: str
    keys: tuple[str, ...]
    checked: bool
    input_id: str

    @property
    def key_attr(self) -> str:
        """The keys that pick this point, for the page script (space-separated)."""
        return " ".join(self.keys)


@dataclass(frozen=True)
class Group:
    """One fieldset on the page: a criterion (or the overall choice) and its points."""

    name: str
    legend: str
    help_text: str
    required: bool
    points: list[Point]
    field: forms.BoundField
    numeric: bool = False
    low: str = ""
    high: str = ""

    @property
    def labelled(self) -> bool:
        """True when some scale point has a label (shown as a key line on phones)."""
        return any(p.label for p in self.points)


class RatingForm(forms.Form):
    """The rater's judgment of one assignment; the field names are score_<key>, pref_<key>."""

    comment = forms.CharField(required=False, max_length=COMMENT_MAX_LENGTH, strip=False,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              label="Comment (optional)")
    key = forms.CharField(max_length=100, widget=forms.HiddenInput)
    time_spent_ms = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, campaign: Campaign, criteria: list[Criterion],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        # The satisfaction question comes last, after the criteria proper.
        self.criteria = sorted(criteria, key=lambda c: c.key == SATISFACTION)
        self.pairwise = campaign.kind == Campaign.Kind.PAIRWISE
        if self.pairwise:
            self.fields["choice"] = forms.ChoiceField(
                choices=[(v, CHOICE_LABELS[v]) for v in Rating.Choice.values],
                widget=forms.RadioSelect, label="Which output is better overall?",
                error_messages={"required": "Pick A, B or tie."})
            for criterion in criteria:
                self.fields[f"pref_{criterion.key}"] = forms.ChoiceField(
                    choices=[(v, CHOICE_LABELS[v]) for v in Rating.Choice.values],
                    widget=forms.RadioSelect, required=False, label=criterion.label)
        else:
            for criterion in criteria:
                self.fields[self.score_field(criterion)] = self._score_field(criterion)

    @staticmethod
    def score_field(criterion: Criterion) -> str:
        """The form field that holds a criterion's score."""
        return SATISFACTION if criterion.key == SATISFACTION else f"score_{criterion.key}"

    @staticmethod
    def _score_field(criterion: Criterion) -> forms.Field:
        required = {"required": f"Pick a value for {criterion.label}."}
        points = scale_points(criterion)
        if points is None:
            return forms.FloatField(
                min_value=criterion.scale_min, max_value=criterion.scale_max,
                required=criterion.required, label=criterion.label, error_messages=required,
                widget=forms.NumberInput(attrs={"step": "any"}))
        return forms.TypedChoiceField(
            choices=[(point_text(p), point_text(p)) for p in points], coerce=float,
            empty_value=None, widget=forms.RadioSelect, required=criterion.required,
            label=criterion.label, error_messages=required)

    def clean_time_spent_ms(self) -> int | None:
        """Milliseconds from page render to submit, clamped to [0, 2 h]; junk is unknown."""
        raw = (self.cleaned_data.get("time_spent_ms") or "").strip()
        try:
            value = float(raw)
        except ValueError:
            return None
        if not math.isfinite(value):
            return None
        return int(min(max(value, 0), MAX_TIME_SPENT_MS))

    def clean_key(self) -> str:
        key = self.cleaned_data["key"].strip()
        if not key:
            raise forms.ValidationError("Reload the page and submit again.")
        return key

    def submission(self) -> dict[str, Any]:
        """Keyword arguments for rating_submit from the cleaned data."""
        data = self.cleaned_data
        common = {"comment": data.get("comment") or "", "key": data["key"],
                  "time_spent_ms": data.get("time_spent_ms")}
        if self.pairwise:
            preferences = {c.key: data[f"pref_{c.key}"] for c in self.criteria
                           if data.get(f"pref_{c.key}")}
            return {**common, "scores": {}, "satisfaction": None, "choice": data["choice"],
                    "preferences": preferences}
        scores = {c.key: data[self.score_field(c)] for c in self.criteria
                  if c.key != SATISFACTION and data.get(self.score_field(c)) is not None}
        satisfaction = data.get(SATISFACTION) if any(
            c.key == SATISFACTION for c in self.criteria) else None
        return {**common, "scores": scores, "satisfaction": satisfaction, "choice": None,
                "preferences": None}

    def add_service_errors(self, message_dict: dict[str, list[str]]) -> None:
        """Put rating_submit's field errors (`scores.<key>`, `choice`, ...) on our fields."""
        for name, messages in message_dict.items():
            head, _, tail = name.partition(".")
            field = None
            if head == "scores" and tail:
                field = f"pref_{tail}" if self.pairwise else f"score_{tail}"
            elif head == "preferences" and tail:
                field = f"pref_{tail}"
            elif head in self.fields:
                field = head
            if field not in self.fields:
                field = None
            for message in messages:
                self.add_error(field, message)

    @staticmethod
    def initial_for(*, campaign: Campaign, criteria: list[Criterion], rating: Rating | None,
                    scores: dict[str, float]) -> dict[str, Any]:
        """Form initial data: a fresh key, and an existing rating's values to edit."""
        initial: dict[str, Any] = {"key": new_key()}
        if rating is None:
            return initial
        initial["comment"] = rating.comment
        if campaign.kind == Campaign.Kind.PAIRWISE:
            initial["choice"] = rating.choice
            for key, side in (rating.preferences or {}).items():
                initial[f"pref_{key}"] = side
            return initial
        for criterion in criteria:
            if criterion.key in scores:
                value = scores[criterion.key]
                initial[RatingForm.score_field(criterion)] = (
                    point_text(value) if scale_points(criterion) is not None else value)
        return initial

    def groups(self) -> list[Group]:
        """The fieldsets in page order, with their points and keyboard hints."""
        if self.pairwise:
            return [self._choice_group("choice", str(self.fields["choice"].label), "", True)] + [
                self._choice_group(f"pref_{c.key}", c.label, c.help_text, False)
                for c in self.criteria]
        return [self._score_group(c) for c in self.criteria]

    def _choice_group(self, name: str, legend: str, help_text: str, required: bool) -> Group:
        bound = self[name]
        current = str(bound.value() or "")
        points = [Point(v, CHOICE_LABELS[v], CHOICE_KEYS[v], current == v,
                        f"id_{name}_{i}") for i, v in enumerate(Rating.Choice.values)]
        return Group(name, legend, help_text, required, points, bound)

    def _score_group(self, criterion: Criterion) -> Group:
        name = self.score_field(criterion)
        bound = self[name]
        points = scale_points(criterion)
        if points is None:
            return Group(name, criterion.label, criterion.help_text, criterion.required, [],
                         bound, numeric=True, low=point_text(criterion.scale_min),
                         high=point_text(criterion.scale_max))
        current = bound.value()
        current_text = "" if current in (None, "") else str(current)
        try:
            current_text = point_text(float(current_text)) if current_text else ""
        except ValueError:
            pass
        hotkeys = _hotkeys(points)
        return Group(name, criterion.label, criterion.help_text, criterion.required, [
            Point(point_text(p), _scale_label(criterion, p),
                  (hotkeys[i],) if hotkeys[i] else (),
                  current_text == point_text(p), f"id_{name}_{i}")
            for i, p in enumerate(points)], bound)


class SkipForm(forms.Form):
    """Why the rater skips an item; "other" needs a few words."""

    REASONS = [("cannot judge", "I cannot judge this item"),
               ("broken output", "The output is broken"),
               ("other", "Other reason")]

    reason = forms.ChoiceField(choices=REASONS, widget=forms.RadioSelect, label="Reason",
                               error_messages={"required": "Pick a reason to skip."})
    other = forms.CharField(required=False, max_length=180, label="Other reason")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("reason") == "other" and not (data.get("other") or "").strip():
            self.add_error("other", "Say in a few words why you skip this item.")
        return data

    def reason_text(self) -> str:
        """The reason as stored on the assignment."""
        if self.cleaned_data["reason"] == "other":
            return f"other: {self.cleaned_data['other'].strip()}"
        return str(self.cleaned_data["reason"])
