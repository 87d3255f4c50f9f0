"""Forms for staff pages."""

from __future__ import annotations

from django import forms


class CampaignImportForm(forms.Form):
    spec = forms.FileField(label="Campaign spec (JSON or YAML)")
    outputs = forms.FileField(label="Outputs (JSONL or CSV)")
    format = forms.ChoiceField(
        label="Outputs format", required=False,
        choices=[("", "from the file extension"), ("jsonl", "JSONL"), ("csv", "CSV")],
    )


class RatingsImportForm(forms.Form):
    file = forms.FileField(label="Judgments (JSONL or CSV)")
