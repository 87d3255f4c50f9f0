from django.urls import path

from . import views

app_name = "metrics-api"

urlpatterns = [
    path("campaigns/<slug:slug>/report/", views.CampaignReportApi.as_view(), name="report"),
    path("campaigns/<slug:slug>/export/", views.CampaignExportApi.as_view(), name="export"),
]
