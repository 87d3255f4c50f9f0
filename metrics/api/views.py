"""Report and export API for campaign admins."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.selectors import campaign_get_for_admin
from metrics.services import report_build
from metrics.services.exports import csv_lines, report_xlsx_write


class CampaignReportApi(APIView):
    """GET the campaign report JSON (DESIGN.md §4)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        return Response(report_build(campaign=campaign))


class CampaignExportApi(APIView):
    """GET ?format=json|csv|xlsx: the report or the long ratings table, as a download."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "csv", "xlsx"])],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, slug: str) -> Response | StreamingHttpResponse | FileResponse:
        campaign = campaign_get_for_admin(user=request.user, slug=slug)
        fmt = request.query_params.get("format", "json")
        if fmt == "csv":
            stream = StreamingHttpResponse(csv_lines(campaign=campaign),
                                           content_type="text/csv; charset=utf-8")
            stream["Content-Disposition"] = f'attachment; filename="{campaign.slug}.csv"'
            return stream
        if fmt == "xlsx":
            handle = tempfile.NamedTemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
            report_xlsx_write(campaign=campaign, path=Path(handle.name))
            handle.seek(0)
            return FileResponse(handle, as_attachment=True, filename=f"{campaign.slug}.xlsx")
        if fmt != "json":
            return Response({"format": ["choose json, csv or xlsx"]}, status=400)
        response = Response(report_build(campaign=campaign))
        response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-report.json"'
        return response
