from django.urls import path

from . import views

app_name = "annotations"

urlpatterns = [
    path("", views.home, name="home"),
    path("campaigns/import/", views.campaign_import_page, name="campaign-import"),
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<slug:slug>/ratings/import/", views.ratings_import_page,
         name="ratings-import"),
]
