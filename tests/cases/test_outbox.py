"""The outbox is the source of truth until a message's work is done (Celery running eagerly).

A message is finished when its consumer has written the notices and webhook deliveries, in the same transaction;
handing it to the broker only starts a lease. The fault tests with a real worker are in test_outbox_faults.py.
"""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from cases import notifications, services
from cases.models import Notification, OutboxMessage
from cases.outbox import outbox_relay


def _append(cast, who="carol"):
    return services.timeline_append(actor=cast.actor(who), client_id=cast.client.id, kind="call", body="電話")


def test_a_message_is_finished_by_its_consumer_not_by_the_relay(cast):
    assert outbox_relay() > 0
    assert not OutboxMessage.objects.filter(finished_at__isnull=True).exists()
    entry = _append(cast)
    message = OutboxMessage.objects.latest("id")
    assert message.finished_at is None and message.published_at is None
    outbox_relay()
    message.refresh_from_db()
    assert message.published_at is not None and message.finished_at is not None
    assert Notification.objects.filter(entry_id=entry.id).count() == 4


def test_the_relay_publishes_a_published_but_unfinished_message_again_after_the_lease(cast, settings):
    settings.OUTBOX_LEASE_SECONDS = 120
    outbox_relay()
    entry = _append(cast)
    message = OutboxMessage.objects.latest("id")
    # what a lost broker message, a killed worker or a failed consumer leaves behind: published, not finished
    OutboxMessage.objects.filter(pk=message.pk).update(published_at=timezone.now() - timedelta(seconds=60))
    assert outbox_relay() == 0  # still within its lease: the consumer may yet be working on it
    assert not Notification.objects.filter(entry_id=entry.id).exists()
    OutboxMessage.objects.filter(pk=message.pk).update(published_at=timezone.now() - timedelta(seconds=121))
    assert outbox_relay() == 1
    message.refresh_from_db()
    assert message.finished_at is not None and message.attempts == 1
    assert Notification.objects.filter(entry_id=entry.id).count() == 4
    # finished messages are never published again, however old
    OutboxMessage.objects.update(published_at=timezone.now() - timedelta(days=1))
    assert outbox_relay() == 0


def test_a_second_delivery_of_a_finished_message_does_nothing(cast):
    from cases.tasks import process_outbox_message

    outbox_relay()
    entry = _append(cast)
    outbox_relay()
    message = OutboxMessage.objects.latest("id")
    finished = message.finished_at
    assert process_outbox_message.delay(message.pk).get() == 0
    message.refresh_from_db()
    assert message.finished_at == finished
    assert Notification.objects.filter(entry_id=entry.id).count() == 4


@pytest.fixture
def eager_retries():
    """Eager tasks that retry as a worker would (propagating errors would stop at the first ``Retry``)."""
    from tsunagu.celery import app

    saved = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = saved


def test_the_consumer_retries_transient_database_errors(cast, monkeypatch, eager_retries):
    outbox_relay()
    entry = _append(cast)
    real, calls = notifications.notifications_fan_out, []

    def flaky(*, message_id):
        calls.append(message_id)
        if len(calls) <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(message_id=message_id)

    monkeypatch.setattr(notifications, "notifications_fan_out", flaky)
    assert outbox_relay() == 1
    assert len(calls) == 3  # two failures, retried by the task itself
    assert OutboxMessage.objects.latest("id").finished_at is not None
    assert Notification.objects.filter(entry_id=entry.id).count() == 4


def test_a_failed_consumer_leaves_the_message_unfinished_with_its_error(cast, monkeypatch):
    outbox_relay()
    _append(cast)

    def broken(*, message_id):
        raise ValueError("bad payload")

    monkeypatch.setattr(notifications, "notifications_fan_out", broken)
    with pytest.raises(ValueError, match="bad payload"):
        from cases.tasks import process_outbox_message

        process_outbox_message.delay(OutboxMessage.objects.latest("id").pk)
    message = OutboxMessage.objects.latest("id")
    assert message.finished_at is None
    assert message.last_error == "ValueError: bad payload"
