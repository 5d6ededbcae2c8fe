"""支援会議 and 役割分担: convening a support meeting (社会福祉法第106条の6), confirming an attendee agency's duty of
confidentiality (守秘義務), the minutes with their action items, and each agency's action items (``/tasks/``).

Thin adapters: every read goes through ``cases.meeting_selectors`` (and ``cases.convene_selectors`` for the
clients a meeting may discuss), every write through ``cases.services``; what the reader may do comes with the read
models (``can_confirm``, ``can_record_minutes``, ``can_mark_done``). A meeting the reader's agency neither convened
nor attends is the not-found page, like a hidden client. Names stay out of URLs: the client search of the convene
form is POSTed.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agencies import selectors as agency_selectors
from cases import convene_selectors, meeting_pages, meeting_selectors, notifications, services
from tsunagu.errors import Forbidden, InvalidInput, NotFound

from .auth import web_login_required
from .meeting_forms import ActionItemFormSet, BaseActionItemFormSet, MeetingForm, MinutesForm, client_label
from .web import FORM_ERROR_STATUS, error_page, is_htmx, page, web_actor

MEETINGS_PAGE_SIZE = 30
TASKS_PAGE_SIZE = 50
HOME_TASKS = 5  # the nearest due action items shown in the home page's box

TASK_TABS = ("open", "done")


def _see_other(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


# --- convening --------------------------------------------------------------------------------------------


def _attendee_choices(actor) -> list:
    """Agencies of the directory that may attend: every one but the convener's own."""
    own = actor.agency_code
    return [a for a in agency_selectors.agency_choices(actor=actor) if a.code != own]


def _convene_page(request, actor, form, clients, *, client_q="", status=200, search_errors=None) -> HttpResponse:
    context = {
        "form": form,
        "client_q": client_q,
        "search_errors": search_errors or [],
        "has_clients": bool(clients) or bool(client_q),
    }
    return page(request, "frontend/meeting_form.html", context, actor=actor, status=status)


def _convene_clients(actor, q: str, include: list) -> tuple[list, list]:
    """The managed clients to offer (matching ``q``), with the ticked ones kept; a search error as a message."""
    try:
        return convene_selectors.convene_client_choices(actor=actor, q=q, include=include), []
    except InvalidInput as exc:
        return convene_selectors.convene_client_choices(actor=actor, include=include), [
            m for msgs in exc.errors.values() for m in msgs
        ]


@web_login_required
@require_http_methods(["GET", "POST"])
def meeting_create(request: HttpRequest) -> HttpResponse:
    """支援会議を開催. GET: the form (``?client=<id>`` ticks a client, from its page). POST with ``find``: the client
    search (nothing is saved, names stay in the body). POST: convene through ``services.meeting_create``; errors
    by field, nothing saved."""
    actor = web_actor(request)
    if not actor.can_manage_shares or actor.agency is None:
        message = _("支援会議の開催は、支援対象者を管理する機関の管理職・主任または機関管理者のみが行えます。")
        return error_page(request, status=403, actor=actor, message=message)
    agencies = _attendee_choices(actor)
    if request.method == "GET":
        ticked = [request.GET["client"]] if request.GET.get("client") else []
        clients = convene_selectors.convene_client_choices(actor=actor, include=ticked)
        ticked = [str(c.id) for c in clients if str(c.id) in ticked]
        form = MeetingForm(initial={"clients": ticked}, clients=clients, agencies=agencies)
        return _convene_page(request, actor, form, clients)
    posted = MeetingForm(request.POST, agencies=agencies)
    ticked = posted.chosen_client_ids()
    if "find" in request.POST:
        q = request.POST.get("client_q", "")
        clients, search_errors = _convene_clients(actor, q, ticked)
        initial: dict[str, object] = {
            name: request.POST.get(name, "") for name in ("title", "held_on", "share_level", "share_days")
        }
        initial["attendees"] = request.POST.getlist("attendees")
        initial["clients"] = ticked
        form = MeetingForm(initial=initial, clients=clients, agencies=agencies)
        status = FORM_ERROR_STATUS if search_errors else 200
        return _convene_page(request, actor, form, clients, client_q=q, status=status, search_errors=search_errors)
    clients = convene_selectors.convene_client_choices(actor=actor, include=ticked)
    form = MeetingForm(request.POST, clients=clients, agencies=agencies)
    if form.is_valid():
        data = form.cleaned_data
        try:
            meeting = services.meeting_create(
                actor=actor,
                title=data["title"],
                held_on=data["held_on"],
                clients=data["clients"],
                attendees=data["attendees"],
                share_level=data["share_level"],
                share_days=data["share_days"],
            )
        except InvalidInput as exc:
            form.add_service_errors(exc)
        except NotFound:
            form.add_error("clients", _("選んだ支援対象者が見つかりません。"))
        except Forbidden as exc:
            form.add_error("clients", exc.message or _("この支援対象者の支援会議は開催できません。"))
        else:
            messages.success(
                request,
                _("支援会議を登録しました。出席機関が守秘義務を確認すると、その機関への共有が有効になります。"),
            )
            return _see_other(reverse("frontend:meeting_detail", args=[meeting.id]))
    return _convene_page(request, actor, form, clients, status=FORM_ERROR_STATUS)


