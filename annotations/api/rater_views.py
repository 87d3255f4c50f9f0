"""The rater flow API (DESIGN.md §4): next assignment, rating submission, progress."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.models import Assignment, Campaign, Output, Rating
from annotations.selectors import (
    assignment_get_for_rater,
    campaign_get_for_progress,
    campaign_get_for_rater,
    campaign_progress_get,
    criterion_payload_list,
)
from annotations.services.assignments import (
    SKIP_REASON_MAX,
    assignment_claim_next,
    assignment_skip,
)
from annotations.services.ratings import rating_scores, rating_submit

# One field instance renders every timestamp (DRF's format, settings' time zone, "Z").
_DATETIME = serializers.DateTimeField()


def next_payload(*, assignment: Assignment, campaign: Campaign,
                 criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """CampaignNextApi.OutputSerializer's payload, built directly (the hot path of §4).

    Instantiating the nested serializers cost more CPU than the rest of a resumed `next`;
    tests/annotations/api/test_rater_payloads.py checks this against the serializer.
    """
    shown = [assignment.output]
    if assignment.output_b_id:
        shown.append(cast(Output, assignment.output_b))  # loaded with the assignment
    show_references = (campaign.options or {}).get("show_references", True)
    return {
        "assignment": assignment.pk,
        "kind": campaign.kind,
        "outputs": [{"id": output.pk, "text": output.text} for output in shown],
        "input": assignment.output.item.input,
        "references": (assignment.output.item.references or []) if show_references else [],
        "criteria": criteria,
        "lease_expires_at": (_DATETIME.to_representation(assignment.lease_expires_at)
                             if assignment.lease_expires_at else None),
    }


def rating_payload(*, rating: Rating) -> dict[str, Any]:
    """RatingSubmitApi.OutputSerializer's payload, built directly (see next_payload)."""
    return {
        "rating": rating.pk,
        "assignment": rating.assignment_id,
        "scores": rating_scores(rating=rating),
        "choice": rating.choice,
        "preferences": {key: str(value) for key, value in (rating.preferences or {}).items()},
        "comment": rating.comment,
        "key": rating.key,
        "time_spent_ms": rating.time_spent_ms,
        "created_at": _DATETIME.to_representation(rating.created_at),
        "updated_at": _DATETIME.to_representation(rating.updated_at),
    }


def _field_errors(error: ValidationError) -> dict[str, Any]:
    """`scores.fluency` style keys from the service become nested field errors."""
    nested: dict[str, Any] = {}
    for field, messages in error.message_dict.items():
        head, _, tail = field.partition(".")
        if tail:
            nested.setdefault(head, {})[tail] = messages
        else:
            nested[head] = messages
    return nested


