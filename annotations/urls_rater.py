"""Rater pages (included by annotations/urls.py under the annotations namespace)."""

from django.urls import path

from . import views_rater

urlpatterns: list = [
    path("rate/<slug:slug>/", views_rater.rater_campaign, name="rater-campaign"),
    path("rate/<slug:slug>/item/", views_rater.rater_item, name="rater-item"),
    path("rate/<slug:slug>/item/<int:pk>/", views_rater.rater_assignment,
         name="rater-assignment"),
    path("rate/<slug:slug>/item/<int:pk>/skip/", views_rater.rater_skip, name="rater-skip"),
    path("rate/<slug:slug>/done/", views_rater.rater_done, name="rater-done"),
]
