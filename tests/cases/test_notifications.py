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


# --- support meetings (支援会議): a notice about a meeting names the meeting -----------------------------------


def _minutes(convened):
    return services.meeting_minutes_record(
        actor=convened.actor("sam"),
        meeting_id=convened.id,
        summary="見守りの分担を決めた。",
        decisions="",
        action_items=[],
    )


def _opt_in(user, email):
    user.email = email
    user.save()
    user.staff.email_notifications = True
    user.staff.save()


def test_an_invitation_notice_stores_the_meeting(settled, django_capture_on_commit_callbacks):
    from tests.meetings import convene

    with django_capture_on_commit_callbacks(execute=True):
        convened = convene(settled)
    invited = Notification.objects.filter(topic="meeting.create")
    assert set(invited.values_list("recipient__username", flat=True)) == {"charlie", "sue", "bob", "bea"}
    assert set(invited.values_list("meeting_id", flat=True)) == {convened.id}
    # Other notices name no meeting.
    assert not Notification.objects.exclude(topic__startswith="meeting.").filter(meeting__isnull=False).exists()


def test_the_minutes_notices_store_the_meeting(settled, django_capture_on_commit_callbacks):
    from tests.meetings import convene

    with django_capture_on_commit_callbacks(execute=True):
        convened = convene(settled)
        _minutes(convened)
    messages = OutboxMessage.objects.filter(topic="meeting.minutes")
    assert messages.count() == 2  # one per client discussed
    assert {m.payload["meeting_id"] for m in messages} == {str(convened.id)}
    notices = Notification.objects.filter(topic="meeting.minutes")
    assert notices.exists() and set(notices.values_list("meeting_id", flat=True)) == {convened.id}


def test_the_invitation_email_links_to_the_meeting(settled, django_capture_on_commit_callbacks):
    """さくら園 has not confirmed 守秘義務: it cannot see the client, so a link to the client page would find
    nothing."""
    from tests.meetings import convene

    _opt_in(settled.users["charlie"], "charlie@example.jp")
    with django_capture_on_commit_callbacks(execute=True):
        convened = convene(settled)
    [message] = [m for m in mail.outbox if "charlie@example.jp" in m.to]
    assert f"/meetings/{convened.id}/" in message.body
    assert "/clients/" not in message.body
    for secret in ("山田", "佐藤", "支援会議」", "世帯"):
        assert secret not in message.subject + message.body  # not the title either: free text


def test_the_minutes_email_links_parties_to_the_meeting_and_others_to_the_client(
    settled, django_capture_on_commit_callbacks
):
    """社協 (bob) attends; 地域包括 (carol) shares the client without attending: the meeting page is not there for
    it, the client's timeline (with the minutes) is."""
    from tests.meetings import convene

    _opt_in(settled.users["bob"], "bob@example.jp")
    _opt_in(settled.users["carol"], "carol@example.jp")
    with django_capture_on_commit_callbacks(execute=True):
        convened = convene(settled)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _minutes(convened)
    to_bob = [m.body for m in mail.outbox if "bob@example.jp" in m.to]
    to_carol = [m.body for m in mail.outbox if "carol@example.jp" in m.to]
    assert to_bob and all(f"/meetings/{convened.id}/" in body for body in to_bob)
    assert to_carol and all(f"/clients/{settled.client.id}/" in body for body in to_carol)
    assert all("/meetings/" not in body for body in to_carol)


def test_mark_read_by_meeting_marks_only_that_meetings_notices(settled, django_capture_on_commit_callbacks):
    from tests.meetings import convene

    with django_capture_on_commit_callbacks(execute=True):
        convened = convene(settled)
        _append(settled, "alice")
    bob = settled.actor("bob")
    assert notification_unread_count(actor=bob) == 2  # the invitation and alice's entry
    assert notification_mark_read(actor=bob, meeting_id="garbage") == 0
    assert notification_mark_read(actor=bob, meeting_id=str(convened.id)) == 1
    unread = Notification.objects.filter(recipient__username="bob", read_at=None)
    assert list(unread.values_list("topic", flat=True)) == ["timeline.append"]
    # Another user's notices of the meeting are untouched.
    assert Notification.objects.filter(recipient__username="charlie", meeting_id=convened.id, read_at=None).exists()