class CampaignNextApi(APIView):
    """GET: the rater's current assignment, or the next one claimed for them; 204 when done."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RaterNextOutput"

        class TextSerializer(serializers.Serializer):
            # Only id and text: system identity is never shown to raters.
            id = serializers.IntegerField()
            text = serializers.CharField()

        class CriterionSerializer(serializers.Serializer):
            key = serializers.CharField()
            label = serializers.CharField()  # type: ignore[assignment]
            help_text = serializers.CharField()  # type: ignore[assignment]
            min = serializers.FloatField(source="scale_min")
            max = serializers.FloatField(source="scale_max")
            labels = serializers.JSONField(source="scale_labels")
            required = serializers.BooleanField()  # type: ignore[assignment]

        assignment = serializers.IntegerField(source="pk")
        kind = serializers.CharField(source="campaign.kind")
        outputs = serializers.SerializerMethodField()
        input = serializers.CharField(source="output.item.input")
        references = serializers.SerializerMethodField()
        criteria = CriterionSerializer(source="campaign.criteria.all", many=True)
        lease_expires_at = serializers.DateTimeField()

        def get_outputs(self, assignment: Any) -> list[dict[str, Any]]:
            shown = [assignment.output] + ([assignment.output_b] if assignment.output_b_id else [])
            return list(self.TextSerializer(shown, many=True).data)

        def get_references(self, assignment: Any) -> list[Any]:
            if not (assignment.campaign.options or {}).get("show_references", True):
                return []
            return assignment.output.item.references or []

    @extend_schema(responses={200: OutputSerializer, 204: None})
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_get_for_rater(user=request.user, slug=slug, with_rubric=True)
        assignment = assignment_claim_next(campaign=campaign, rater=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        assignment.campaign = campaign
        return Response(next_payload(assignment=assignment, campaign=campaign,
                                     criteria=criterion_payload_list(campaign=campaign)))


class RatingSubmitApi(APIView):
    """POST: rate your own assignment; 201 new, 200 on a replayed key, 400 on bad values."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RatingSubmitInput"

        scores = serializers.DictField(child=serializers.JSONField(), required=False,
                                       default=dict)
        satisfaction = serializers.FloatField(required=False, allow_null=True, default=None)
        comment = serializers.CharField(required=False, allow_blank=True, default="",
                                        max_length=10000, trim_whitespace=False)
        key = serializers.CharField(max_length=100)
        choice = serializers.ChoiceField(choices=Rating.Choice.values, required=False,
                                         allow_null=True, default=None)
        # Checked against the rubric by the service (errors keyed preferences.<key>).
        preferences = serializers.DictField(child=serializers.JSONField(), required=False,
                                            default=dict)
        time_spent_ms = serializers.IntegerField(required=False, allow_null=True,
                                                 min_value=0, default=None)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RatingSubmitOutput"

        rating = serializers.IntegerField(source="pk")
        assignment = serializers.IntegerField(source="assignment_id")
        scores = serializers.SerializerMethodField()
        choice = serializers.CharField()
        preferences = serializers.DictField(child=serializers.CharField())
        comment = serializers.CharField()
        key = serializers.CharField()
        time_spent_ms = serializers.IntegerField(allow_null=True)
        created_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()

        def get_scores(self, rating: Any) -> dict[str, float]:
            return rating_scores(rating=rating)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer,
                                                       201: OutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        assignment = assignment_get_for_rater(user=request.user, pk=pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            rating, created = rating_submit(assignment=assignment, rater=request.user,
                                            source=Rating.Source.API,
                                            **serializer.validated_data)
        except ValidationError as error:
            return Response(_field_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(rating_payload(rating=rating),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AssignmentSkipApi(APIView):
    """POST: skip your own open assignment with a reason; the slot goes back to the pool."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AssignmentSkipInput"

        reason = serializers.CharField(max_length=SKIP_REASON_MAX,
                                       help_text='"cannot judge", "broken output" or free text')

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AssignmentSkipOutput"

        assignment = serializers.IntegerField(source="pk")
        status = serializers.CharField()
        skip_reason = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        assignment = assignment_get_for_rater(user=request.user, pk=pk)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            assignment = assignment_skip(assignment=assignment, rater=request.user,
                                         reason=serializer.validated_data["reason"])
        except ValidationError as error:
            return Response(_field_errors(error), status=status.HTTP_400_BAD_REQUEST)
        return Response(self.OutputSerializer(assignment).data)


class CampaignProgressApi(APIView):
    """GET: your own progress; campaign admins and staff also get every rater and system."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CampaignProgressOutput"

        class RaterSerializer(serializers.Serializer):
            rater = serializers.CharField()
            done = serializers.IntegerField()
            assigned = serializers.IntegerField()
            total = serializers.IntegerField()

        class SystemSerializer(serializers.Serializer):
            name = serializers.CharField()
            outputs = serializers.IntegerField()
            submitted = serializers.IntegerField()
            assigned = serializers.IntegerField()
            coverage = serializers.FloatField()

        campaign = serializers.CharField()
        status = serializers.CharField()
        units = serializers.IntegerField()
        total = serializers.IntegerField()
        done = serializers.IntegerField()
        me = RaterSerializer()
        raters = RaterSerializer(many=True, required=False)
        systems = SystemSerializer(many=True, required=False)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        campaign, admin = campaign_get_for_progress(user=request.user, slug=slug)
        progress = campaign_progress_get(campaign=campaign, user=request.user, admin=admin)
        data = self.OutputSerializer(progress).data
        if not admin:
            data.pop("raters", None)
            data.pop("systems", None)
        return Response(data)
