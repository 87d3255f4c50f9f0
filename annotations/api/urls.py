from django.urls import path

from . import rater_views, views

app_name = "annotations-api"

urlpatterns = [
    path("campaigns/", views.CampaignListApi.as_view(), name="campaign-list"),
    path("campaigns/import/", views.CampaignImportApi.as_view(), name="campaign-import"),
    path("campaigns/<slug:slug>/", views.CampaignDetailApi.as_view(), name="campaign-detail"),
    path("campaigns/<slug:slug>/ratings/import/", views.RatingsImportApi.as_view(),
         name="ratings-import"),
    path("campaigns/<slug:slug>/next/", rater_views.CampaignNextApi.as_view(),
         name="campaign-next"),
    path("campaigns/<slug:slug>/progress/", rater_views.CampaignProgressApi.as_view(),
         name="campaign-progress"),
    path("assignments/<int:pk>/rating/", rater_views.RatingSubmitApi.as_view(),
         name="rating-submit"),
    path("assignments/<int:pk>/skip/", rater_views.AssignmentSkipApi.as_view(),
         name="assignment-skip"),
]
