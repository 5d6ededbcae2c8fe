"""お知らせ: the user's own notices, grouped by client (or by 支援会議: its invitation and minutes), through
cases.notifications. Each client is named only while the user's agency can still see it (the selector decides and
audits the exposure); a notice links to the client page — or the meeting page — which checks access as always (a
share may have ended since)."""

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases import notifications
from tsunagu.errors import InvalidInput

from .auth import web_login_required
from .web import FORM_ERROR_STATUS, is_htmx, page, web_actor

INBOX_PAGE_SIZE = 30


def _uuids(values: list[str]) -> list[uuid.UUID]:
    """Ids that are not UUIDs cannot be anyone's notice: drop them rather than fail."""
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return ids


def _inbox_context(actor, data) -> dict:
    unread_only = data.get("unread") == "1"
    errors: dict = {}
    inbox = None
    try:
        inbox = notifications.notification_inbox(
            actor=actor, unread_only=unread_only, cursor=data.get("cursor") or None, limit=INBOX_PAGE_SIZE
        )
    except InvalidInput as exc:
        errors = exc.errors
    return {"inbox": inbox, "unread_only": unread_only, "errors": errors}


@web_login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    actor = web_actor(request)
    context = _inbox_context(actor, request.GET)
    return page(
        request, "frontend/inbox.html", context, actor=actor, status=FORM_ERROR_STATUS if context["errors"] else 200
    )


@web_login_required
@require_POST
def inbox_mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one notice (``id``), one group's — about one client (``client``) or one 支援会議 (``meeting``) — or all
    of them (``all=1``) read. Others' notices are never touched."""
    actor = web_actor(request)
    if request.POST.get("all") == "1":
        count = notifications.notification_mark_read(actor=actor)
    elif "client" in request.POST:
        count = notifications.notification_mark_read(actor=actor, client_id=request.POST.get("client"))
    elif "meeting" in request.POST:
        count = notifications.notification_mark_read(actor=actor, meeting_id=request.POST.get("meeting"))
    else:
        count = notifications.notification_mark_read(actor=actor, notification_ids=_uuids(request.POST.getlist("id")))
    if is_htmx(request):
        context = _inbox_context(actor, request.POST)
        return page(request, "frontend/_inbox_response.html", context, actor=actor)
    if count:
        messages.success(request, _("%(count)d 件を既読にしました。") % {"count": count})
    query = "?unread=1" if request.POST.get("unread") == "1" else ""
    return HttpResponseRedirect(reverse("frontend:inbox") + query)


@web_login_required(activity=False)
@require_GET
def unread_badge(request: HttpRequest) -> HttpResponse:
    """The header's unread count, refreshed in the background (not counted as activity)."""
    actor = web_actor(request)
    return page(request, "frontend/_unread_badge.html", {}, actor=actor)
