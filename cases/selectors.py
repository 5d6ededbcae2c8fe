"""Reads of case data. Each checks access and records the audit event in the same transaction.

Adapters (web views, API views, commands, tasks) call these and nothing else to read clients, timelines and
shares; they never query the case models themselves.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q, Subquery
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Staff
from audit.actions import ReadPart
from audit.services import audit_record, terms_hash
from tsunagu.errors import InvalidInput
from tsunagu.keyset import Page, keyset_page

from .access import (
    Access,
    active_break_glass,
    active_shares,
    actor_visible_clients,
    client_access,
    may_assign,
    require_share_manager,
)
from .actions import CaseAction
from .assignees import assignees_by_client
from .models import (
    Attachment,
    ClientAssignment,
    ClientStatus,
    EntryKind,
    ListScope,
    ListSort,
    Share,
    ShareLevel,
    TimelineEntry,
)
from .read_models import AttachmentView, ClientView, EndedShareView, EntryView, OpenGrantView, ShareView
from .services.assignments import assignable_staff_filter
from .text import Normalized, normalize


@dataclass(frozen=True)
class StaffChoice:
    user_id: int
    display_name: str


# The orders of the case list (``ListSort``): [(field, descending)], the last field unique, for keyset paging.
CLIENT_ORDERS: dict[str, list[tuple[str, bool]]] = {
    ListSort.LATEST_DESC: [("last_activity_at", True), ("id", True)],
    ListSort.LATEST_ASC: [("last_activity_at", False), ("id", False)],
    ListSort.KANA_ASC: [("name_kana", False), ("id", False)],
    ListSort.KANA_DESC: [("name_kana", True), ("id", True)],
    ListSort.CREATED_DESC: [("created_at", True), ("id", True)],
    ListSort.CREATED_ASC: [("created_at", False), ("id", False)],
}
CLIENT_ORDER = CLIENT_ORDERS[ListSort.KANA_ASC]
ENTRY_ORDER = [("occurred_at", True), ("id", True)]

MAX_QUERY = 100  # characters of a search term
ENDED_SHARE_DAYS = 30  # how long a partner is told that a share ended
MAX_ENDED_SHARES = 50


def client_list_errors(*, q: str = "", status: str = "", scope: str = "", sort: str = "") -> dict[str, list[str]]:
    """What is wrong with the list's conditions (field → messages); empty when they are fine."""
    errors: dict[str, list[str]] = {}
    if status and status not in ClientStatus.values:
        errors["status"] = [gettext("状態が不正です: %(value)s") % {"value": status}]
    if len(q) > MAX_QUERY:
        errors["q"] = [gettext("検索語は%(max)s文字以内で入力してください。") % {"max": MAX_QUERY}]
    if scope and scope not in ListScope.values:
        errors["scope"] = [gettext("表示するケースの指定が不正です: %(value)s") % {"value": scope}]
    if sort and sort not in ListSort.values:
        errors["sort"] = [gettext("並び順が不正です: %(value)s") % {"value": sort}]
    return errors


