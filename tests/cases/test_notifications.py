"""Outbox and notifications, with Celery running eagerly (the quick-start mode)."""

import pytest
from django.core import mail

from cases import services
from cases.models import Notification, OutboxMessage
from cases.notifications import notification_list, notification_mark_read, notification_unread_count
from cases.outbox import outbox_relay


@pytest.fixture
def settled(cast):
    """The cast with the notices of its own setup already delivered and read."""
    outbox_relay()
    Notification.objects.update(read_at="2026-01-01T00:00:00Z")
    mail.outbox.clear()
    return cast


def _append(cast, who, body="電話で状況確認。"):
    return services.timeline_append(actor=cast.actor(who), client_id=cast.client.id, kind="call", body=body)


def test_append_notifies_the_other_sharing_agencies_only(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        entry = _append(cast, "carol")
    notified = set(Notification.objects.filter(entry_id=entry.id).values_list("recipient__username", flat=True))
    # owner (alice, sam, ada) and reader (bob); not carol's own agency, not the outsider, lapsed, revoked or office
    assert notified == {"alice", "sam", "ada", "bob"}
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 0


def test_the_outbox_row_is_written_with_the_change_and_holds_ids_only(cast):
    entry = _append(cast, "alice", body="本文は通知に含めない")
    message = OutboxMessage.objects.latest("id")
    assert message.topic == "timeline.append" and message.published_at is None  # not yet committed
    assert message.payload == {
        "client_id": str(cast.client.id),
        "entry_id": str(entry.id),
        "agency_id": cast.agencies["owner"].pk,
    }


def test_redelivery_creates_no_duplicates(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _append(cast, "alice")
    message = OutboxMessage.objects.filter(topic="timeline.append").latest("id")
    before = Notification.objects.count()
    from cases.notifications import notifications_fan_out

    assert notifications_fan_out(message_id=message.pk) == 0
    assert Notification.objects.count() == before


def test_relay_publishes_pending_messages_in_order(cast):
    _append(cast, "alice")
    _append(cast, "carol")
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() >= 2
    assert outbox_relay() >= 2
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == 0
    assert outbox_relay() == 0


def test_inbox_unread_count_and_mark_read(settled, django_capture_on_commit_callbacks):
    cast = settled
    with django_capture_on_commit_callbacks(execute=True):
        _append(cast, "carol")
        _append(cast, "alice")
    bob = cast.actor("bob")
    assert notification_unread_count(actor=bob) == 2
    page = notification_list(actor=bob, unread_only=True)
    assert [n.label for n in page.items] == ["支援記録が追加されました"] * 2
    assert notification_mark_read(actor=bob, notification_ids=[page.items[0].id]) == 1
    assert notification_unread_count(actor=bob) == 1
    # another user's notice cannot be marked through bob
    alices = Notification.objects.filter(recipient__username="alice").values_list("id", flat=True)
    assert notification_mark_read(actor=bob, notification_ids=list(alices)) == 0
    assert notification_mark_read(actor=bob) == 1
    assert notification_list(actor=bob, unread_only=True).items == []
    assert Notification.objects.filter(recipient__username="alice", read_at__isnull=True).count() == 1


def test_email_for_opted_in_staff_carries_no_personal_data(settled, django_capture_on_commit_callbacks):
    cast = settled
    bob = cast.users["bob"]
    bob.email = "bob@example.jp"
    bob.save()
    bob.staff.email_notifications = True
    bob.staff.save()
    with django_capture_on_commit_callbacks(execute=True):
        _append(cast, "carol", body="カナリア本文")
    assert [m.to for m in mail.outbox] == [["bob@example.jp"]]
    text = mail.outbox[0].subject + mail.outbox[0].body
    assert str(cast.client.id) in text
    for secret in ("カナリア本文", "山田", "ヤマダ", "旭町", cast.client.case_number):
        assert secret not in text


def test_share_grant_notifies_the_newly_shared_agency(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.share_grant(
            actor=cast.actor("sam"), client_id=cast.client.id, agency_code="shisetsu", level="read", basis="consent"
        )
    assert Notification.objects.filter(recipient__username="charlie", topic="share.grant").exists()
