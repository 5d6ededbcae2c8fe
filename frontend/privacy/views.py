"""The privacy officer's console pages. Thin adapters over ``audit.review`` and ``cases.review``.

Separation of duties: the officer sees audit data and client identifiers (case number, 氏名) — never case
content; ``cases.review`` hands out identifiers only. Only privacy officers reach these pages. The review
functions check that, record every page the officer opens as ``audit.view`` and record a refusal as denied;
pages that would not call one before answering (an empty form) refuse through ``_refuse`` below, which records
the denial the same way. No page counts events: results are keyset-paged, newest first, "さらにあります"
instead of a total, so a search costs the same on ten million events as on ten.
"""

import functools
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agencies import selectors as agency_selectors
from audit import flag_summaries, review
from audit.models import AnomalyFlag, AnomalyRule, AuthorisedBy, ExportEncoding, FlagStatus
from cases import meeting_review
from cases import review as case_review
from cases.actions import CaseAction
from cases.text import normalize
from tsunagu.db_router import replica_status
from tsunagu.errors import InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from ..auth import web_login_required
from ..web import FORM_ERROR_STATUS, page, web_actor
from . import charts
from .csv import disclosure_csv as disclosure_csv_file
from .forms import DisclosureForm, EventFilterForm, FlagNoteForm, TermSearchForm, day_end, day_start

if TYPE_CHECKING:
    from audit.models import AuditEvent

PAGE_SIZE = 50
UNKNOWN_CLIENT = "unknown"  # a targeted client id that names no client (shown as 不明な対象者, never the id)
# Client identifiers shown per event; a list page may expose fifty clients, the row says "ほか N 名".
IDENTIFY_PER_EVENT = 3


