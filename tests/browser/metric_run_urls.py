"""Test-only URLs: the project's, plus a page that renders the metric-run panel partial."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template import engines
from django.urls import include, path

from annotations.models import Campaign

PAGE = ('{% extends "base.html" %}{% block content %}'
        '{% include "metrics/_run_panel.html" %}{% endblock %}')
REPORT_PAGE = ('{% extends "base.html" %}{% block content %}'
               '{% include "metrics/_report_extra.html" %}{% endblock %}')


@login_required
def panel_page(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, slug=slug)
    template = engines["django"].from_string(PAGE)
    return HttpResponse(template.render({"campaign": campaign}, request))


@login_required
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    from metrics.services import report_build

    campaign = get_object_or_404(Campaign, slug=slug)
    template = engines["django"].from_string(REPORT_PAGE)
    return HttpResponse(template.render({"report": report_build(campaign=campaign)}, request))


urlpatterns = [
    path("test-run-panel/<slug:slug>/", panel_page),
    path("test-report-extra/<slug:slug>/", report_page),
    path("", include("evalproject.urls")),
]
