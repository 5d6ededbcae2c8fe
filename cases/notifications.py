"""Notifications: who hears of a change, and each user's inbox.

A notice stores no personal data: the topic, the client id (a link that is permission-checked when followed),
the entry id, the agency that made the change and, for a 支援会議's invitation and minutes, the meeting. The inbox
page names the client of each notice at display time, through ``notification_inbox``: only while the reader's
agency can still see that client, and audited as an exposure like a list page (PRODUCT §4.7). A meeting's notices
are grouped under the meeting, while the reader's agency may see it: an invited agency that has not confirmed
守秘義務 yet sees none of its clients, and nothing has ended for it. E-mail stays a link.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from uuid import UUID

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import CASEWORK_ROLES, Role, Staff
from audit.services import audit_record
from tsunagu.ids import parse_uuid
from tsunagu.keyset import Page, keyset_page

from .access import actor_visible_clients
from .actions import CaseAction, Topic
from .meeting_views import visible_meetings
from .models import EntryKind, Inquiry, Meeting, MeetingAttendee, Notification, OutboxMessage, Share
from .read_models import ClientView

log = logging.getLogger(__name__)


def topic_label(topic: str, entry_kind: str = "") -> str:
    """What a notice says happened, in the current language; with the kind of entry when it is known
    (支援記録（訪問）が追加されました). Never a raw code."""
    if entry_kind in EntryKind.values:
        kind = str(EntryKind(entry_kind).label)
        if topic == Topic.TIMELINE_APPEND:
            return gettext("支援記録（%(kind)s）が追加されました") % {"kind": kind}
        if topic == Topic.TIMELINE_CORRECT:
            return gettext("支援記録（%(kind)s）が訂正されました") % {"kind": kind}
    return str(Topic(topic).label) if topic in Topic.values else gettext("お知らせ")


@dataclass(frozen=True)
class NotificationView:
    id: UUID
    topic: str
    client_id: UUID
    entry_id: UUID | None
    source_agency_name: str
    created_at: datetime
    read_at: datetime | None
    entry_kind: str = ""  # the kind of the entry, given only while the reader may see the client
    # An inquiry's notice: the inquiry (its page) and its subject, given only while the reader may see the client.
    inquiry_id: UUID | None = None
    subject: str = ""
    meeting_id: UUID | None = None  # a 支援会議's notice (its invitation, its minutes)
    # Under a meeting's group: the client of a notice about its timeline (the minutes), while the reader sees it.
    client: ClientView | None = None

    @property
    def label(self) -> str:
        return topic_label(self.topic, self.entry_kind)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


def notifications_fan_out(*, message_id: int) -> int:
    """Create the notices for one outbox message: staff of every other agency holding an active share (of only
    the agencies a message names in ``recipient_agency_ids``, an inquiry's other side, among them).
    Idempotent: a second delivery of the same message creates nothing. Returns how many notices were created."""
    message = OutboxMessage.objects.filter(pk=message_id).first()
    if message is None:
        return 0
    payload = message.payload
    client_id, source_agency_id = payload["client_id"], payload.get("agency_id")
    now = timezone.now()
    if payload.get("agency_ids") is not None:
        # Addressed to named agencies (a 支援会議's attendees, which may not share the client yet).
        agencies = [a for a in payload["agency_ids"] if a != source_agency_id]
    else:
        shares = Share.objects.filter(client_id=client_id).active(now).exclude(agency_id=source_agency_id)
        if "recipient_agency_ids" in payload:
            # Addressed to some agencies only (an inquiry's other side): still only while they see the client.
            shares = shares.filter(agency_id__in=list(payload["recipient_agency_ids"] or []))
        agencies = list(shares.values_list("agency_id", flat=True))
    # Notices are for the people who read the case: not an integration user (a partner system's service account,
    # told by its agency's webhooks), nor a privacy officer who does no casework (PRODUCT §4.4).
    recipients = (
        Staff.objects.filter(agency_id__in=agencies, user__is_active=True)
        .exclude(role=Role.INTEGRATION)
        .exclude(Q(is_privacy_officer=True) & ~Q(role__in=CASEWORK_ROLES))
        .select_related("user")
    )
    meeting_id, parties = _meeting_of(message.topic, payload)
    event_key = f"outbox:{message.pk}"
    created_for = []
    with transaction.atomic():
        for staff in recipients:
            _, created = Notification.objects.get_or_create(
                recipient=staff.user,
                event_key=event_key,
                defaults={
                    "client_id": client_id,
                    "entry_id": payload.get("entry_id"),
                    "topic": message.topic,
                    "source_agency_id": source_agency_id,
                    "meeting_id": meeting_id,
                },
            )
            if created:
                created_for.append(staff)
        mailed = [s for s in created_for if s.email_notifications and s.user.email]
        if mailed:
            inquiry_id = payload.get("inquiry_id")
            target = reverse("frontend:inquiry_detail", args=[inquiry_id]) if inquiry_id else None
            others = target or reverse("frontend:client_detail", args=[client_id])
            by_link: dict[str, list[str]] = {}
            for staff in mailed:
                # A meeting's notice links the agencies that convened or attend it to the meeting's page; another
                # agency sharing the client (told of the minutes) finds them on the client's timeline.
                if meeting_id is not None and staff.agency_id in parties:
                    link = reverse("frontend:meeting_detail", args=[meeting_id])
                else:
                    link = others
                by_link.setdefault(link, []).append(staff.user.email)
            for link, mail_to in by_link.items():
                transaction.on_commit(partial(_send_mail, message.topic, link, mail_to))
    return len(created_for)


MEETING_TOPICS = frozenset({Topic.MEETING_CREATE, Topic.MEETING_MINUTES})


def _meeting_of(topic: str, payload: dict) -> tuple[UUID | None, set[int]]:
    """The 支援会議 a message is about (its invitation, its minutes) and the agencies that convened or attend it;
    (None, empty) for any other message."""
    meeting_id = parse_uuid(payload.get("meeting_id")) if topic in MEETING_TOPICS else None
    if meeting_id is None:
        return None, set()
    convener = Meeting.objects.filter(pk=meeting_id).values_list("convened_by_id", flat=True).first()
    if convener is None:
        return None, set()
    attendees = MeetingAttendee.objects.filter(meeting_id=meeting_id).values_list("agency_id", flat=True)
    return meeting_id, {convener, *attendees}


def _send_mail(topic: str, path: str, recipients: list[str]) -> None:
    link = settings.SITE_URL.rstrip("/") + path
    body = (
        f"{topic_label(topic)}。\n\n"
        f"内容はログインしてご確認ください:\n{link}\n\n"
        "（このメールには個人情報を含めていません。）"
    )
    try:
        send_mail("【つなぐ】共有ケースの更新", body, None, recipients)
    except Exception:  # a mail outage must not undo or repeat the notification; the in-app notice stands
        log.exception("notification e-mail not sent")


def _view(
    n: Notification, *, entry_kind: str = "", inquiry: tuple | None = None, client: ClientView | None = None
) -> NotificationView:
    return NotificationView(
        id=n.id,
        topic=n.topic,
        client_id=n.client_id,
        entry_id=n.entry_id,
        source_agency_name=n.source_agency.name if n.source_agency else "",
        created_at=n.created_at,
        read_at=n.read_at,
        entry_kind=entry_kind,
        inquiry_id=inquiry[0] if inquiry else None,
        subject=inquiry[1] if inquiry else "",
        meeting_id=n.meeting_id,
        client=client,
    )


def notification_list(*, actor: Actor, unread_only: bool = False, cursor: str | None = None, limit: int = 50) -> Page:
    """The actor's own inbox, newest first."""
    if actor.account is None:
        return Page(items=[], next_cursor=None, prev_cursor=None)
    qs = Notification.objects.filter(recipient=actor.account).select_related("source_agency")
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    page = keyset_page(qs, order=[("created_at", True), ("id", True)], limit=limit, cursor=cursor)
    return Page(items=[_view(n) for n in page.items], next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


@dataclass(frozen=True)
class InboxMeeting:
    """The 支援会議 a group of notices is about, by its date and convening agency: never by its title, free text
    that may name a person."""

    id: UUID
    held_on: date
    convened_by_name: str


@dataclass(frozen=True)
class InboxGroup:
    """The notices on one inbox page about one client, or about one 支援会議 the reader's agency may see
    (``meeting``: its invitation and minutes, whichever client each is stored with), newest first."""

    client_id: UUID | None  # None for a meeting's group
    client: ClientView | None  # None: the reader's agency can no longer see the client (share ended), or a meeting
    unread: int  # the reader's unread notices of this group (about this client, or this meeting), on any page
    notices: list[NotificationView]
    meeting: InboxMeeting | None = None

    @property
    def key(self) -> str:
        """The group's name in the page (element ids)."""
        return f"meeting-{self.meeting.id}" if self.meeting is not None else str(self.client_id)


@dataclass(frozen=True)
class Inbox:
    groups: list[InboxGroup]  # by each group's newest notice on the page, newest first
    next_cursor: str | None
    prev_cursor: str | None


def _under_meeting(actor: Actor) -> Exists:
    """Whether a notice belongs under its 支援会議 rather than its client: it names a meeting the reader's agency may
    see (``cases.meeting_views.visible_meetings``: the convener, or an attendee — one that has not confirmed 守秘義務
    yet included), so that the meeting's page opens for it. Otherwise it stays under its client: an agency that
    shares the client without attending hears of the minutes on the client's timeline, and one that lost the meeting
    with its clients sees a case no longer shared."""
    return Exists(visible_meetings(actor).filter(pk=OuterRef("meeting_id")))


def notification_inbox(*, actor: Actor, unread_only: bool = False, cursor: str | None = None, limit: int = 50) -> Inbox:
    """One page of the actor's inbox, grouped by client — or by 支援会議 (``_under_meeting``) — each client named
    (as ``ClientView``, masked as everywhere) only while the actor may see it (``actor_visible_clients``). A client
    the actor can no longer see stays a bare id: its notices say only that a case is no longer shared, and following
    the link finds nothing. A meeting's group is headed by the meeting's date and convener; it names the client of a
    notice about a client's timeline (the minutes) while the actor sees that client, and no client otherwise (an
    invitation is about the meeting, not the one client it is stored with).

    Naming clients reads case data: the clients named are recorded as exposed (``notice.list``) in the same
    transaction. A bounded number of statements, however many notices, clients and meetings are on the page."""
    if actor.account is None:
        return Inbox(groups=[], next_cursor=None, prev_cursor=None)
    qs = (
        Notification.objects.filter(recipient=actor.account)
        .select_related("source_agency", "meeting__convened_by")
        .annotate(
            entry_kind=F("entry__kind"), entry_params=F("entry__event_params"), under_meeting=_under_meeting(actor)
        )
    )
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    with transaction.atomic():
        page = keyset_page(qs, order=[("created_at", True), ("id", True)], limit=limit, cursor=cursor)
        items = list(page.items)
        client_ids = list(dict.fromkeys(n.client_id for n in items))
        by_client = list(dict.fromkeys(n.client_id for n in items if not n.under_meeting))
        meeting_ids = list(dict.fromkeys(n.meeting_id for n in items if n.under_meeting))
        visible: dict[UUID, ClientView] = {}
        unread_clients: dict[UUID, int] = {}
        unread_meetings: dict[UUID, int] = {}
        if client_ids:
            clients = actor_visible_clients(actor).filter(pk__in=client_ids).select_related("owner_agency")
            visible = {
                c.pk: ClientView.of(c, level=c.my_level, viewer=actor)  # type: ignore[attr-defined]  # annotated by visible_clients
                for c in clients
            }
            counts = (
                Notification.objects.filter(recipient=actor.account, read_at__isnull=True)
                .filter(Q(client_id__in=by_client) | Q(meeting_id__in=meeting_ids))
                .annotate(under_meeting=_under_meeting(actor))
                .values("client_id", "meeting_id", "under_meeting")
                .annotate(n=Count("id"))
            )
            for row in counts:  # a client's group counts its notices not under a meeting, as it marks them read
                if row["under_meeting"]:
                    unread_meetings[row["meeting_id"]] = unread_meetings.get(row["meeting_id"], 0) + row["n"]
                else:
                    unread_clients[row["client_id"]] = unread_clients.get(row["client_id"], 0) + row["n"]
        inquiries = _inquiries_named(actor, [n for n in items if n.client_id in visible and not n.under_meeting])
        groups: dict[tuple[str, UUID], list[NotificationView]] = {}
        heads: dict[UUID, InboxMeeting] = {}
        named: list[UUID] = []
        for n in items:
            seen = visible.get(n.client_id)
            kind = n.entry_kind if seen else ""  # annotated above; only for a client still seen
            if n.under_meeting:
                meeting = n.meeting
                heads[meeting.pk] = InboxMeeting(
                    id=meeting.pk, held_on=meeting.held_on, convened_by_name=meeting.convened_by.name
                )
                client = seen if seen is not None and n.entry_id is not None else None
                if client is not None:
                    named.append(client.id)
                view = _view(n, entry_kind=kind if client else "", client=client)
                groups.setdefault(("meeting", meeting.pk), []).append(view)
            else:
                if seen is not None:
                    named.append(seen.id)
                inquiry = inquiries.get(_inquiry_key(n)) if seen else None
                groups.setdefault(("client", n.client_id), []).append(_view(n, entry_kind=kind or "", inquiry=inquiry))
        exposed = list(dict.fromkeys(named))
        if exposed:
            audit_record(
                actor=actor,
                action=CaseAction.NOTICE_LIST,
                client_ids=exposed,
                details={"count": len(exposed), "notices": len(items)},
            )
    return Inbox(
        groups=[
            InboxGroup(
                client_id=None, client=None, unread=unread_meetings.get(key, 0), notices=notices, meeting=heads[key]
            )
            if by == "meeting"
            else InboxGroup(client_id=key, client=visible.get(key), unread=unread_clients.get(key, 0), notices=notices)
            for (by, key), notices in groups.items()
        ],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


INQUIRY_TOPICS = frozenset({Topic.INQUIRY_CREATE, Topic.INQUIRY_REPLY, Topic.INQUIRY_CLOSE})


def _inquiry_key(n) -> str:
    params = getattr(n, "entry_params", None)
    if n.topic not in INQUIRY_TOPICS or not isinstance(params, dict):
        return ""
    return str(params.get("inquiry") or "")


def _inquiries_named(actor: Actor, notices: list) -> dict[str, tuple[UUID, str]]:
    """The inquiries of these notices (about clients the reader sees) to which the reader's agency is a party:
    id → (id, subject). One query, none without an inquiry notice."""
    parsed = [parse_uuid(k) for k in {_inquiry_key(n) for n in notices} if k]
    ids = [i for i in parsed if i is not None]
    if not ids or actor.agency is None:
        return {}
    party = Q(from_agency=actor.agency) | Q(addressees__agency=actor.agency)
    rows = Inquiry.objects.filter(party, pk__in=ids).values_list("pk", "subject").distinct()
    return {str(pk): (pk, subject) for pk, subject in rows}


def notification_unread_count(*, actor: Actor) -> int:
    if actor.account is None:
        return 0
    return Notification.objects.filter(recipient=actor.account, read_at__isnull=True).count()


_ANY = object()


def notification_mark_read(
    *,
    actor: Actor,
    notification_ids: list | None = None,
    client_id: object = _ANY,
    meeting_id: object = _ANY,
    inquiry_id: object = _ANY,
) -> int:
    """Mark the given notices, or one inquiry's (``inquiry_id``: opening it), or one inbox group's — about one
    client (``client_id``: those not under a 支援会議, see ``_under_meeting``) or about one meeting
    (``meeting_id``) — or all of the actor's as read; others' notices are silently untouched, and an id that is
    not one marks nothing."""
    if actor.account is None:
        return 0
    qs = Notification.objects.filter(recipient=actor.account, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    if client_id is not _ANY:
        pk = parse_uuid(client_id)
        if pk is None:
            return 0
        qs = qs.filter(client_id=pk).exclude(_under_meeting(actor))
    if meeting_id is not _ANY:
        pk = parse_uuid(meeting_id)
        if pk is None:
            return 0
        qs = qs.filter(meeting_id=pk)
    if inquiry_id is not _ANY:  # the notices of one inquiry (its question, replies and closing)
        pk = parse_uuid(inquiry_id)
        if pk is None:
            return 0
        qs = qs.filter(topic__in=INQUIRY_TOPICS, entry__event_params__inquiry=str(pk))
    return qs.update(read_at=timezone.now())
