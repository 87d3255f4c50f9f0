"""Staff pages (included by annotations/urls.py under the annotations namespace), and the
invitation and crowd links raters open."""

from django.urls import path

from . import views_staff as v

C = "staff/campaigns/<slug:slug>/"

urlpatterns: list = [
    path("staff/campaigns/new/", v.campaign_new, name="staff-campaign-new"),
    path(C + "edit/", v.campaign_edit, name="staff-campaign-edit"),
    path(C + "outputs/", v.campaign_outputs, name="staff-campaign-outputs"),
    path(C + "status/", v.campaign_status, name="staff-campaign-status"),
    path(C + "invitations/", v.invitation_new, name="staff-invitation-create"),
    path(C + "crowd-link/", v.crowd_link, name="staff-crowd-link"),
    path(C + "invitations/<int:pk>/revoke/", v.invitation_revoke_view,
         name="staff-invitation-revoke"),
    path(C + "raters/<str:username>/reset/", v.rater_reset, name="staff-rater-reset"),
    path(C + "raters/<str:username>/reassign/", v.rater_reassign, name="staff-rater-reassign"),
    path(C + "raters/<str:username>/exclude/", v.rater_exclude_view, name="staff-rater-exclude"),
    path(C + "qc/", v.qc_create, name="staff-qc-create"),
    path("invite/<str:token>/", v.invite_accept, name="invite-accept"),
    path("join/<str:token>/", v.crowd_join_view, name="crowd-join"),
]