def officer_page(view):
    """A console page: signed in, and called with the request's actor. The review functions refuse anyone but a
    privacy officer and record the attempt; their ``Forbidden`` becomes the 403 page in ``frontend.errors``."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        return view(request, web_actor(request), *args, **kwargs)

    return web_login_required(wrapper)


def _refuse(actor, page_name: str) -> None:
    """For a page that calls no review function before it answers: refuse a non-officer (recorded)."""
    review.require_privacy_officer(actor=actor, details={"page": page_name})


# --- rows: events with the identities of the clients they touched --------------------------------------


@dataclass
class EventRow:
    event: "AuditEvent"
    agency_name: str
    clients: list = field(default_factory=list)  # ClientIdentity, or None when unknown
    more: int = 0
    target: object = None  # the targeted client when the event exposed none (a denied attempt)
    files: list = field(default_factory=list)  # file names, on one client's history only

    @property
    def basis(self) -> str:
        return AuthorisedBy.label_of(self.event.authorised_by)

    @property
    def basis_kind(self) -> str:
        return (self.event.authorised_by or "").partition(":")[0]


def _agency_names(actor) -> dict[str, str]:
    return {a.code: a.name for a in agency_selectors.agency_choices(actor=actor)}


def client_label(identity) -> str:
    """A client as the console names one: 氏名 with the case number beside it."""
    return _("%(name)s（%(case_number)s）") % {"name": identity.name, "case_number": identity.case_number}


@dataclass
class PageNames:
    """How a page names the agencies and clients its flags speak of (``audit.flag_summaries.Names``)."""

    agencies: dict[str, str]
    clients: dict = field(default_factory=dict)  # uuid → ClientIdentity

    def agency(self, code: str) -> str:
        return self.agencies.get(code, code) if code else _("（機関なし）")

    def client(self, value: str) -> str:
        cid = parse_uuid(value)
        found = self.clients.get(cid) if cid is not None else None
        return client_label(found) if found is not None else _("（不明な対象者）")

    def summary(self, flag: AnomalyFlag) -> str:
        """The flag's summary in the reader's language (a flag raised before summary codes: as stored)."""
        names = flag_summaries.Names(agency=self.agency, client=self.client)
        return flag_summaries.render(flag.summary_code, flag.summary_params, names) or flag.summary


def _flag_names(actor, flags, agencies: dict[str, str]) -> PageNames:
    """The names for a page of flags: the clients they speak of, identified in one call."""
    wanted = {
        cid
        for f in flags
        for value in flag_summaries.client_ids(f.summary_code, f.summary_params)
        if (cid := parse_uuid(value)) is not None
    }
    known = case_review.client_identify(actor=actor, client_ids=sorted(wanted, key=str)) if wanted else {}
    return PageNames(agencies=agencies, clients=known)


def _rows(actor, events, agencies: dict[str, str], *, also: set | None = None, known_out: dict | None = None):
    """One row per event; the clients' identifiers come from one ``client_identify`` call for the page (``also``:
    more client ids the page names, whose identities are put in ``known_out``)."""
    wanted: set[uuid.UUID] = set(also or ())
    for e in events:
        for cid in (e.client_ids or [])[:IDENTIFY_PER_EVENT]:
            if (u := parse_uuid(cid)) is not None:
                wanted.add(u)
        if e.target_type == "client" and not e.client_ids and (u := parse_uuid(e.target_id)) is not None:
            wanted.add(u)
    known = case_review.client_identify(actor=actor, client_ids=sorted(wanted, key=str)) if wanted else {}
    if known_out is not None:
        known_out.update(known)

    def identity(value: object) -> case_review.ClientIdentity | None:
        cid = parse_uuid(value)
        return known.get(cid) if cid is not None else None

    rows = []
    for e in events:
        ids = e.client_ids or []
        shown = [identity(cid) for cid in ids[:IDENTIFY_PER_EVENT]]
        target = None
        if e.target_type == "client" and not ids and e.target_id:
            target = identity(e.target_id) or UNKNOWN_CLIENT
        rows.append(
            EventRow(
                event=e,
                agency_name=agencies.get(e.actor_agency_code, e.actor_agency_code),
                clients=shown,
                more=max(0, len(ids) - IDENTIFY_PER_EVENT),
                target=target,
            )
        )
    return rows


def _identity(actor, client_id):
    """The identifiers of one client; NotFound when there is no such client."""
    cid = parse_uuid(client_id)
    found = case_review.client_identify(actor=actor, client_ids=[cid]) if cid else {}
    if cid not in found:
        raise NotFound
    return found[cid]


def _no_such_client(form) -> None:
    form.add_error("client_q", _("該当する支援対象者がいません。ケース番号または氏名を確認してください。"))


def _picked_client(actor, form) -> case_review.ClientIdentity | None:
    """The client picked on a lookup form (``client``), or None with a field error when there is no such client:
    the client is a field of the form, so an unknown one is said there, not as the not-found page."""
    try:
        return _identity(actor, form.cleaned_data["client"])
    except NotFound:
        _no_such_client(form)
        return None


def _lookup(actor, form, candidates_key="client") -> list:
    """Resolve the typed case number or 氏名 to one client: the form's ``client`` is set when exactly one
    matches; several matches are returned as candidates to pick from; none is a field error."""
    data = form.cleaned_data
    q = (data.get("client_q") or "").strip()
    if data.get(candidates_key) or not q:
        return []
    found = case_review.client_lookup(actor=actor, q=q)
    if len(found) == 1:
        data[candidates_key] = found[0].id
        return []
    if not found:
        _no_such_client(form)
    return found


# --- the dashboard -----------------------------------------------------------------------------------------


@require_GET
@officer_page
def dashboard(request: HttpRequest, actor) -> HttpResponse:
    stats = review.review_stats(actor=actor, days=charts.CHART_DAYS)
    status = review.review_seal_status(actor=actor)
    files = case_review.attachment_integrity(actor=actor)
    flags = review.flags_list(actor=actor, status="open", limit=5)
    agencies = _agency_names(actor)
    names = _flag_names(actor, flags.items, agencies)
    days = charts.days_until(stats.last_day, charts.CHART_DAYS)
    series = charts.agency_series(stats.events_per_day_by_agency, agencies)
    context = {
        "stats": stats,
        "seal": status.seal,
        "verification": status.verification,
        "digest": status.digest,
        "digest_signature_ok": status.digest_signature_ok,
        "files": files,
        "replica": replica_status(),  # None without a replica: the card is not shown
        "files_failed_url": reverse("frontend:privacy_events") + "?" + urlencode({"action": INTEGRITY_FAILED}),
        "flags": flags,
        "names": names,
        "events_chart": charts.stacked_bars(days, series),
        "legend": [(css, label) for css, label, _values in series],
        "denied_chart": charts.stacked_bars(days, [("series-denied", _("拒否"), stats.denied_per_day)], height=140),
        "chart_days": charts.CHART_DAYS,
        "chart_table": [
            {
                "day": d,
                "total": sum(stats.events_per_day_by_agency.get(d, {}).values()),
                "denied": stats.denied_per_day.get(d, 0),
            }
            for d in days
        ],
    }
    return page(request, "frontend/privacy/dashboard.html", context, actor=actor)


# --- search, per client, per user ---------------------------------------------------------------------------


def _filter_query(form) -> dict:
    """The search conditions as query parameters (for paging, the export and the client chip)."""
    data = form.cleaned_data
    params = {
        "client": str(data["client"]) if data.get("client") else "",
        "username": data.get("username", ""),
        "agency": data.get("agency", ""),
        "action": data.get("action", ""),
        "outcome": data.get("outcome", ""),
        "channel": data.get("channel", ""),
        "since": data["since"].isoformat() if data.get("since") else "",
        "until": data["until"].isoformat() if data.get("until") else "",
    }
    return {k: v for k, v in params.items() if v}


def _see_other(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _candidate_links(url_name: str, query: dict, candidates: list) -> list[tuple]:
    """Each candidate with the GET URL that picks it: the other conditions and the client's id, never a name."""
    base = {k: v for k, v in query.items() if k not in ("client", "client_q", "cursor")}
    return [(c, reverse(url_name) + "?" + urlencode({**base, "client": str(c.id)})) for c in candidates]


