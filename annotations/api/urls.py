from django.urls import path

from . import views

app_name = "annotations-api"

urlpatterns = [
    path("campaigns/", views.CampaignListApi.as_view(), name="campaign-list"),
    path("campaigns/import/", views.CampaignImportApi.as_view(), name="campaign-import"),
    path("campaigns/<slug:slug>/", views.CampaignDetailApi.as_view(), name="campaign-detail"),
    path("campaigns/<slug:slug>/ratings/import/", views.RatingsImportApi.as_view(),
         name="ratings-import"),
]
