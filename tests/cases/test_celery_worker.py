"""Notifications through a real Celery worker on a real Redis broker (PostgreSQL), including a broker outage.

Each test starts its own Redis server on a spare port, so the outage is a real one: the server is shut down while
clients keep appending, and started again afterwards.
"""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from cases import services
from cases.models import Notification, OutboxMessage
from cases.outbox import outbox_relay
from tests.cases.processes import RedisServer, celery_broker
from tests.cast import build_cast
from tsunagu.celery import app as celery_app

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    with celery_broker(server.url):
        yield server
        server.stop()


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_worker_delivers_notifications_to_the_other_sharing_agencies(redis_server):
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        cast = build_cast()
        entry = services.timeline_append(
            actor=cast.actor("carol"), client_id=cast.client.id, kind="visit", body="訪問しました。"
        )
        assert _wait_for(lambda: Notification.objects.filter(entry_id=entry.id).count() == 4)
    recipients = set(Notification.objects.filter(entry_id=entry.id).values_list("recipient__username", flat=True))
    assert recipients == {"alice", "sam", "ada", "bob"}  # not carol's agency, not agencies without an active share
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def test_broker_outage_loses_nothing_and_duplicates_nothing(redis_server):
    redis_server.stop()  # the broker goes away before anything is published
    cast = build_cast()
    pending_setup = OutboxMessage.objects.filter(published_at__isnull=True).count()
    assert pending_setup > 0  # the cast's own share changes wait in the outbox too

    carol = cast.actor("carol")
    entries = [
        services.timeline_append(actor=carol, client_id=cast.client.id, kind="call", body=f"電話 {i}")
        for i in range(200)
    ]
    entry_ids = [e.id for e in entries]
    assert OutboxMessage.objects.filter(published_at__isnull=True).count() == pending_setup + 200  # kept
    assert outbox_relay() == 0  # the periodic relay cannot publish either

    redis_server.start()  # the broker is back
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        assert outbox_relay() == pending_setup + 200  # what beat's periodic relay does
        assert _wait_for(lambda: Notification.objects.filter(entry_id__in=entry_ids).count() == 800, timeout=90)
        # an at-least-once redelivery of every message changes nothing
        for message_id in OutboxMessage.objects.filter(topic="timeline.append").values_list("pk", flat=True):
            celery_app.tasks["cases.tasks.process_outbox_message"].delay(message_id)
        time.sleep(2)
        assert _wait_for(lambda: not _queue_length(redis_server.port))
    per_entry = Notification.objects.filter(entry_id__in=entry_ids).values_list("entry_id", "recipient__username")
    assert len(per_entry) == 800 == len(set(per_entry))
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def _queue_length(port: int) -> int:
    import redis

    return redis.Redis(host="127.0.0.1", port=port).llen("celery")


def test_the_worker_logs_the_work_of_a_request_under_its_request_id(redis_server):
    """The request id travels in the outbox message's payload and the task's headers to the real worker."""
    import json
    import logging

    from rest_framework.test import APIClient

    from tests.api.conftest import issue_key
    from tests.logs import json_log

    # The log is captured after the worker's start, which configures logging afresh (at ERROR, where the consumer
    # logs its work at INFO).
    with (
        start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10),
        json_log(logging.INFO) as stream,
    ):
        cast = build_cast()
        assert _wait_for(lambda: not OutboxMessage.objects.filter(finished_at__isnull=True).exists())
        _, key = issue_key(cast.users["carol"])
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = api.post(
            f"/api/v1/clients/{cast.client.id}/timeline/",
            {"kind": "visit", "body": "訪問しました。"},
            format="json",
            headers={"X-Request-ID": "worker-req-1"},
        )
        assert response.status_code == 201
        entry_id = response.json()["id"]
        assert _wait_for(lambda: Notification.objects.filter(entry_id=entry_id).count() == 4)
        # The consumer logs once its transaction has committed, just after the notices appear.
        assert _wait_for(lambda: stream.getvalue().count('"worker-req-1", "channel": "task"') == 1)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finished = [
        line
        for line in lines
        if line["logger"] == "cases.outbox" and "finished" in line["message"] and line["request_id"] == "worker-req-1"
    ]
    assert len(finished) == 1 and finished[0]["channel"] == "task"
