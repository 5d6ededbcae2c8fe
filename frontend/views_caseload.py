"""The case list (ケース一覧) and what belongs to it: each role's home, the 自分の担当 / すべて tabs, the sort, saved
filters, the 担当者 of a client, and the shares of the user's agency that ended.

Names never travel in a URL (proxies, access logs and browser history keep those): the search form is POSTed, the
conditions are kept in the server-side session, and the list's URL stays ``/clients/`` (paging adds only an opaque
``cursor``; the tabs, the sort and a saved filter are applied by links that carry no name and are moved into the
session the same way). Every read goes through the audited selectors, every write through the services.
"""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from agencies.actors import Actor
from agencies.models import Role
from cases import saved_filters, selectors, services
from cases.models import ClientStatus, ListScope, ListSort
from tsunagu.errors import InvalidInput, NotFound

from .auth import web_login_required
from .forms import COMMON_TAGS
from .web import FORM_ERROR_STATUS, FRAGMENT_ERROR_STATUS, is_htmx, page, web_actor

SEARCH_SESSION_KEY = "client_search"
SEARCH_FIELDS = ("q", "status", "tag", "scope", "sort")
# A link may set these (no name among them); ``q`` arrives by POST (an old bookmark's ``?q=`` is moved too).
LINK_FIELDS = ("scope", "sort", "status", "tag", "q")


def default_scope(actor: Actor) -> str:
    """自分の担当 is where a caseworker starts; supervisors and administrators look across the agency's cases."""
    return ListScope.MINE if actor.role == Role.CASEWORKER else ListScope.ALL


def home_url(actor: Actor) -> str | None:
    """Where ``/`` sends a user whose home is not the case list: a privacy officer to the audit dashboard unless
    they carry cases of their own (an officer who is also a caseworker with a 担当), an agency administrator with no
    case of their own to 機関管理. None: the case list."""
    if actor.is_privacy_officer:
        if actor.reads_cases and selectors.has_caseload(actor=actor):
            return None
        return reverse("frontend:privacy_dashboard")
    if not actor.reads_cases:
        return None
    if actor.role == Role.AGENCY_ADMIN and not selectors.has_caseload(actor=actor):
        return reverse("frontend:agency_admin")
    return None


