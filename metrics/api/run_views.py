"""Metric runs for campaign admins: start, progress (latest or by id), cancel (DESIGN.md §4)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.selectors import campaign_get_for_admin
from metrics.compute.automatic import metric_get
from metrics.selectors import (
    metric_run_active_for_campaign,
    metric_run_get_for_campaign,
    metric_run_latest_for_campaign,
    metric_run_status_get,
)
from metrics.services.runs import metric_run_cancel, metric_run_start


@extend_schema_serializer(component_name="MetricRun")
class RunOutputSerializer(serializers.Serializer):
    """A run and its progress (shared by every run endpoint)."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    active = serializers.BooleanField()
    metrics = serializers.ListField(child=serializers.CharField())
    skipped = serializers.DictField(child=serializers.CharField(),
                                    help_text="metric -> why it was not computed")
    chunks_done = serializers.IntegerField()
    chunks_total = serializers.IntegerField()
    outputs_done = serializers.IntegerField()
    outputs_total = serializers.IntegerField()
    outputs_per_s = serializers.FloatField(allow_null=True)
    eta_s = serializers.FloatField(allow_null=True, help_text="seconds left (null: unknown)")
    error = serializers.CharField(allow_blank=True)
    text = serializers.CharField(help_text='e.g. "12/40 chunks · 830 outputs/s · ETA 0:41"')
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class MetricRunStartApi(APIView):
    """POST: start a metric run over the campaign's outputs (default: the campaign's metrics)."""

    @extend_schema_serializer(component_name="MetricRunStartInput")
    class InputSerializer(serializers.Serializer):
        metrics = serializers.ListField(
            child=serializers.CharField(max_length=64), required=False, allow_empty=False,
            help_text="metric names; omitted: the campaign's own list",
        )

        def validate_metrics(self, value: list[str]) -> list[str]:
            unknown = []
            for name in value:
                try:
                    metric_get(name)
                except KeyError:
                    unknown.append(name)
            if unknown:
                raise serializers.ValidationError(f"unknown metric: {', '.join(unknown)}")
            return list(dict.fromkeys(value))

    @extend_schema(request=InputSerializer, responses={
        201: RunOutputSerializer,
        400: OpenApiResponse(description="bad metric list, or nothing to compute"),
        409: OpenApiResponse(RunOutputSerializer, description="a run is already active"),
    })
    def post(self, request: Request, slug: str) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        metrics = serializer.validated_data.get("metrics")
        if metrics is None and not campaign.metrics:
            return Response({"metrics": ["the campaign lists no metrics; name some"]},
                            status=status.HTTP_400_BAD_REQUEST)
        active = metric_run_active_for_campaign(campaign=campaign)
        if active is not None:
            return Response(RunOutputSerializer(metric_run_status_get(run=active)).data,
                            status=status.HTTP_409_CONFLICT)
        run = metric_run_start(campaign=campaign, metrics=metrics, created_by=request.user)
        run.refresh_from_db()  # without a broker the run has finished on commit
        return Response(RunOutputSerializer(metric_run_status_get(run=run)).data,
                        status=status.HTTP_201_CREATED)


class MetricRunLatestApi(APIView):
    """GET: the progress of the campaign's latest run; 204 when it has none."""

    @extend_schema(responses={200: RunOutputSerializer,
                              204: OpenApiResponse(description="no run yet")})
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        run = metric_run_latest_for_campaign(campaign=campaign)
        if run is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(RunOutputSerializer(metric_run_status_get(run=run)).data)


class MetricRunDetailApi(APIView):
    """GET: the progress of one of the campaign's runs."""

    @extend_schema(responses=RunOutputSerializer)
    def get(self, request: Request, slug: str, run_id: int) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        run = metric_run_get_for_campaign(campaign=campaign, run_id=run_id)
        return Response(RunOutputSerializer(metric_run_status_get(run=run)).data)


class MetricRunCancelApi(APIView):
    """POST: cancel an unfinished run (a finished one is returned unchanged)."""

    @extend_schema(request=None, responses=RunOutputSerializer)
    def post(self, request: Request, slug: str, run_id: int) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        run = metric_run_get_for_campaign(campaign=campaign, run_id=run_id)
        run = metric_run_cancel(run=run)
        return Response(RunOutputSerializer(metric_run_status_get(run=run)).data)
