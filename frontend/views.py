"""Browser views for clients and their timelines: thin adapters over the audited selectors and services.

Views never query the case models: every read goes through ``cases.selectors`` (which checks access and writes
the audit event), every write through ``cases.services``, notices through ``cases.notifications``.

New entries by other agencies (the "新しい記録があります" cue): the client page polls a small endpoint every
``TIMELINE_POLL_SECONDS`` (15 by default) that looks only at the user's own unread notices (one indexed query, no
case data, nothing to audit). Opening the page or reloading its timeline marks that client's notices read, so an
unread notice for the client means something was added since the timeline was last read. Clicking the cue
reloads the timeline through the audited selector. Polls do not count as activity for the idle timeout (see
``frontend.auth``).
"""

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agencies import selectors as agency_selectors
from cases import notifications, selectors, services
from cases.attachments import Incoming
from tsunagu.errors import InvalidInput, Unavailable

from . import timeline_filters
from .auth import web_login_required
from .csp import allow_own_frames
from .forms import ClientForm, EntryForm
from .timeline_filters import TimelineFilters
from .web import (
    FORM_ERROR_STATUS,
    FRAGMENT_ERROR_STATUS,
    error_page,
    forbidden,
    is_htmx,
    not_found,
    page,
    web_actor,
)

__all__ = ["forbidden", "not_found", "web_actor"]

TIMELINE_PAGE_SIZE = 30


# The notices looked at by one poll: the newest unread ones are enough to see whether this client has one.
POLL_WINDOW = 50


# --- the client page -----------------------------------------------------------------------------------


def _unread_notice_ids(actor, client_id) -> list:
    """The actor's unread notices about this client (among the newest ones)."""
    inbox = notifications.notification_list(actor=actor, unread_only=True, limit=POLL_WINDOW)
    return [n.id for n in inbox.items if str(n.client_id) == str(client_id)]


def _nest_corrections(entries: list) -> list[dict]:
    """Rows for the timeline: each entry with the corrections of it that are on the same page, shown beneath it
    (oldest correction first). A correction whose original is on another page stands alone."""
    by_id = {e.id: e for e in entries}
    children: dict = {}
    for e in entries:
        if e.corrects in by_id:
            children.setdefault(e.corrects, []).append(e)

    def row(e) -> dict:
        kids = sorted(children.get(e.id, []), key=lambda c: c.recorded_at)
        return {"entry": e, "corrections": [row(k) for k in kids]}

    return [row(e) for e in entries if e.corrects not in by_id]


def _load_timeline(actor, client_id, data) -> dict:
    """The timeline part of the client page (audited through the selector), with the filters in ``data`` (see
    ``frontend.timeline_filters``). Raises NotFound for a hidden client."""
    filters, context = _timeline_context(data)
    if filters.errors:
        return context
    try:
        timeline = selectors.timeline_list(
            actor=actor,
            client_id=client_id,
            cursor=data.get("cursor") or None,
            limit=TIMELINE_PAGE_SIZE,
            **filters.selector_kwargs(),
        )
    except InvalidInput as exc:
        filters.errors = exc.errors  # the form marks the fields they are about
        context.update(timeline_errors=exc.errors)
        return context
    context.update(timeline=timeline, rows=_nest_corrections(timeline.items))
    return context


def _timeline_context(data) -> tuple[TimelineFilters, dict]:
    """The filters in ``data`` (see ``frontend.timeline_filters``) and the timeline part's context without the
    timeline itself."""
    filters = TimelineFilters.parse(data)
    cursor = data.get("cursor") or ""
    context = {
        "tf": filters,
        "f_kind": filters.kind,
        "f_agency": filters.agency,
        "timeline_errors": filters.errors,
        "filter_query": filters.query(),
        "timeline_query": urlencode({**filters.url_params(), **({"cursor": cursor} if cursor else {})}),
        "timeline": None,
        "rows": [],
    }
    return filters, context


