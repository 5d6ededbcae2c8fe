"""Notifications: who hears of a change, and each user's inbox.

A notice stores no personal data: the topic, the client id (a link that is permission-checked when followed),
the entry id and the agency that made the change. The inbox page names the client of each notice at display time,
through ``notification_inbox``: only while the reader's agency can still see that client, and audited as an
exposure like a list page (PRODUCT §4.7). E-mail stays a link.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F, Q
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
from .models import EntryKind, Inquiry, Notification, OutboxMessage, Share
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
                },
            )
            if created:
                created_for.append(staff)
        mail_to = [s.user.email for s in created_for if s.email_notifications and s.user.email]
        if mail_to:
            inquiry_id = payload.get("inquiry_id")
            transaction.on_commit(lambda: _send_mail(message.topic, client_id, mail_to, inquiry_id=inquiry_id))
    return len(created_for)


def _send_mail(topic: str, client_id, recipients: list[str], *, inquiry_id: str | None = None) -> None:
    target = reverse("frontend:inquiry_detail", args=[inquiry_id]) if inquiry_id else None
    link = settings.SITE_URL.rstrip("/") + (target or reverse("frontend:client_detail", args=[client_id]))
    body = (
        f"{topic_label(topic)}。\n\n"
        f"内容はログインしてご確認ください:\n{link}\n\n"
        "（このメールには個人情報を含めていません。）"
    )
    try:
        send_mail("【つなぐ】共有ケースの更新", body, None, recipients)
    except Exception:  # a mail outage must not undo or repeat the notification; the in-app notice stands
        log.exception("notification e-mail not sent")


def _view(n: Notification, *, entry_kind: str = "", inquiry: tuple | None = None) -> NotificationView:
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
class InboxGroup:
    """The notices on one inbox page about one client, newest first."""

    client_id: UUID
    client: ClientView | None  # None: the reader's agency can no longer see the client (share ended)
    unread: int  # the reader's unread notices about this client, on any page
    notices: list[NotificationView]


@dataclass(frozen=True)
class Inbox:
    groups: list[InboxGroup]  # by each client's newest notice on the page, newest first
    next_cursor: str | None
    prev_cursor: str | None


def notification_inbox(*, actor: Actor, unread_only: bool = False, cursor: str | None = None, limit: int = 50) -> Inbox:
    """One page of the actor's inbox, grouped by client, each client named (as ``ClientView``, masked as
    everywhere) only while the actor may see it (``actor_visible_clients``). A client the actor can no longer see
    stays a bare id: its notices say only that a case is no longer shared, and following the link finds nothing.

    Naming clients reads case data: the clients named are recorded as exposed (``notice.list``) in the same
    transaction. A bounded number of statements, however many notices and clients are on the page."""
    if actor.account is None:
        return Inbox(groups=[], next_cursor=None, prev_cursor=None)
    qs = (
        Notification.objects.filter(recipient=actor.account)
        .select_related("source_agency")
        .annotate(entry_kind=F("entry__kind"), entry_params=F("entry__event_params"))
    )
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    with transaction.atomic():
        page = keyset_page(qs, order=[("created_at", True), ("id", True)], limit=limit, cursor=cursor)
        client_ids = list(dict.fromkeys(n.client_id for n in page.items))
        visible: dict[UUID, ClientView] = {}
        unread: dict[UUID, int] = {}
        if client_ids:
            clients = actor_visible_clients(actor).filter(pk__in=client_ids).select_related("owner_agency")
            visible = {
                c.pk: ClientView.of(c, level=c.my_level, viewer=actor)  # type: ignore[attr-defined]  # annotated by visible_clients
                for c in clients
            }
            unread = dict(
                Notification.objects.filter(recipient=actor.account, read_at__isnull=True, client_id__in=client_ids)
                .values("client_id")
                .annotate(n=Count("id"))
                .values_list("client_id", "n")
            )
        inquiries = _inquiries_named(actor, [n for n in page.items if n.client_id in visible])
        groups: dict[UUID, list[NotificationView]] = {}
        for n in page.items:
            kind = n.entry_kind if n.client_id in visible else ""  # annotated above; only for a client still seen
            inquiry = inquiries.get(_inquiry_key(n)) if n.client_id in visible else None
            groups.setdefault(n.client_id, []).append(_view(n, entry_kind=kind or "", inquiry=inquiry))
        if visible:
            exposed = [cid for cid in client_ids if cid in visible]
            audit_record(
                actor=actor,
                action=CaseAction.NOTICE_LIST,
                client_ids=exposed,
                details={"count": len(exposed), "notices": len(page.items)},
            )
    return Inbox(
        groups=[
            InboxGroup(client_id=cid, client=visible.get(cid), unread=unread.get(cid, 0), notices=notices)
            for cid, notices in groups.items()
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


def notification_mark_read(*, actor: Actor, notification_ids: list | None = None, client_id: object = _ANY) -> int:
    """Mark the given notices, or those about one client (``client_id``), or all of the actor's as read; others'
    notices are silently untouched, and a client id that is not one marks nothing."""
    if actor.account is None:
        return 0
    qs = Notification.objects.filter(recipient=actor.account, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    if client_id is not _ANY:
        pk = parse_uuid(client_id)
        if pk is None:
            return 0
        qs = qs.filter(client_id=pk)
    return qs.update(read_at=timezone.now())
