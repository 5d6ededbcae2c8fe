from django.urls import path

from . import auth, views, views_agency, views_breakglass, views_caseload, views_inbox, views_mfa, views_sharing
from .privacy import views as views_privacy

app_name = "frontend"

urlpatterns = [
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("login/code/", views_mfa.mfa_verify, name="mfa_verify"),
    path("login/setup/", views_mfa.mfa_enrol, name="mfa_enrol"),
    path("", views_caseload.home, name="home"),
    path("clients/", views_caseload.client_list, name="client_list"),
    path("clients/saved-filters/", views_caseload.saved_filter_save, name="saved_filter_save"),
    path(
        "clients/saved-filters/<str:filter_id>/delete/",
        views_caseload.saved_filter_delete,
        name="saved_filter_delete",
    ),
    path("clients/new/", views.client_create, name="client_create"),
    path("break-glass/", views_breakglass.break_glass, name="break_glass"),
    path("clients/new/duplicates/", views.client_duplicates, name="client_duplicates"),
    path("clients/<str:client_id>/", views.client_detail, name="client_detail"),
    path("clients/<str:client_id>/timeline/", views.timeline_fragment, name="timeline"),
    path("clients/<str:client_id>/timeline/search/", views.timeline_search, name="timeline_search"),
    path("clients/<str:client_id>/timeline/poll/", views.timeline_poll, name="timeline_poll"),
    path("clients/<str:client_id>/entries/", views.entry_append, name="entry_append"),
    path("clients/<str:client_id>/assignees/", views_caseload.assignment_add, name="assignment_add"),
    path(
        "clients/<str:client_id>/assignees/<str:assignment_id>/remove/",
        views_caseload.assignment_remove,
        name="assignment_remove",
    ),
    path("clients/<str:client_id>/shares/", views_sharing.share_page, name="share_page"),
    path("clients/<str:client_id>/shares/grant/", views_sharing.share_grant, name="share_grant"),
    path("clients/<str:client_id>/shares/<str:share_id>/revoke/", views_sharing.share_revoke, name="share_revoke"),
    path("inbox/", views_inbox.inbox, name="inbox"),
    path("inbox/read/", views_inbox.inbox_mark_read, name="inbox_mark_read"),
    path("inbox/badge/", views_inbox.unread_badge, name="unread_badge"),
    path("agency/", views_agency.agency_admin, name="agency_admin"),
    path("agency/keys/new/", views_agency.apikey_issue, name="apikey_issue"),
    path("agency/keys/<str:key_id>/revoke/", views_agency.apikey_revoke, name="apikey_revoke"),
    path("privacy/", views_privacy.dashboard, name="privacy_dashboard"),
    path("privacy/events/", views_privacy.events, name="privacy_events"),
    path("privacy/clients/<str:client_id>/", views_privacy.client_history, name="privacy_client"),
    path("privacy/users/<str:username>/", views_privacy.user_activity, name="privacy_user"),
    path("privacy/terms/", views_privacy.term_search, name="privacy_terms"),
    path("privacy/disclosure/", views_privacy.disclosure, name="privacy_disclosure"),
    path("privacy/disclosure/csv/", views_privacy.disclosure_csv, name="privacy_disclosure_csv"),
    path("privacy/flags/", views_privacy.flags, name="privacy_flags"),
    path("privacy/flags/detect/", views_privacy.flags_detect, name="privacy_flags_detect"),
    path("privacy/flags/<str:flag_id>/", views_privacy.flag_detail, name="privacy_flag"),
    path("privacy/flags/<str:flag_id>/notes/", views_privacy.flag_note, name="privacy_flag_note"),
    path("privacy/exports/", views_privacy.export_start, name="privacy_export_start"),
    path("privacy/exports/<str:export_id>/", views_privacy.export_detail, name="privacy_export"),
    path("privacy/exports/<str:export_id>/status/", views_privacy.export_status, name="privacy_export_status"),
    path("privacy/exports/<str:export_id>/download/", views_privacy.export_download, name="privacy_export_download"),
]