def _page_extras(actor, client, shares, unread: list) -> dict:
    """What the client page adds to its reads: the 担当者 form's candidates, the filters' choices, and the
    client's notices marked read."""
    context: dict = {}
    if client.can_assign:  # the 担当者 form: colleagues who may be assigned and are not yet
        assigned = {a.user_id for a in client.own_assignees}
        candidates = selectors.assignment_candidates(actor=actor)
        context["assignment_candidates"] = [c for c in candidates if c.user_id not in assigned]
    if unread:
        notifications.notification_mark_read(actor=actor, notification_ids=unread)
    context.update(
        agency_filter_choices=sorted({(s.agency_code, s.agency_name) for s in shares}, key=lambda a: a[1]),
        kind_filter_groups=timeline_filters.kind_choices(),
        poll_seconds=settings.TIMELINE_POLL_SECONDS,
    )
    return context


def _client_page(actor, client_id, data, *, mark_read: bool = True) -> dict:
    """What every part of the client page shows: the client, its shares and the timeline (with the filters and
    the cursor in ``data``); what the actor may do comes with them (``client.can_append``, ``entry.can_correct``).
    Reads through the audited selectors; NotFound when the client is hidden (the view lets it through to the
    not-found page). ``mark_read``: opening the page or reloading its timeline marks the client's notices read
    (see the module docstring). Used by the timeline's fragments, which keep their own reads (``client.view``,
    ``share.list``, ``timeline.view``); the whole page is one read (``_client_page_once``)."""
    unread = _unread_notice_ids(actor, client_id) if mark_read else []
    client = selectors.client_get(actor=actor, client_id=client_id)
    shares = selectors.share_list(actor=actor, client_id=client_id)
    context = {"client": client, "shares": shares, **_load_timeline(actor, client_id, data)}
    context.update(_page_extras(actor, client, shares, unread))
    return context


def _client_page_once(actor, client_id, data) -> dict:
    """The whole client page in one audited read (``selectors.client_page``: one access check, one
    ``client.view`` naming the profile, the shares and the timeline page). Wrong filters read no timeline: the
    page shows the profile and the shares with the filter form's errors. NotFound when the client is hidden."""
    unread = _unread_notice_ids(actor, client_id)
    filters, context = _timeline_context(data)
    query = None
    if not filters.errors:
        try:
            query = selectors.TimelineQuery.of(
                cursor=data.get("cursor") or None, limit=TIMELINE_PAGE_SIZE, **filters.selector_kwargs()
            )
        except InvalidInput as exc:
            filters.errors = exc.errors  # the form marks the fields they are about
            context["timeline_errors"] = exc.errors
    try:
        read = selectors.client_page(actor=actor, client_id=client_id, timeline=query)
    except InvalidInput as exc:  # a forged or stale cursor: nothing was read; read the page without the timeline
        filters.errors = exc.errors
        context["timeline_errors"] = exc.errors
        read = selectors.client_page(actor=actor, client_id=client_id, timeline=None)
    context.update(client=read.client, shares=read.shares)
    if read.timeline is not None:
        context.update(timeline=read.timeline, rows=_nest_corrections(read.timeline.items))
    context.update(_page_extras(actor, read.client, read.shares, unread))
    return context


def _entry_form_context(context: dict, data, entry_form=None) -> dict:
    """The entry form of the client page: blank, a correction of the entry named by ``correct`` (one of the
    agency's own on this page), or the posted form with its errors."""
    correcting = None
    timeline = context.get("timeline")
    if context["client"].can_append and entry_form is None:
        correct_id = data.get("correct", "")
        if correct_id and timeline:
            correcting = next((e for e in timeline.items if str(e.id) == correct_id), None)
            if correcting is not None and not correcting.can_correct:
                correcting = None
        if correcting is not None:
            entry_form = EntryForm(
                initial={
                    "kind": correcting.kind,
                    "occurred_at": correcting.occurred_at,
                    "body": correcting.body,
                    "corrects": str(correcting.id),
                }
            )
        else:
            entry_form = EntryForm()
    if entry_form is not None and entry_form.is_bound and not correcting:
        corrects = entry_form.data.get("corrects")
        if corrects and timeline:
            correcting = next((e for e in timeline.items if str(e.id) == corrects), None)
    return {"entry_form": entry_form, "correcting": correcting}


def _client_detail_page(request: HttpRequest, actor, client_id, data, *, entry_form=None, status=200) -> HttpResponse:
    context = _client_page_once(actor, client_id, data)
    context.update(
        _entry_form_context(context, data, entry_form),
        active_shares=[s for s in context["shares"] if s.is_active],
    )
    if context["timeline_errors"]:
        status = FORM_ERROR_STATUS
    # The page's preview dialog frames our own preview URL (a PDF); no other page frames anything.
    return allow_own_frames(page(request, "frontend/client_detail.html", context, actor=actor, status=status))


