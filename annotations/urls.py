from django.urls import include, path

from . import views

app_name = "annotations"

# Rater pages live in urls_rater.py, staff pages in urls_staff.py; both share this namespace.
urlpatterns = [
    path("", views.home, name="home"),
    path("campaigns/import/", views.campaign_import_page, name="campaign-import"),
    path("", include("annotations.urls_staff")),
    path("", include("annotations.urls_rater")),
    path("campaigns/<slug:slug>/", views.campaign_detail, name="campaign-detail"),
    path("campaigns/<slug:slug>/ratings/import/", views.ratings_import_page,
         name="ratings-import"),
]
