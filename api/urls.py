from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import problems, views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/agencies/", views.AgencyListView.as_view(), name="agency_list"),
    path("v1/clients/", views.ClientListView.as_view(), name="client_list"),
    path("v1/clients/<str:id>/", views.ClientDetailView.as_view(), name="client_detail"),
    path("v1/clients/<str:id>/timeline/", views.TimelineView.as_view(), name="timeline"),
    path("v1/clients/<str:id>/shares/", views.ShareListView.as_view(), name="share_list"),
    path("v1/clients/<str:id>/shares/<str:share_id>/", views.ShareDetailView.as_view(), name="share_detail"),
    path("v1/clients/<str:id>/inquiries/", views.ClientInquiryView.as_view(), name="client_inquiries"),
    path("v1/inquiries/", views.InquiryListView.as_view(), name="inquiry_list"),
    path("v1/inquiries/<str:id>/", views.InquiryDetailView.as_view(), name="inquiry_detail"),
    path("v1/inquiries/<str:id>/replies/", views.InquiryReplyView.as_view(), name="inquiry_replies"),
    path("v1/inquiries/<str:id>/close/", views.InquiryCloseView.as_view(), name="inquiry_close"),
    path("v1/meetings/", views.MeetingListView.as_view(), name="meeting_list"),
    path("v1/meetings/<str:id>/", views.MeetingDetailView.as_view(), name="meeting_detail"),
    path("v1/meetings/<str:id>/confirm/", views.MeetingConfirmView.as_view(), name="meeting_confirm"),
    path("v1/meetings/<str:id>/minutes/", views.MeetingMinutesView.as_view(), name="meeting_minutes"),
    path("v1/attachments/<str:id>/", views.AttachmentView.as_view(), name="attachment"),
    path("v1/tasks/", views.TaskListView.as_view(), name="task_list"),
    path("v1/tasks/<str:id>/done/", views.TaskDoneView.as_view(), name="task_done"),
    path("v1/audit/events/", views.AuditEventListView.as_view(), name="audit_event_list"),
    path("v1/audit/seals/latest/", views.AuditSealLatestView.as_view(), name="audit_seal_latest"),
    # Anything else under /api/ is a problem+json 404, never the browser's not-found page.
    re_path(r"^.*$", problems.not_found, name="not_found"),
]
