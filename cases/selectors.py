"""Reads of case data. Each checks access and records the audit event in the same transaction.

Adapters (web views, API views, commands, tasks) call these and nothing else to read clients, timelines and
shares; they never query the case models themselves.
"""

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import F, OuterRef, Prefetch, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Staff
from audit.services import audit_record, terms_hash
from tsunagu.errors import InvalidInput
from tsunagu.keyset import Page, keyset_page

from .access import actor_visible_clients, client_access, require_share_manager
from .actions import CaseAction
from .models import ClientStatus, EntryKind, Share, ShareLevel, TimelineEntry
from .read_models import ClientView, EntryView, ShareView
from .text import Normalized, normalize

CLIENT_ORDER = [("name_kana", False), ("id", False)]
ENTRY_ORDER = [("occurred_at", True), ("id", True)]

MAX_QUERY = 100  # characters of a search term


def client_list(
    *,
    actor: Actor,
    q: str = "",
    status: str = "",
    tag: str = "",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The clients the actor's agency may see (五十音順), one page. Audited as ``client.list`` or, with ``q``,
    ``client.search``, with the ids of every client on the page (they were exposed)."""
    q = (q or "").strip()
    if status and status not in ClientStatus.values:
        raise InvalidInput({"status": [gettext("状態が不正です: %(value)s") % {"value": status}]})
    if len(q) > MAX_QUERY:
        raise InvalidInput({"q": [gettext("検索語は%(max)s文字以内で入力してください。") % {"max": MAX_QUERY}]})
    action = CaseAction.CLIENT_SEARCH if q else CaseAction.CLIENT_LIST
    with transaction.atomic():
        if actor.agency is None:
            page = Page(items=[], next_cursor=None, prev_cursor=None)
        else:
            qs = actor_visible_clients(actor).select_related("owner_agency")
            # The newest entry's date, for the list (a correlated subquery on the entry index: still one statement).
            latest = TimelineEntry.objects.filter(client=OuterRef("pk")).order_by("-occurred_at")
            qs = qs.annotate(latest_entry_at=Subquery(latest.values("occurred_at")[:1]))
            if q:
                qs = qs.filter(search_key__contains=normalize(q))
            if status:
                qs = qs.filter(status=status)
            if tag:
                qs = qs.filter(tag_key__contains=f"|{tag}|")
            page = keyset_page(qs, order=CLIENT_ORDER, limit=limit, cursor=cursor)
            page = Page(
                items=[ClientView.of(c, level=c.my_level, viewer=actor) for c in page.items],
                next_cursor=page.next_cursor,
                prev_cursor=page.prev_cursor,
            )
        # Tags can say much about a person (虐待疑い): like search terms, only their hash is recorded.
        filters = {"status": status, "tag_hash": terms_hash(tag) if tag else ""}
        details = {"count": len(page.items), "filters": {k: v for k, v in filters.items() if v}}
        if q:
            details["q_hash"] = terms_hash(normalize(q))
        audit_record(actor=actor, action=action, client_ids=[c.id for c in page.items], details=details)
    return page


def client_get(*, actor: Actor, client_id) -> ClientView:
    """One client's profile, address masked for agencies other than the owner when confidential."""
    with client_access(actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.CLIENT_VIEW) as access:
        view = ClientView.of(access.client, level=access.level, viewer=actor)
        audit_record(
            actor=actor,
            action=CaseAction.CLIENT_VIEW,
            client_ids=[access.client.pk],
            target_type="client",
            target_id=access.client.pk,
            authorised_by=access.authorised_by,
        )
    return view


# The period filter's bounds: a day outside them is a typing error (and would not convert to UTC at the edges).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


def _timeline_filter_errors(kinds: list[str], q: str, since: date | None, until: date | None) -> dict:
    errors: dict[str, list[str]] = {}
    for value in kinds:
        if value not in EntryKind.values:
            errors.setdefault("kind", []).append(gettext("記録の種類が不正です: %(value)s") % {"value": value})
    if len(q) > MAX_QUERY:
        errors["q"] = [gettext("検索語は%(max)s文字以内で入力してください。") % {"max": MAX_QUERY}]
    for name, day in (("since", since), ("until", until)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            errors[name] = [gettext("日付は1900年1月1日から2999年12月31日までの間で入力してください。")]
    if since and until and since > until and not errors:
        errors["until"] = [gettext("期間の終わりは始まり以降の日付にしてください。")]
    return errors


def _day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the current time zone (JST for people: "11月20日" is their day)."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def timeline_list(
    *,
    actor: Actor,
    client_id,
    kind: str | Sequence[str] = "",
    agency_code: str = "",
    q: str = "",
    since: date | None = None,
    until: date | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The client's timeline, newest first, each entry with the ids of the entries that correct it.

    Filters: ``kind`` (one kind or several), ``agency_code`` (the agency that wrote the entry), ``q`` (text in the
    body, matched like the client search: hiragana or katakana, full or half width, case and spaces ignored) and
    the period ``since``..``until`` (days, both included, in the current time zone). A filtered read is still
    one ``timeline.view``; its details record the filters, the search text only as a hash."""
    kinds = [kind] if isinstance(kind, str) else list(kind)
    kinds = [k for k in kinds if k]
    q = (q or "").strip()
    errors = _timeline_filter_errors(kinds, q, since, until)
    if errors:
        raise InvalidInput(errors)
    key = normalize(q)
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.TIMELINE_VIEW
    ) as access:
        qs = TimelineEntry.objects.filter(client=access.client).select_related("agency", "author")
        qs = qs.prefetch_related(Prefetch("author__staff", queryset=Staff.objects.all()))
        if kinds:
            qs = qs.filter(kind__in=kinds)
        if agency_code:
            qs = qs.filter(agency__code=agency_code)
        if since:
            qs = qs.filter(occurred_at__gte=_day_start(since))
        if until:
            qs = qs.filter(occurred_at__lt=_day_start(until + timedelta(days=1)))
        if key:
            qs = qs.alias(body_key=Normalized("body")).filter(body_key__contains=key)
        page = keyset_page(qs, order=ENTRY_ORDER, limit=limit, cursor=cursor)
        corrected_by: dict = {}
        for corrects_id, entry_id in (
            TimelineEntry.objects.filter(corrects__in=[e.pk for e in page.items])
            .order_by("recorded_at")
            .values_list("corrects_id", "id")
        ):
            corrected_by.setdefault(corrects_id, []).append(entry_id)
        items = [EntryView.of(e, corrected_by.get(e.pk, []), viewer=actor, level=access.level) for e in page.items]
        filters: dict = {
            "kind": kinds[0] if len(kinds) == 1 else sorted(kinds),
            "agency": agency_code,
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else "",
        }
        details: dict = {"count": len(items), "filters": {k: v for k, v in filters.items() if v}}
        if key:
            # Like the client search: the terms can name a person, so only their hash is recorded.
            details["q_hash"] = terms_hash(key)
        audit_record(
            actor=actor,
            action=CaseAction.TIMELINE_VIEW,
            client_ids=[access.client.pk],
            target_type="client",
            target_id=access.client.pk,
            authorised_by=access.authorised_by,
            details=details,
        )
    return Page(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


def share_list(*, actor: Actor, client_id, for_management: bool = False) -> list[ShareView]:
    """Every share of the client, current and past (the history of who could see it and why).

    ``for_management``: the sharing page, for those who may change the shares (``manage`` and a supervisor or
    agency-administrator role); anyone else is refused (Forbidden, audited as ``share.manage``)."""
    action = CaseAction.SHARE_MANAGE if for_management else CaseAction.SHARE_LIST
    with client_access(actor=actor, client_id=client_id, need=ShareLevel.READ, action=action) as access:
        if for_management:
            require_share_manager(actor, access)
        shares = (
            Share.objects.filter(client=access.client)
            .select_related("agency", "granted_by")
            .order_by(F("revoked_at").asc(nulls_first=True), "-granted_at")  # open ones first, on every DB
        )
        views = [ShareView.of(s, owner_agency_id=access.client.owner_agency_id) for s in shares]
        audit_record(
            actor=actor,
            action=action,
            client_ids=[access.client.pk],
            target_type="client",
            target_id=access.client.pk,
            authorised_by=access.authorised_by,
        )
    return views


def client_find_duplicates(*, actor: Actor, name_kana: str, birth_date) -> list[ClientView]:
    """Clients the actor's agency can see with the same フリガナ (however typed) and birth date: the duplicate
    warning when registering. Clients it cannot see are never considered. Audited as ``client.search``."""
    kana = normalize(name_kana or "")
    with transaction.atomic():
        found: list[ClientView] = []
        if actor.agency is not None and kana and birth_date is not None:
            # search_key is "氏名|フリガナ|ケース番号", each normalised: the bars pin the match to the whole フリガナ.
            qs = actor_visible_clients(actor).select_related("owner_agency")
            qs = qs.filter(birth_date=birth_date, search_key__contains=f"|{kana}|").order_by("name_kana", "id")[:20]
            found = [
                ClientView.of(c, level=c.my_level, viewer=actor)  # type: ignore[attr-defined]  # annotated by visible_clients
                for c in qs
            ]
        audit_record(
            actor=actor,
            action=CaseAction.CLIENT_SEARCH,
            client_ids=[c.id for c in found],
            details={"count": len(found), "purpose": "duplicate_check", "q_hash": terms_hash(kana)},
        )
    return found