# --- the list and one meeting -----------------------------------------------------------------------------


@web_login_required
@require_GET
def meeting_list(request: HttpRequest) -> HttpResponse:
    actor = web_actor(request)
    try:
        result = meeting_selectors.meeting_list(
            actor=actor, cursor=request.GET.get("cursor") or None, limit=MEETINGS_PAGE_SIZE
        )
    except InvalidInput:
        return HttpResponseRedirect(reverse("frontend:meeting_list"))  # a stale or forged cursor
    context = {"result": result, "can_convene": actor.can_manage_shares and actor.agency is not None}
    return page(request, "frontend/meeting_list.html", context, actor=actor)


def _minutes_forms(meeting, data=None) -> tuple[MinutesForm, BaseActionItemFormSet]:
    """The minutes form and its action item rows: the agencies are the convener and the attendees, the clients
    those of the meeting (each named only where the reader's agency sees it)."""
    agencies = [(meeting.convened_by_code, meeting.convened_by_name)] + [
        (a.agency_code, a.agency_name) for a in meeting.attendees
    ]
    clients = [(str(c.id), client_label(c) if c.visible else _("共有されていない支援対象者")) for c in meeting.clients]
    return MinutesForm(data), ActionItemFormSet(data, agencies=agencies, clients=clients)


def _meeting_page(request, actor, meeting_id, *, minutes=None, items=None, status=200) -> HttpResponse:
    read = meeting_pages.meeting_page(actor=actor, meeting_id=meeting_id)
    meeting = read.meeting
    notifications.notification_mark_read(actor=actor, meeting_id=meeting.id)  # opened: its notices are read
    context: dict = {"meeting": meeting, "minutes_versions": read.minutes_versions}
    if meeting.can_record_minutes:
        if minutes is None or items is None:
            minutes, items = _minutes_forms(meeting)
        context.update(minutes_form=minutes, items=items)
    return page(request, "frontend/meeting_detail.html", context, actor=actor, status=status)


@web_login_required
@require_GET
def meeting_detail(request: HttpRequest, meeting_id: str) -> HttpResponse:
    return _meeting_page(request, web_actor(request), meeting_id)