@require_http_methods(["GET", "POST"])
@officer_page
def events(request: HttpRequest, actor) -> HttpResponse:
    """The search. A typed name (``client_q``) is POSTed, resolved to a client id and the page redirected to a
    GET URL that carries the id only: names stay out of URLs, access logs and browser history."""
    agencies = agency_selectors.agency_choices(actor=actor)
    posted = request.method == "POST"
    form = EventFilterForm(request.POST if posted else request.GET, agencies=agencies)
    context: dict = {"form": form, "candidates": [], "client": None, "result": None, "rows": []}
    if form.is_valid():
        context["candidates"] = _lookup(actor, form)
        chosen = form.cleaned_data.get("client")
        if posted and not context["candidates"] and not form.errors:
            query = _filter_query(form)
            return _see_other(reverse("frontend:privacy_events") + (f"?{urlencode(query)}" if query else ""))
        if chosen:
            context["client"] = _picked_client(actor, form)
        if not context["candidates"] and not form.errors:
            try:
                result = review.review_events(
                    actor=actor, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, **form.review_filters()
                )
            except InvalidInput as exc:
                form.add_service_errors(exc)
            else:
                context["result"] = result
                context["rows"] = _rows(actor, result.items, {a.code: a.name for a in agencies})
        if not form.errors:
            context["query"] = _filter_query(form)
            context["candidates"] = _candidate_links("frontend:privacy_events", context["query"], context["candidates"])
    else:
        _refuse(actor, "events")
    context["encodings"] = ExportEncoding.choices
    source = request.POST if posted else request.GET
    context["searching"] = any(v for k, v in source.items() if k not in ("cursor", "csrfmiddlewaretoken"))
    status = FORM_ERROR_STATUS if form.errors else 200
    return page(request, "frontend/privacy/events.html", context, actor=actor, status=status)


INTEGRITY_FAILED = CaseAction.ATTACHMENT_INTEGRITY_FAILED.value  # what the dashboard's file-integrity card links to
HISTORY_ALL = "all"  # ?show=all: the per-client history with everything (bookmarkable)