def client_list(
    *,
    actor: Actor,
    q: str = "",
    status: str = "",
    tag: str = "",
    scope: str = "",
    sort: str = "",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The clients the actor's agency may see, one page. Audited as ``client.list`` or, with ``q``,
    ``client.search``, with the ids of every client on the page (they were exposed).

    ``scope``: ``mine`` (自分の担当: the clients the actor's agency has assigned to the actor, and those the actor
    opened through emergency access) or ``all`` (the default). ``sort``: a ``ListSort`` (五十音順 by default);
    最終記録 is the newest entry's time, or the registration time of a client with no entry yet. Each client
    comes with its 担当者 and, when seen only through the actor's emergency access, when that ends. A cursor
    belongs to its order: one from another order is refused
    like a forged one."""
    q = (q or "").strip()
    errors = client_list_errors(q=q, status=status, scope=scope, sort=sort)
    if errors:
        raise InvalidInput(errors)
    order = CLIENT_ORDERS[sort or ListSort.KANA_ASC]
    action = CaseAction.CLIENT_SEARCH if q else CaseAction.CLIENT_LIST
    with transaction.atomic():
        if actor.agency is None:
            page = Page(items=[], next_cursor=None, prev_cursor=None)
        else:
            agency = actor.agency
            qs = actor_visible_clients(actor).select_related("owner_agency")
            # The newest entry's time, for the list and its 最終記録 order (a correlated subquery on the entry
            # index: still one statement).
            latest = TimelineEntry.objects.filter(client=OuterRef("pk")).order_by("-occurred_at")
            qs = qs.annotate(latest_entry_at=Subquery(latest.values("occurred_at")[:1]))
            qs = qs.annotate(
                last_activity_at=Coalesce(F("latest_entry_at"), F("created_at")),
                via_share=Exists(active_shares(agency).filter(client=OuterRef("pk"))),
            )
            if scope == ListScope.MINE:
                # Assigned to the actor by their agency, or opened by the actor through emergency access (a
                # personal grant: it stays in view while it lasts, marked with its end).
                mine = ClientAssignment.objects.filter(
                    client=OuterRef("pk"), agency=agency, user=actor.account, ended_at=None
                )
                condition: Q | Combinable = Exists(mine)
                if actor.account is not None and actor.may_break_glass:
                    condition |= Exists(active_break_glass(actor.account, agency).filter(client=OuterRef("pk")))
                qs = qs.filter(condition)
            if q:
                qs = qs.filter(search_key__contains=normalize(q))
            if status:
                qs = qs.filter(status=status)
            if tag:
                qs = qs.filter(tag_key__contains=f"|{tag}|")
            page = keyset_page(qs, order=order, limit=limit, cursor=cursor)
            ids = [c.pk for c in page.items]
            assignees = assignees_by_client(ids, viewer_agency_id=agency.pk)
            emergency: dict = {}
            through_grant = [c.pk for c in page.items if not c.via_share]
            if through_grant and actor.account is not None:
                for client_id, expires in (
                    active_break_glass(actor.account, agency)
                    .filter(client_id__in=through_grant)
                    .values_list("client_id", "expires_at")
                ):
                    emergency[client_id] = max(expires, emergency.get(client_id, expires))
            page = Page(
                items=[
                    ClientView.of(
                        c,
                        level=c.my_level,
                        viewer=actor,
                        assignees=assignees.get(c.pk),
                        emergency_until=emergency.get(c.pk),
                    )
                    for c in page.items
                ],
                next_cursor=page.next_cursor,
                prev_cursor=page.prev_cursor,
            )
        # Tags can say much about a person (虐待疑い): like search terms, only their hash is recorded.
        filters = {"status": status, "tag_hash": terms_hash(tag) if tag else "", "scope": scope, "sort": sort}
        details = {"count": len(page.items), "filters": {k: v for k, v in filters.items() if v}}
        if q:
            details["q_hash"] = terms_hash(normalize(q))
        audit_record(actor=actor, action=action, client_ids=[c.id for c in page.items], details=details)
    return page


def share_ended_list(*, actor: Actor, days: int = ENDED_SHARE_DAYS) -> list[EndedShareView]:
    """Shares of the actor's agency that ended (revoked, or expired) in the last ``days`` and have not been granted
    again: the case number, when, and which agency ended it — what a former partner may still be told, since the
    client's own page must stay "not found". A read of share metadata, audited as ``share.ended_list`` with the
    clients it names (when it names any). Nothing for an actor who reads no cases or has no agency."""
    found: list[EndedShareView] = []
    with transaction.atomic():
        if actor.agency is not None and actor.reads_cases:
            agency = actor.agency
            now = actor.now()
            since = now - timedelta(days=days)
            ended = Q(revoked_at__gte=since, revoked_at__lte=now, revoke_reason__in=("revoked", "expired"))
            lapsed = Q(revoked_at=None, expires_at__gte=since, expires_at__lte=now)  # before the sweep closes it
            shares = (
                # A meeting share never confirmed never let the agency see the client: nothing ended for it.
                Share.objects.filter(agency=agency, pending=False)
                .filter(ended | lapsed)
                .exclude(Exists(active_shares(agency, now).filter(client=OuterRef("client_id"))))
                .select_related("client", "revoked_by__staff__agency")
                .order_by("-revoked_at", "-expires_at")
            )
            seen: set = set()
            for share in shares[: MAX_ENDED_SHARES * 2]:
                if share.client_id in seen:
                    continue
                seen.add(share.client_id)
                revoked = share.revoked_at is not None and share.revoke_reason == "revoked"
                staff = getattr(share.revoked_by, "staff", None) if revoked else None
                ended_at = share.revoked_at or share.expires_at
                assert ended_at is not None  # one of the two conditions above
                found.append(
                    EndedShareView(
                        client_id=share.client_id,
                        case_number=share.client.case_number,
                        ended_at=ended_at,
                        reason="revoked" if revoked else "expired",
                        ended_by_agency_name=staff.agency.name if staff is not None else "",
                    )
                )
            found.sort(key=lambda v: v.ended_at, reverse=True)
            found = found[:MAX_ENDED_SHARES]
        if found:  # nothing found, nothing read: the list page stays one audited read for everyone else
            audit_record(
                actor=actor,
                action=CaseAction.SHARE_ENDED_LIST,
                client_ids=[v.client_id for v in found],
                details={"count": len(found), "days": days},
            )
    return found


def has_caseload(*, actor: Actor) -> bool:
    """Whether the actor's agency has assigned the actor any client (their own 担当; nothing else is read)."""
    if actor.agency is None or actor.account is None:
        return False
    return ClientAssignment.objects.filter(agency=actor.agency, user=actor.account, ended_at=None).exists()


def assignment_candidates(*, actor: Actor) -> list[StaffChoice]:
    """Whom the actor's agency may assign as 担当者: its staff who work cases (names of the agency's own staff, no
    case data). Empty for an actor who may not assign."""
    if actor.agency is None or not may_assign(actor, via_break_glass=False):
        return []
    staff = Staff.objects.filter(assignable_staff_filter(actor.agency.pk)).select_related("user")
    choices = [StaffChoice(user_id=s.user_id, display_name=str(s)) for s in staff]
    return sorted(choices, key=lambda c: c.display_name)


def _client_view(actor: Actor, access: Access) -> ClientView:
    """The profile read from an access (no audit): the address masked for agencies other than the owner when
    confidential, with the 担当者 and what the actor may do."""
    assignees = assignees_by_client([access.client.pk], viewer_agency_id=access.agency.pk)
    return ClientView.of(
        access.client,
        level=access.level,
        viewer=actor,
        assignees=assignees.get(access.client.pk),
        can_assign=may_assign(actor, via_break_glass=access.break_glass is not None),
        emergency_until=access.break_glass.expires_at if access.break_glass is not None else None,
    )


def client_get(*, actor: Actor, client_id) -> ClientView:
    """One client's profile, address masked for agencies other than the owner when confidential."""
    with client_access(actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.CLIENT_VIEW) as access:
        view = _client_view(actor, access)
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


@dataclass(frozen=True)
class TimelineQuery:
    """A timeline page asked for: its filters, checked (``TimelineQuery.of`` raises InvalidInput), and cursor."""

    kinds: list[str]
    agency_code: str
    key: str  # the search text, normalised
    since: date | None
    until: date | None
    cursor: str | None
    limit: int

    @classmethod
    def of(
        cls,
        *,
        kind: str | Sequence[str] = "",
        agency_code: str = "",
        q: str = "",
        since: date | None = None,
        until: date | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> "TimelineQuery":
        kinds = [kind] if isinstance(kind, str) else list(kind)
        kinds = [k for k in kinds if k]
        q = (q or "").strip()
        errors = _timeline_filter_errors(kinds, q, since, until)
        if errors:
            raise InvalidInput(errors)
        return cls(kinds, agency_code, normalize(q), since, until, cursor, limit)

    def details(self, count: int) -> dict:
        """What the audit records of the read: the count and the filters, the search text only as a hash."""
        filters: dict = {
            "kind": self.kinds[0] if len(self.kinds) == 1 else sorted(self.kinds),
            "agency": self.agency_code,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        details: dict = {"count": count, "filters": {k: v for k, v in filters.items() if v}}
        if self.key:
            # Like the client search: the terms can name a person, so only their hash is recorded.
            details["q_hash"] = terms_hash(self.key)
        return details


def _timeline_page(actor: Actor, access: Access, query: TimelineQuery) -> Page:
    """One page of the client's timeline read from an access (no audit), each entry with its corrections' ids."""
    qs = TimelineEntry.objects.filter(client=access.client).select_related("agency", "author", "import_origin")
    qs = qs.prefetch_related(Prefetch("author__staff", queryset=Staff.objects.all()))
    if query.kinds:
        qs = qs.filter(kind__in=query.kinds)
    if query.agency_code:
        qs = qs.filter(agency__code=query.agency_code)
    if query.since:
        qs = qs.filter(occurred_at__gte=_day_start(query.since))
    if query.until:
        qs = qs.filter(occurred_at__lt=_day_start(query.until + timedelta(days=1)))
    if query.key:
        qs = qs.alias(body_key=Normalized("body")).filter(body_key__contains=query.key)
    page = keyset_page(qs, order=ENTRY_ORDER, limit=query.limit, cursor=query.cursor)
    corrected_by: dict = {}
    for corrects_id, entry_id in (
        TimelineEntry.objects.filter(corrects__in=[e.pk for e in page.items])
        .order_by("recorded_at")
        .values_list("corrects_id", "id")
    ):
        corrected_by.setdefault(corrects_id, []).append(entry_id)
    files: dict = {}
    for attachment in (
        Attachment.objects.filter(entry__in=[e.pk for e in page.items])
        .select_related("blob")
        .order_by("entry_id", "position")
    ):
        files.setdefault(attachment.entry_id, []).append(
            AttachmentView.of(attachment, client=access.client, viewer=actor)
        )
    items = [
        EntryView.of(
            e,
            corrected_by.get(e.pk, []),
            viewer=actor,
            level=access.level,
            attachments=tuple(files.get(e.pk, ())),
            origin=getattr(e, "import_origin", None),
        )
        for e in page.items
    ]
    return Page(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


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
    query = TimelineQuery.of(
        kind=kind, agency_code=agency_code, q=q, since=since, until=until, cursor=cursor, limit=limit
    )
    with client_access(
        actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.TIMELINE_VIEW
    ) as access:
        page = _timeline_page(actor, access, query)
        audit_record(
            actor=actor,
            action=CaseAction.TIMELINE_VIEW,
            client_ids=[access.client.pk],
            target_type="client",
            target_id=access.client.pk,
            authorised_by=access.authorised_by,
            details=query.details(len(page.items)),
        )
    return page


def _share_views(access: Access) -> list[ShareView]:
    """Every share of the client read from an access (no audit): open ones first, then the newest."""
    shares = (
        Share.objects.filter(client=access.client)
        .select_related("agency", "granted_by__staff")
        .order_by(F("revoked_at").asc(nulls_first=True), "-granted_at")  # open ones first, on every DB
    )
    return [ShareView.of(s, owner_agency_id=access.client.owner_agency_id) for s in shares]


def share_list(*, actor: Actor, client_id, for_management: bool = False) -> list[ShareView]:
    """Every share of the client, current and past (the history of who could see it and why).

    ``for_management``: the sharing page, for those who may change the shares (``manage`` and a supervisor or
    agency-administrator role); anyone else is refused (Forbidden, audited as ``share.manage``)."""
    action = CaseAction.SHARE_MANAGE if for_management else CaseAction.SHARE_LIST
    with client_access(actor=actor, client_id=client_id, need=ShareLevel.READ, action=action) as access:
        if for_management:
            require_share_manager(actor, access)
        views = _share_views(access)
        audit_record(
            actor=actor,
            action=action,
            client_ids=[access.client.pk],
            target_type="client",
            target_id=access.client.pk,
            authorised_by=access.authorised_by,
        )
    return views


@dataclass(frozen=True)
class ClientPage:
    """What the browser's client page shows, read at once: the profile, the shares and one timeline page (None
    when the page asked for none, say because its filters were wrong)."""

    client: ClientView
    shares: list[ShareView]
    timeline: Page | None


def client_page(*, actor: Actor, client_id, timeline: TimelineQuery | None) -> ClientPage:
    """The client page in one audited read: access is checked once, and one ``client.view`` is recorded whose
    details name the parts read (``audit.actions.ReadPart``) and, for the timeline, what ``timeline_list``
    records (the count, the filters, the search text only as a hash). A hidden client is refused like
    ``client_get`` (one denied ``client.view``, not found). Build ``timeline`` with ``TimelineQuery.of``, which
    checks the filters before anything is read."""
    with client_access(actor=actor, client_id=client_id, need=ShareLevel.READ, action=CaseAction.CLIENT_VIEW) as access:
        client = _client_view(actor, access)
        shares = _share_views(access)
        parts = [ReadPart.PROFILE.value, ReadPart.SHARES.value]
        details: dict = {}
        page = None
        if timeline is not None:
            page = _timeline_page(actor, access, timeline)
            parts.append(ReadPart.TIMELINE.value)
            details["timeline"] = timeline.details(len(page.items))
        audit_record(
            actor=actor,
            action=CaseAction.CLIENT_VIEW,
            client_ids=[access.client.pk],
            target_type="client",
            target_id=access.client.pk,
            authorised_by=access.authorised_by,
            details={"parts": parts, **details},
        )
    return ClientPage(client=client, shares=shares, timeline=page)


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


def break_glass_open_grants(*, actor: Actor) -> list[OpenGrantView]:
    """The actor's own open break-glass grants, soonest to end first: the header's 緊急アクセス中 link. Client ids
    and expiry times only (no case data, nothing exposed), so nothing to audit, like the actor's own notices. No
    query for those who never break glass."""
    if actor.agency is None or actor.account is None or not actor.may_break_glass or not actor.reads_cases:
        return []
    grants = active_break_glass(actor.account, actor.agency, actor.now()).order_by("expires_at")
    return [OpenGrantView(client_id=g.client_id, expires_at=g.expires_at) for g in grants[:5]]