@web_login_required
@require_GET
def client_detail(request: HttpRequest, client_id: str) -> HttpResponse:
    if timeline_filters.TEXT_FIELD in request.GET:
        return _timeline_search_redirect(request, client_id, request.GET)  # a search text typed into the URL
    data = timeline_filters.request_data(request, client_id)
    return _client_detail_page(request, web_actor(request), client_id, data)


@web_login_required
@require_GET
def timeline_fragment(request: HttpRequest, client_id: str) -> HttpResponse:
    """The timeline section alone (filters, paging, the cue's "reload"). Without htmx: the whole page."""
    if not is_htmx(request):
        query = request.GET.urlencode()
        return HttpResponseRedirect(
            reverse("frontend:client_detail", args=[client_id]) + (f"?{query}" if query else "")
        )
    return _timeline_response(request, client_id, timeline_filters.request_data(request, client_id))


def _timeline_response(request: HttpRequest, client_id: str, data) -> HttpResponse:
    actor = web_actor(request)
    context = _client_page(actor, client_id, data)
    context["oob"] = True
    status = FRAGMENT_ERROR_STATUS if context["timeline_errors"] else 200
    return page(request, "frontend/_timeline_response.html", context, actor=actor, status=status)


def _timeline_search_redirect(request: HttpRequest, client_id: str, data) -> HttpResponse:
    """Keep the search text in the session and answer with the page's URL, which carries the other filters only."""
    filters = TimelineFilters.parse(data)
    timeline_filters.keep_search_text(request.session, client_id, filters.q)
    query = filters.query()
    url = reverse("frontend:client_detail", args=[client_id]) + (f"?{query}" if query else "")
    response = HttpResponseRedirect(url + "#timeline")
    response.status_code = 303
    return response


@web_login_required
@require_POST
def timeline_search(request: HttpRequest, client_id: str) -> HttpResponse:
    """The timeline's filter form, POSTed so that the search text stays out of the URL (see
    ``frontend.timeline_filters``). With htmx: the filtered timeline, and the page's new URL pushed into the
    history (bookmarkable; it carries the other filters only). Without htmx: a redirect to that URL."""
    if not is_htmx(request):
        return _timeline_search_redirect(request, client_id, request.POST)
    filters = TimelineFilters.parse(request.POST)
    timeline_filters.keep_search_text(request.session, client_id, filters.q)
    response = _timeline_response(request, client_id, {**filters.url_params(), timeline_filters.TEXT_FIELD: filters.q})
    if response.status_code == 200:
        query = filters.query()
        response["HX-Push-Url"] = reverse("frontend:client_detail", args=[client_id]) + (f"?{query}" if query else "")
    return response


@web_login_required(activity=False)
@require_GET
def timeline_poll(request: HttpRequest, client_id: str) -> HttpResponse:
    """The cue: "新しい記録があります" when the user has an unread notice about this client, else nothing (204).
    Reads the user's own notices only, never the timeline (see the module docstring)."""
    actor = web_actor(request)
    if not _unread_notice_ids(actor, client_id):
        return HttpResponse(status=204)
    context = {"client_id": client_id, "query": request.GET.urlencode()}
    return page(request, "frontend/_timeline_cue.html", context, actor=actor)