def attachment_ids(event) -> list[str]:
    """The attachments an event is about (an upload, a download, a thumbnail, an integrity failure), in order."""
    ids: list[str] = []
    if event.target_type == "attachment" and event.target_id:
        ids.append(str(event.target_id))
    details = event.details if isinstance(event.details, dict) else {}
    single = details.get("attachment")
    if isinstance(single, str):
        ids.append(single)
    many = details.get("attachments")
    if isinstance(many, list):
        ids.extend(v for v in many if isinstance(v, str))
    return list(dict.fromkeys(ids))


def _name_files(actor, client_id, rows: list[EventRow]) -> None:
    """On ONE client's history, the names of the files its events are about (``cases.review.attachment_names``:
    that client's attachments only). Lists across clients never call this: they show no file names."""
    wanted = {aid for r in rows for aid in attachment_ids(r.event)}
    if not wanted:
        return
    names = case_review.attachment_names(
        actor=actor, client_id=client_id, attachment_ids=sorted(wanted)[: case_review.ATTACHMENT_NAMES_LIMIT]
    )
    for r in rows:
        r.files = [names[u] for aid in attachment_ids(r.event) if (u := parse_uuid(aid)) in names]


@require_GET
@officer_page
def client_history(request: HttpRequest, actor, client_id: str) -> HttpResponse:
    """Who accessed this client. By default what other agencies did with the client's records (opening, reading,
    appending, sharing; refused attempts included); ``?show=all`` adds the privacy office's own look-ups, the
    list and search pages that showed the client, and the reader's own agency, whose numbers the page gives."""
    everything = request.GET.get("show") == HISTORY_ALL
    try:
        identity = _identity(actor, client_id)
        history = review.review_client_history(
            actor=actor,
            client_id=identity.id,
            everything=everything,
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except InvalidInput:
        query = f"?show={HISTORY_ALL}" if everything else ""
        return HttpResponseRedirect(reverse("frontend:privacy_client", args=[client_id]) + query)  # a stale cursor
    base = reverse("frontend:privacy_client", args=[client_id])
    rows = _rows(actor, history.page.items, _agency_names(actor))
    _name_files(actor, identity.id, rows)
    context = {
        "client": identity,
        "history": history,
        "result": history.page,
        "rows": rows,
        "focus_url": base,
        "all_url": f"{base}?show={HISTORY_ALL}",
    }
    return page(request, "frontend/privacy/client.html", context, actor=actor)


@require_GET
@officer_page
def user_activity(request: HttpRequest, actor, username: str) -> HttpResponse:
    """What did this user access: their events, newest first, with the clients each one showed."""
    try:
        result = review.review_events(
            actor=actor, username=username, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except InvalidInput:
        return HttpResponseRedirect(reverse("frontend:privacy_user", args=[username]))
    context = {"username": username, "result": result, "rows": _rows(actor, result.items, _agency_names(actor))}
    return page(request, "frontend/privacy/user.html", context, actor=actor)


@require_http_methods(["GET", "POST"])
@officer_page
def term_search(request: HttpRequest, actor) -> HttpResponse:
    """Did anyone search for this name? The officer types a term; ``review_term_search`` matches it (as typed and
    normalised like the client search) against the keyed hashes of recorded searches, tag filters and attempted
    usernames. The term travels only in the POST body (pages re-post it), never in a URL."""
    context: dict = {"result": None, "rows": []}
    if request.method == "GET":
        _refuse(actor, "term_search")
        form = TermSearchForm()
    else:
        form = TermSearchForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            term = data["term"].strip()
            try:
                result = review.review_term_search(
                    actor=actor,
                    terms=[term, normalize(term)],
                    since=day_start(data.get("since")),
                    until=day_end(data.get("until")),
                    cursor=data.get("cursor") or None,
                    limit=PAGE_SIZE,
                )
            except InvalidInput as exc:
                form.add_service_errors(exc)
            else:
                context["result"] = result
                context["rows"] = _rows(actor, result.items, _agency_names(actor))
                context["carry"] = [(k, request.POST.get(k, "")) for k in ("term", "since", "until")]
        else:
            _refuse(actor, "term_search")
    context["form"] = form
    status = FORM_ERROR_STATUS if form.errors else 200
    return page(request, "frontend/privacy/terms.html", context, actor=actor, status=status)


# --- disclosure (開示請求対応) --------------------------------------------------------------------------------


def _disclosure(request, actor, data=None):
    """The form and, once a client and a period are chosen, the report (audited by ``review_disclosure``).
    ``data``: the POSTed form (a typed name is resolved, then the page redirects to the id-only GET URL)."""
    source = request.GET if data is None else data
    bound = any(source.get(k) for k in ("client", "client_q", "since", "until"))
    today = timezone.localdate()
    form = DisclosureForm(
        source if bound else None,
        initial={"since": today.replace(year=today.year - 1), "until": today},
    )
    context: dict = {"form": form, "candidates": [], "client": None, "report": None}
    if not bound or not form.is_valid():
        _refuse(actor, "disclosure")
        return context
    candidates = _lookup(actor, form)
    data = form.cleaned_data
    period = {"since": data["since"].isoformat(), "until": data["until"].isoformat()}
    context["candidates"] = _candidate_links("frontend:privacy_disclosure", period, candidates)
    if not data.get("client"):
        if not candidates and not form.errors:
            form.add_error("client_q", _("支援対象者を指定してください。"))
        return context
    if request.method == "POST":
        query = urlencode({"client": str(data["client"]), **period})
        context["redirect"] = reverse("frontend:privacy_disclosure") + "?" + query
        return context
    context["client"] = _picked_client(actor, form)
    if context["client"] is None:
        return context
    try:
        report = review.review_disclosure(
            actor=actor,
            client_id=context["client"].id,
            since=day_start(data["since"]),
            until=day_end(data["until"]),
        )
    except InvalidInput as exc:
        form.add_service_errors(exc)
        return context
    agencies = _agency_names(actor)
    context["report"] = report
    context["rows"] = [
        EventRow(event=e, agency_name=agencies.get(e.actor_agency_code, e.actor_agency_code)) for e in report.events
    ]
    context["agencies_involved"] = sorted({r.agency_name for r in context["rows"] if r.agency_name})
    context["query"] = {"client": str(context["client"].id), **period}
    context["query_string"] = urlencode(context["query"])
    context["generated_at"] = timezone.now()
    return context


@require_http_methods(["GET", "POST"])
@officer_page
def disclosure(request: HttpRequest, actor) -> HttpResponse:
    context = _disclosure(request, actor, request.POST if request.method == "POST" else None)
    if context.get("redirect"):
        return _see_other(context["redirect"])
    status = FORM_ERROR_STATUS if context["form"].errors else 200
    return page(request, "frontend/privacy/disclosure.html", context, actor=actor, status=status)


@require_GET
@officer_page
def disclosure_csv(request: HttpRequest, actor) -> HttpResponse:
    """The report's rows as CSV, UTF-8 with a BOM so that Excel opens it as Japanese text."""
    context = _disclosure(request, actor)
    if context["report"] is None:
        query = request.GET.urlencode()
        return HttpResponseRedirect(reverse("frontend:privacy_disclosure") + (f"?{query}" if query else ""))
    client = context["client"]
    name = f"開示請求_{client.case_number}_{context['query']['since']}_{context['query']['until']}.csv"
    response = HttpResponse(disclosure_csv_file(context["rows"]), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, name)
    response["Cache-Control"] = "no-store"
    return response


# --- anomaly flags -----------------------------------------------------------------------------------------


@require_GET
@officer_page
def flags(request: HttpRequest, actor) -> HttpResponse:
    status = request.GET.get("status", "open")
    status = status if status in FlagStatus.values else "open"
    rule = request.GET.get("rule", "")
    try:
        result = review.flags_list(
            actor=actor, status=status, rule=rule, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except InvalidInput:
        return HttpResponseRedirect(reverse("frontend:privacy_flags") + f"?status={status}")
    agencies = _agency_names(actor)
    context = {
        "result": result,
        "status": status,
        "rule": rule,
        "statuses": FlagStatus.choices,
        "rules": AnomalyRule.choices,
        "agencies": agencies,
        "names": _flag_names(actor, result.items, agencies),
    }
    return page(request, "frontend/privacy/flags.html", context, actor=actor)


@require_POST
@officer_page
def flags_detect(request: HttpRequest, actor) -> HttpResponse:
    """Run the anomaly rules now (they also run as a periodic task)."""
    created = review.detect_anomalies(actor=actor)
    messages.success(request, _("異常検知を実行しました。新しいフラグ: %(count)s 件") % {"count": created})
    return HttpResponseRedirect(reverse("frontend:privacy_flags"))


@dataclass
class GrantSection:
    """One emergency-access grant on its flag: the grant as the caseworker asked for it (``cases.review``), and
    what was opened under it (``audit.review``), with the clients' identities."""

    activity: review.GrantActivity
    grant: case_review.BreakGlassGrantReview | None  # None: the grant is not known (nothing to show but the log)
    rows: list[EventRow]


def _flag_page(request, actor, flag_id, *, form=None, status=200) -> HttpResponse:
    detail = review.flag_get(actor=actor, flag_id=flag_id)
    agencies = _agency_names(actor)
    grants = (
        case_review.break_glass_grants(actor=actor, grant_ids=[g.grant_id for g in detail.grants])
        if detail.grants
        else {}
    )
    # One identification call for the page: the flag's events, the events under its grants, its summary's clients.
    grant_events = [e for g in detail.grants for e in g.events]
    also = {
        cid
        for value in flag_summaries.client_ids(detail.flag.summary_code, detail.flag.summary_params)
        if (cid := parse_uuid(value)) is not None
    }
    known: dict = {}
    all_rows = _rows(actor, [*detail.events, *grant_events], agencies, also=also, known_out=known)
    rows, rest = all_rows[: len(detail.events)], all_rows[len(detail.events) :]
    sections = []
    for activity in detail.grants:
        mine, rest = rest[: len(activity.events)], rest[len(activity.events) :]
        gid = parse_uuid(activity.grant_id)
        sections.append(GrantSection(activity=activity, grant=grants.get(gid) if gid else None, rows=mine))
    names = PageNames(agencies=agencies, clients=known)
    context = {
        "detail": detail,
        "flag": detail.flag,
        "summary": names.summary(detail.flag),
        "agency_name": agencies.get(detail.flag.subject_agency_code, detail.flag.subject_agency_code),
        "rows": rows,
        "grants": sections,
        "now": timezone.now(),
        "form": form or FlagNoteForm(),
    }
    return page(request, "frontend/privacy/flag.html", context, actor=actor, status=status)


@require_GET
@officer_page
def flag_detail(request: HttpRequest, actor, flag_id: str) -> HttpResponse:
    return _flag_page(request, actor, flag_id)


@require_POST
@officer_page
def flag_note(request: HttpRequest, actor, flag_id: str) -> HttpResponse:
    """A review note: its own append-only record; with ``close`` it also closes the flag."""
    form = FlagNoteForm(request.POST)
    if form.is_valid():
        try:
            note = review.flag_add_note(
                actor=actor, flag_id=flag_id, note=form.cleaned_data["note"], close=form.cleaned_data["close"]
            )
        except InvalidInput as exc:
            form.add_service_errors(exc)
        else:
            done = (
                _("レビューメモを記録し、フラグを閉じました。")
                if note.closes_flag
                else _("レビューメモを記録しました。")
            )
            messages.success(request, done)
            return HttpResponseRedirect(reverse("frontend:privacy_flag", args=[flag_id]) + "#notes")
    return _flag_page(request, actor, flag_id, form=form, status=FORM_ERROR_STATUS)


# --- exports -----------------------------------------------------------------------------------------------


@require_POST
@officer_page
def export_start(request: HttpRequest, actor) -> HttpResponse:
    """Start a CSV export of a search (the same conditions as the search page); the page shows its progress."""
    form = EventFilterForm(request.POST, agencies=agency_selectors.agency_choices(actor=actor))
    encoding = request.POST.get("encoding", "utf-8-sig")
    if not form.is_valid() or encoding not in ExportEncoding.values:
        _refuse(actor, "export")
        messages.error(request, _("エクスポートの条件が正しくありません。検索し直してください。"))
        return HttpResponseRedirect(reverse("frontend:privacy_events"))
    filters = {k: v for k, v in form.review_filters().items() if v not in (None, "")}
    try:
        export = review.export_start(actor=actor, filters=filters, encoding=encoding)
    except InvalidInput as exc:
        for msgs in exc.errors.values():
            for m in msgs:
                messages.error(request, m)
        return HttpResponseRedirect(reverse("frontend:privacy_events"))
    return HttpResponseRedirect(reverse("frontend:privacy_export", args=[export.id]))


@require_GET
@officer_page
def export_detail(request: HttpRequest, actor, export_id: str) -> HttpResponse:
    export = review.export_get(actor=actor, export_id=export_id)
    return page(request, "frontend/privacy/export.html", {"export": export}, actor=actor)


@web_login_required(activity=False)
@require_GET
def export_status(request: HttpRequest, export_id: str) -> HttpResponse:
    """The progress fragment, polled every 2 s until the export is done or failed (then it stops polling).
    A poll is not activity: a forgotten tab does not keep the officer signed in."""
    actor = web_actor(request)
    export = review.export_get(actor=actor, export_id=export_id)
    return page(request, "frontend/privacy/_export_status.html", {"export": export}, actor=actor)


@require_GET
@officer_page
def export_download(request: HttpRequest, actor, export_id: str) -> HttpResponse:
    """The finished file; an export not finished yet sends the officer back to its page (the progress)."""
    try:
        export = review.export_open(actor=actor, export_id=export_id)
    except InvalidInput:
        return HttpResponseRedirect(reverse("frontend:privacy_export", args=[export_id]))
    charset = "shift_jis" if export.encoding == "shift_jis" else "utf-8"
    response = HttpResponse(export.content, content_type=f"text/csv; charset={charset}")
    response["Content-Disposition"] = content_disposition_header(True, export.file_name)
    response["Cache-Control"] = "no-store"
    return response


# --- support meetings (支援会議) -----------------------------------------------------------------------------


@require_GET
@officer_page
def meeting_register(request: HttpRequest, actor) -> HttpResponse:
    """Every support meeting: when, which agency convened it, the attendees and when each confirmed 守秘義務, how
    many clients, the shares it created. Not the title (free text that may name a person)."""
    try:
        result = meeting_review.meeting_register(actor=actor, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    except InvalidInput:
        return HttpResponseRedirect(reverse("frontend:privacy_meetings"))
    return page(request, "frontend/privacy/meetings.html", {"result": result}, actor=actor)


@require_GET
@officer_page
def meeting_events(request: HttpRequest, actor, meeting_id: str) -> HttpResponse:
    """One meeting with its shares, and every audit event one of them authorised (``share:<id>``), newest first."""
    meeting = meeting_review.meeting_review_get(actor=actor, meeting_id=meeting_id)
    try:
        result = review.review_events_authorised_by(
            actor=actor,
            authorised_by=meeting.authorised_by,
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except InvalidInput:
        return HttpResponseRedirect(reverse("frontend:privacy_meeting", args=[meeting_id]))
    known: dict = {}
    rows = _rows(actor, result.items, _agency_names(actor), also={s.client_id for s in meeting.shares}, known_out=known)
    shares = [(s, known.get(s.client_id)) for s in meeting.shares]
    context = {"meeting": meeting, "shares": shares, "result": result, "rows": rows, "now": timezone.now()}
    return page(request, "frontend/privacy/meeting.html", context, actor=actor)