@web_login_required
@require_http_methods(["GET", "POST"])
def meeting_confirm(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """守秘義務の確認. GET: the statement and the button (for a supervisor or administrator of an attendee agency
    that has not confirmed). POST: ``services.meeting_confirm``; that agency's meeting shares become active."""
    actor = web_actor(request)
    meeting = meeting_selectors.meeting_detail(actor=actor, meeting_id=meeting_id)
    if request.method == "GET":
        if not meeting.can_confirm:
            message = _("守秘義務の確認は、未確認の出席機関の管理職・主任または機関管理者が行います。")
            return error_page(request, status=403, actor=actor, message=message)
        return page(request, "frontend/meeting_confirm.html", {"meeting": meeting}, actor=actor)
    if request.POST.get("agree") != "1":
        context = {"meeting": meeting, "errors": [_("守秘義務の内容を確認し、チェックを入れてください。")]}
        return page(request, "frontend/meeting_confirm.html", context, actor=actor, status=FORM_ERROR_STATUS)
    try:
        services.meeting_confirm(actor=actor, meeting_id=meeting_id)
    except InvalidInput as exc:
        context = {"meeting": meeting, "errors": [m for msgs in exc.errors.values() for m in msgs]}
        return page(request, "frontend/meeting_confirm.html", context, actor=actor, status=FORM_ERROR_STATUS)
    messages.success(request, _("守秘義務を確認しました。この会議による共有が有効になりました。"))
    return _see_other(reverse("frontend:meeting_detail", args=[meeting_id]))


@web_login_required
@require_POST
def minutes_record(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """記録を保存: a new version of the minutes (the earlier ones stay); errors by field, nothing saved."""
    actor = web_actor(request)
    meeting = meeting_selectors.meeting_detail(actor=actor, meeting_id=meeting_id)
    if not meeting.can_record_minutes:
        message = _("支援会議の記録は、開催した機関の職員が行います。")
        return error_page(request, status=403, actor=actor, message=message)
    minutes, items = _minutes_forms(meeting, request.POST)
    if minutes.is_valid() and items.is_valid():
        try:
            services.meeting_minutes_record(
                actor=actor,
                meeting_id=meeting_id,
                summary=minutes.cleaned_data["summary"],
                decisions=minutes.cleaned_data["decisions"],
                action_items=items.items(),
            )
        except InvalidInput as exc:
            rest = items.add_service_errors(exc)
            minutes.add_service_errors(InvalidInput(rest))
            if not rest:
                minutes.add_error(None, _("役割分担の入力に誤りがあります。"))
        else:
            messages.success(request, _("支援会議の記録を保存しました。各支援対象者の支援記録にも残ります。"))
            return _see_other(reverse("frontend:meeting_detail", args=[meeting_id]) + "#minutes")
    return _meeting_page(request, actor, meeting_id, minutes=minutes, items=items, status=FORM_ERROR_STATUS)


# --- action items (役割分担) --------------------------------------------------------------------------------


@web_login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    """My agency's action items: open ones (oldest due first), done ones on the second tab."""
    actor = web_actor(request)
    status = request.GET.get("status", "open")
    status = status if status in TASK_TABS else "open"
    try:
        result = meeting_selectors.task_list(
            actor=actor, status=status, cursor=request.GET.get("cursor") or None, limit=TASKS_PAGE_SIZE
        )
    except InvalidInput:
        return HttpResponseRedirect(reverse("frontend:task_list") + f"?status={status}")
    context = {"result": result, "status": status}
    return page(request, "frontend/task_list.html", context, actor=actor)


@web_login_required
@require_POST
def task_done(request: HttpRequest, task_id: str) -> HttpResponse:
    """完了にする (recorded on the client's timeline). With htmx: the row, now done; else back to where it was."""
    actor = web_actor(request)
    try:
        task = services.task_done(actor=actor, task_id=task_id)
    except InvalidInput as exc:
        for msgs in exc.errors.values():
            for m in msgs:
                messages.error(request, m)
        return _see_other(_back(request))
    if is_htmx(request):
        return page(request, "frontend/_task_row.html", {"task": task, "done_now": True}, actor=actor)
    messages.success(request, _("役割分担を完了にしました。支援記録に残ります。"))
    return _see_other(_back(request))


def _back(request) -> str:
    """Where a form of the tasks or a meeting page returns: that page (only our own paths are followed)."""
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return target
    return reverse("frontend:task_list")


@web_login_required(activity=False)
@require_GET
def home_box(request: HttpRequest) -> HttpResponse:
    """The home page's 支援会議・役割分担 box (loaded by htmx after the page): the open action items of my agency
    with the nearest due ones, the meetings waiting for my agency's confirmation, and, for a convener, the
    action items past their due date."""
    actor = web_actor(request)
    if actor.agency is None or not actor.reads_cases:
        return HttpResponse(status=204)
    tasks = meeting_selectors.task_list(actor=actor, status="open", cursor=None, limit=HOME_TASKS)
    context = {
        "tasks": tasks,
        "pending": meeting_selectors.pending_confirmations(actor=actor),
        "overdue": meeting_selectors.overdue_tasks_for_convener(actor=actor),
    }
    return page(request, "frontend/_meeting_home_box.html", context, actor=actor)