def _redirect(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _list_url() -> str:
    return reverse("frontend:client_list")


def _conditions(actor: Actor, stored: dict) -> dict:
    """The list's conditions: what the session holds, with the role's default tab."""
    conditions = {name: str(stored.get(name, "") or "").strip() for name in SEARCH_FIELDS}
    conditions["scope"] = conditions["scope"] or default_scope(actor)
    return conditions


@web_login_required
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """``/``: each role's home. A caseworker or supervisor sees the case list right here."""
    actor = web_actor(request)
    if request.method == "GET" and not request.GET:
        target = home_url(actor)
        if target:
            return HttpResponseRedirect(target)
    return client_list(request)


@web_login_required
@require_http_methods(["GET", "POST"])
def client_list(request: HttpRequest) -> HttpResponse:
    """The case list. A POST (the search form) answers htmx with the results fragment (no URL is pushed) and a plain
    browser with a redirect to the list. A link's conditions (a tab, a saved filter, an old bookmark with ``?q=``)
    are moved into the session and redirected to the list, where they are read (and audited) once."""
    actor = web_actor(request)
    session = request.session
    stored = dict(session.get(SEARCH_SESSION_KEY) or {})
    if request.method == "POST":
        if request.POST.get("clear"):
            conditions = {"scope": stored.get("scope", ""), "sort": stored.get("sort", "")}  # the tab and order stay
        else:
            conditions = {name: request.POST.get(name, "") for name in SEARCH_FIELDS}
        session[SEARCH_SESSION_KEY] = conditions
        if not is_htmx(request):
            return _redirect(_list_url())
        stored = conditions
    elif "saved" in request.GET:
        try:
            saved = saved_filters.saved_filter_get(actor=actor, filter_id=request.GET["saved"])
        except NotFound as exc:
            messages.error(request, str(exc.message or _("保存した絞り込みが見つかりません。")))
        else:
            session[SEARCH_SESSION_KEY] = saved.conditions
        return _redirect(_list_url())
    elif any(name in request.GET for name in LINK_FIELDS):
        stored.update({name: request.GET[name] for name in LINK_FIELDS if name in request.GET})
        session[SEARCH_SESSION_KEY] = stored
        return _redirect(_list_url())
    return _render_list(request, actor, _conditions(actor, stored))


def _render_list(request: HttpRequest, actor: Actor, conditions: dict, *, save_errors=None, status=200):
    cursor = request.GET.get("cursor") if request.method == "GET" else None
    errors: dict = {}
    page_obj = None
    # A search looks across every client the agency sees, whatever the tab: one looks a person up by name to find
    # them, often someone a colleague carries (the 担当 column says who).
    scope = ListScope.ALL if conditions["q"] else conditions["scope"]
    try:
        page_obj = selectors.client_list(
            actor=actor, cursor=cursor or None, limit=settings.CLIENT_PAGE_SIZE, **{**conditions, "scope": scope}
        )
    except InvalidInput as exc:
        errors = exc.errors
        request.session.pop(SEARCH_SESSION_KEY, None)  # shown once with its error, not kept for the next visit
    fragment = is_htmx(request) and request.headers.get("HX-Target") == "results"
    context = {
        "page": page_obj,
        "filters": conditions,
        "errors": errors,
        "status_choices": ClientStatus.choices,
        "tag_choices": COMMON_TAGS,
        "sort_choices": ListSort.choices,
        "scope_choices": ListScope.choices,
        "searching": any(conditions[n] for n in ("q", "status", "tag")),
        "save_errors": save_errors or {},
    }
    if not fragment:
        context["saved_filters"] = saved_filters.saved_filter_list(actor=actor)
        # Told on the first page only: which shares of the agency ended lately (case number and date, no name).
        context["ended_shares"] = [] if cursor else selectors.share_ended_list(actor=actor)
    if errors or save_errors:
        status = (FRAGMENT_ERROR_STATUS if is_htmx(request) else FORM_ERROR_STATUS) if status == 200 else status
    if fragment:
        return page(request, "frontend/_client_results.html", context, actor=actor, status=status)
    return page(request, "frontend/client_list.html", context, actor=actor, status=status)


# --- saved filters ------------------------------------------------------------------------------------------


@web_login_required
@require_POST
def saved_filter_save(request: HttpRequest) -> HttpResponse:
    """Save the list's current tab, status, tag and sort under a name (never the search term)."""
    actor = web_actor(request)
    conditions = _conditions(actor, request.session.get(SEARCH_SESSION_KEY) or {})
    name = request.POST.get("name", "")
    try:
        saved = saved_filters.saved_filter_save(
            actor=actor,
            name=name,
            scope=conditions["scope"],
            status=conditions["status"],
            tag=conditions["tag"],
            sort=conditions["sort"],
        )
    except InvalidInput as exc:
        return _render_list(request, actor, conditions, save_errors=exc.errors, status=FORM_ERROR_STATUS)
    messages.success(request, _("絞り込み「%(name)s」を保存しました。") % {"name": saved.name})
    return _redirect(_list_url())


@web_login_required
@require_POST
def saved_filter_delete(request: HttpRequest, filter_id: str) -> HttpResponse:
    actor = web_actor(request)
    saved = saved_filters.saved_filter_get(actor=actor, filter_id=filter_id)  # NotFound: the not-found page
    saved_filters.saved_filter_delete(actor=actor, filter_id=filter_id)
    messages.success(request, _("絞り込み「%(name)s」を削除しました。") % {"name": saved.name})
    return _redirect(_list_url())


# --- 担当者 of a client (the form is on the client page) ---------------------------------------------------------


def _back_to_client(client_id: str) -> HttpResponse:
    return _redirect(reverse("frontend:client_detail", args=[client_id]))


def _invalid(request: HttpRequest, exc: InvalidInput) -> None:
    for msgs in exc.errors.values():
        for message in msgs:
            messages.error(request, message)


@web_login_required
@require_POST
def assignment_add(request: HttpRequest, client_id: str) -> HttpResponse:
    """担当に追加. A hidden client is the not-found page; a refusal the 403 page (audited by the service)."""
    actor = web_actor(request)
    try:
        assignees = services.assignment_add(actor=actor, client_id=client_id, user_id=request.POST.get("user", ""))
    except InvalidInput as exc:
        _invalid(request, exc)
    else:
        added = next((a for a in reversed(assignees) if str(a.user_id) == request.POST.get("user")), None)
        if added is not None:
            messages.success(request, _("%(name)s さんを担当者に追加しました。") % {"name": added.display_name})
    return _back_to_client(client_id)


@web_login_required
@require_POST
def assignment_remove(request: HttpRequest, client_id: str, assignment_id: str) -> HttpResponse:
    """外す: end one of the agency's assignments of the client."""
    actor = web_actor(request)
    services.assignment_remove(actor=actor, client_id=client_id, assignment_id=assignment_id)
    messages.success(request, _("担当者を外しました。"))
    return _back_to_client(client_id)
