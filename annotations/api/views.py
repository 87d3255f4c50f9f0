"""Campaign API: list/create, detail/update/delete, bundle import, ratings import."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.selectors import campaign_get_for_admin, campaign_list_for_admin
from annotations.services import ImportFailed, campaign_import, ratings_import
from annotations.services.campaigns import campaign_create, campaign_delete, campaign_update
from annotations.services.spec import spec_validate


class IsStaff(permissions.BasePermission):
    """Creating campaigns and importing bundles is for staff."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_staff)


def _problems_response(failure: ImportFailed) -> Response:
    return Response({"errors": failure.lines},
                    status=status.HTTP_400_BAD_REQUEST)


class CriterionOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    min = serializers.FloatField(source="scale_min")
    max = serializers.FloatField(source="scale_max")
    level = serializers.CharField()
    required = serializers.BooleanField()  # type: ignore[assignment]
    help_text = serializers.CharField()  # type: ignore[assignment]
    labels = serializers.JSONField(source="scale_labels")


class CampaignOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    instructions = serializers.CharField()
    overlap = serializers.IntegerField()
    metrics = serializers.JSONField()
    composite = serializers.JSONField()
    baseline = serializers.CharField(source="baseline.name", default=None)
    created_at = serializers.DateTimeField()


class CampaignDetailOutputSerializer(CampaignOutputSerializer):
    criteria = CriterionOutputSerializer(many=True)
    systems = serializers.SerializerMethodField()

    def get_systems(self, campaign: Any) -> list[str]:
        return [s.name for s in campaign.systems.all()]


class CampaignListApi(APIView):
    """GET: campaigns you administer. POST (staff): create one from a spec (no outputs yet)."""

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.request.method == "POST":
            return [permissions.IsAuthenticated(), IsStaff()]
        return [permissions.IsAuthenticated()]

    @extend_schema(responses=CampaignOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        campaigns = campaign_list_for_admin(user=request.user)
        return Response(CampaignOutputSerializer(campaigns, many=True).data)

    @extend_schema(request=serializers.JSONField, responses={201: CampaignDetailOutputSerializer})
    def post(self, request: Request) -> Response:
        try:
            spec = spec_validate(request.data, "request")
            campaign = campaign_create(spec=spec, spec_name="request", created_by=request.user)
        except ImportFailed as failure:
            return _problems_response(failure)
        return Response(CampaignDetailOutputSerializer(campaign).data,
                        status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    """GET, PATCH (name, instructions, status, overlap) or DELETE one campaign you administer."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        instructions = serializers.CharField(required=False, allow_blank=True)
        status = serializers.ChoiceField(choices=["draft", "active", "paused", "closed"],
                                         required=False)
        overlap = serializers.IntegerField(min_value=1, max_value=1000, required=False)

    @extend_schema(responses=CampaignDetailOutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        return Response(CampaignDetailOutputSerializer(campaign).data)

    @extend_schema(request=InputSerializer, responses=CampaignDetailOutputSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        campaign = campaign_update(campaign=campaign, **serializer.validated_data)
        return Response(CampaignDetailOutputSerializer(campaign).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        campaign_delete(campaign=campaign)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CampaignImportApi(APIView):
    """POST (staff) multipart `spec` + `outputs` files: create a campaign with its outputs."""

    permission_classes = [permissions.IsAuthenticated, IsStaff]
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        spec = serializers.FileField()
        outputs = serializers.FileField()
        format = serializers.ChoiceField(choices=["jsonl", "csv"], required=False)

    class OutputSerializer(serializers.Serializer):
        campaign = serializers.CharField(source="campaign.slug")
        systems = serializers.IntegerField()
        items = serializers.IntegerField()
        outputs = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        spec = serializer.validated_data["spec"]
        outputs = serializer.validated_data["outputs"]
        try:
            result = campaign_import(
                spec_stream=spec, spec_name=spec.name, outputs_stream=outputs,
                outputs_name=outputs.name, outputs_format=serializer.validated_data.get("format"),
                created_by=request.user,
            )
        except ImportFailed as failure:
            return _problems_response(failure)
        return Response(self.OutputSerializer(result).data, status=status.HTTP_201_CREATED)


class RatingsImportApi(APIView):
    """POST multipart `file` of judgments into a campaign you administer."""

    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=["jsonl", "csv"], required=False)

    class OutputSerializer(serializers.Serializer):
        rows = serializers.IntegerField()
        ratings_created = serializers.IntegerField()
        raters_created = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        try:
            result = ratings_import(campaign=campaign, stream=upload, name=upload.name,
                                    fmt=serializer.validated_data.get("format"))
        except ImportFailed as failure:
            return _problems_response(failure)
        return Response(self.OutputSerializer(result).data, status=status.HTTP_201_CREATED)


