"""Notifications: who hears of a change, and each user's inbox.

A notice carries no personal data: the topic, the client id (a link that is permission-checked when followed),
the entry id and the agency that made the change.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import CASEWORK_ROLES, Role, Staff
from tsunagu.keyset import Page, keyset_page

from .actions import Topic
from .models import Notification, OutboxMessage, Share

log = logging.getLogger(__name__)


def topic_label(topic: str) -> str:
    """What a notice says happened, in the current language."""
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

    @property
    def label(self) -> str:
        return topic_label(self.topic)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


def notifications_fan_out(*, message_id: int) -> int:
    """Create the notices for one outbox message: staff of every other agency holding an active share.
    Idempotent: a second delivery of the same message creates nothing. Returns how many notices were created."""
    message = OutboxMessage.objects.filter(pk=message_id).first()
    if message is None:
        return 0
    payload = message.payload
    client_id, source_agency_id = payload["client_id"], payload.get("agency_id")
    now = timezone.now()
    agencies = (
        Share.objects.filter(client_id=client_id)
        .active(now)
        .exclude(agency_id=source_agency_id)
        .values_list("agency_id", flat=True)
    )
    # Notices are for the people who read the case: not an integration user (a partner system's service account,
    # told by its agency's webhooks), nor a privacy officer who does no casework (PRODUCT §4.4).
    recipients = (
        Staff.objects.filter(agency_id__in=list(agencies), user__is_active=True)
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
            transaction.on_commit(lambda: _send_mail(message.topic, client_id, mail_to))
    return len(created_for)


def _send_mail(topic: str, client_id, recipients: list[str]) -> None:
    link = settings.SITE_URL.rstrip("/") + reverse("frontend:client_detail", args=[client_id])
    body = (
        f"{topic_label(topic)}。\n\n"
        f"内容はログインしてご確認ください:\n{link}\n\n"
        "（このメールには個人情報を含めていません。）"
    )
    try:
        send_mail("【つなぐ】共有ケースの更新", body, None, recipients)
    except Exception:  # a mail outage must not undo or repeat the notification; the in-app notice stands
        log.exception("notification e-mail not sent")


def _view(n: Notification) -> NotificationView:
    return NotificationView(
        id=n.id,
        topic=n.topic,
        client_id=n.client_id,
        entry_id=n.entry_id,
        source_agency_name=n.source_agency.name if n.source_agency else "",
        created_at=n.created_at,
        read_at=n.read_at,
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


def notification_unread_count(*, actor: Actor) -> int:
    if actor.account is None:
        return 0
    return Notification.objects.filter(recipient=actor.account, read_at__isnull=True).count()


def notification_mark_read(*, actor: Actor, notification_ids: list | None = None) -> int:
    """Mark the given notices (or all) of the actor as read; others' notices are silently untouched."""
    if actor.account is None:
        return 0
    qs = Notification.objects.filter(recipient=actor.account, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    return qs.update(read_at=timezone.now())
