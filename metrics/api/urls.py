from django.urls import path

from . import run_views, views

app_name = "metrics-api"

urlpatterns = [
    path("campaigns/<slug:slug>/report/", views.CampaignReportApi.as_view(), name="report"),
    path("campaigns/<slug:slug>/export/", views.CampaignExportApi.as_view(), name="export"),
    path("campaigns/<slug:slug>/runs/", run_views.MetricRunStartApi.as_view(), name="run-start"),
    path("campaigns/<slug:slug>/runs/latest/", run_views.MetricRunLatestApi.as_view(),
         name="run-latest"),
    path("campaigns/<slug:slug>/runs/<int:run_id>/", run_views.MetricRunDetailApi.as_view(),
         name="run-detail"),
    path("campaigns/<slug:slug>/runs/<int:run_id>/cancel/",
         run_views.MetricRunCancelApi.as_view(), name="run-cancel"),
]