@web_login_required
@require_POST
def entry_append(request: HttpRequest, client_id: str) -> HttpResponse:
    """Append an entry, or a correction (``corrects``), with its files (``files``: the attachment service checks,
    cleans, scans and stores them with the entry, or refuses them all and writes nothing). With htmx: the fresh
    form and the reloaded timeline."""
    actor = web_actor(request)
    form = EntryForm(request.POST, request.FILES)
    entry = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.timeline_append(
                actor=actor,
                client_id=client_id,
                kind=data["kind"],
                body=data["body"],
                occurred_at=data["occurred_at"],
                corrects=data["corrects"] or None,
                files=[Incoming(name=f.name, file=f, size=f.size) for f in data["files"]],
            )
        except InvalidInput as exc:
            form.add_service_errors(exc)
        except Unavailable as exc:  # the scanner or the storage is out of reach: nothing was written
            form.add_error("files", exc.message)
    if entry is not None:
        done = _("訂正を記録しました。") if entry.corrects else _("支援記録を追加しました。")
        if not is_htmx(request):
            messages.success(request, done)
            return HttpResponseRedirect(reverse("frontend:client_detail", args=[client_id]) + "#timeline")
        # The timeline as it is now. Posting does not mark the client's notices read (opening or reloading does).
        context = _client_page(actor, client_id, request.POST, mark_read=False)
        context.update(entry_form=EntryForm(), done_message=done, new_entry_id=entry.id, oob=True)
        response = page(request, "frontend/_entry_form_response.html", context, actor=actor)
        # The browser drops its draft of this form only now that the entry is stored (frontend/static/session.js).
        saved = {"client": str(client_id), "corrects": str(entry.corrects or "")}
        response["HX-Trigger"] = json.dumps({"tsunagu:entry-saved": saved})
        return response
    # Bad input: nothing was written; show the form again with its errors.
    if is_htmx(request):
        # Only the form is swapped: nothing is read (or audited) for it.
        context = {"entry_form": form, "client": {"id": client_id}}
        if form.data.get("corrects"):
            context["correcting"] = {"id": form.data.get("corrects")}
        return page(request, "frontend/_entry_form.html", context, actor=actor, status=FRAGMENT_ERROR_STATUS)
    return _client_detail_page(request, actor, client_id, request.POST, entry_form=form, status=FORM_ERROR_STATUS)


# --- registering a client ------------------------------------------------------------------------------


def _duplicates(actor, form: ClientForm) -> list:
    kana = form.cleaned_data.get("name_kana") if hasattr(form, "cleaned_data") else None
    birth = form.cleaned_data.get("birth_date") if hasattr(form, "cleaned_data") else None
    if not kana or not birth:
        return []
    return selectors.client_find_duplicates(actor=actor, name_kana=kana, birth_date=birth)


@web_login_required
@require_http_methods(["GET", "POST"])
def client_create(request: HttpRequest) -> HttpResponse:
    """The registration form: offered to those who may register (``ProfileView.can_register_clients``; an empty
    form, nothing to audit). A POST by anyone else is refused, and audited, by ``services.client_create``."""
    actor = web_actor(request)
    if request.method == "GET":
        if not agency_selectors.profile_get(actor=actor).can_register_clients:
            message = _(
                "支援対象者の登録は、所属機関の職員のみが行えます（支援業務の役割のない個人情報保護管理者を除く）。"
            )
            return error_page(request, status=403, actor=actor, message=message)
        return page(request, "frontend/client_form.html", {"form": ClientForm()}, actor=actor)
    form = ClientForm(request.POST)
    duplicates: list = []
    status = FORM_ERROR_STATUS
    if form.is_valid():
        duplicates = _duplicates(actor, form)
        if duplicates and request.POST.get("confirm_duplicate") != "1":
            # Not an error: ask whether this is really someone else. Nothing is written yet.
            status = 200
        else:
            data = form.cleaned_data
            try:
                client = services.client_create(
                    actor=actor,
                    name=data["name"],
                    name_kana=data["name_kana"],
                    birth_date=data["birth_date"],
                    address=data["address"],
                    phone=data["phone"],
                    tags=form.tag_list(),
                    address_confidential=data["address_confidential"],
                    basis=data["basis"],
                )
            except InvalidInput as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    _("%(name)s さんを登録しました（ケース番号 %(number)s）。")
                    % {"name": client.name, "number": client.case_number},
                )
                return HttpResponseRedirect(reverse("frontend:client_detail", args=[client.id]))
    context = {"form": form, "duplicates": duplicates, "confirming_duplicate": bool(duplicates) and status == 200}
    return page(request, "frontend/client_form.html", context, actor=actor, status=status)


@web_login_required
@require_POST
def client_duplicates(request: HttpRequest) -> HttpResponse:
    """The duplicate warning, checked as the フリガナ and birth date are typed (htmx). Same rules as on submit."""
    actor = web_actor(request)
    form = ClientForm(request.POST)
    form.is_valid()  # only フリガナ and birth date matter here; other fields may still be empty
    duplicates = _duplicates(actor, form) if actor.agency is not None else []
    return page(request, "frontend/_duplicates.html", {"duplicates": duplicates}, actor=actor)
