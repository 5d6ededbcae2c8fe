"""Signed webhooks: a receiver on 127.0.0.1 verifies each request; retries, backoff, giving up, disabling."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.utils import timezone

from agencies.actors import Actor
from audit.models import AuditEvent
from cases import services
from cases.models import WebhookAttempt, WebhookDelivery
from cases.outbox import outbox_relay
from cases.webhooks import backoff, webhook_attempt, webhook_register, webhooks_due
from tsunagu.errors import Forbidden, InvalidInput


class Receiver:
    """A partner system: verifies the signature and answers with the next scripted status."""

    def __init__(self, secret_holder, statuses):
        self.statuses = list(statuses)
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fields = dict(part.split("=", 1) for part in self.headers["Tsunagu-Signature"].split(","))
                expected = hmac.new(
                    secret_holder["secret"].encode(), f"{fields['t']}.".encode() + body, hashlib.sha256
                ).hexdigest()
                valid = hmac.compare_digest(expected, fields["v1"])
                receiver.received.append((valid, self.headers["Tsunagu-Event-Id"], json.loads(body)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status if valid else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tsunagu"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(cast, settings):
    """The appender agency (包括) registers an endpoint, through its administrator."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the receiver runs on this machine
    settings.WEBHOOK_DISABLE_AFTER = 5
    from agencies.services import staff_create

    outbox_relay()  # the cast's own changes are delivered before the endpoint exists

    admin = staff_create(
        actor=Actor.system(channel="cli"), username="hadmin", agency_code="houkatsu", role="agency_admin"
    ).user
    holder = {}
    receivers = []

    def make(statuses=()):
        receiver = Receiver(holder, statuses)
        receivers.append(receiver)
        endpoint, holder["secret"] = webhook_register(actor=Actor.for_user(admin, channel="web"), url=receiver.url)
        return receiver, endpoint

    yield make
    for receiver in receivers:
        receiver.close()


def _append(cast, django_capture_on_commit_callbacks, who="alice"):
    with django_capture_on_commit_callbacks(execute=True):
        return services.timeline_append(
            actor=cast.actor(who), client_id=cast.client.id, kind="visit", body="秘密の本文"
        )


def test_signed_event_without_case_content(cast, hook, django_capture_on_commit_callbacks):
    receiver, _ = hook()
    entry = _append(cast, django_capture_on_commit_callbacks)
    assert len(receiver.received) == 1
    valid, event_id, payload = receiver.received[0]
    assert valid
    assert payload["id"] == event_id and payload["type"] == "timeline.append"
    assert payload["entry_id"] == str(entry.id) and payload["kind"] == "visit" and payload["agency"] == "fukushi"
    assert "秘密の本文" not in json.dumps(payload, ensure_ascii=False) and "山田" not in json.dumps(payload)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempts == 1
    event = AuditEvent.objects.get(action="webhook.deliver")
    assert event.outcome == "allowed" and event.client_ids == [str(cast.client.id)] and event.channel == "task"


def test_retries_with_backoff_after_a_server_error(cast, hook, django_capture_on_commit_callbacks):
    receiver, _ = hook(statuses=[500, 503])
    _append(cast, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert webhooks_due() == []  # not before the backoff has elapsed
    with time_machine.travel(timezone.now() + backoff(1) + timedelta(seconds=1)):
        assert webhooks_due() == [delivery.pk]
        assert webhook_attempt(delivery_id=delivery.pk) == "pending"  # 503
    with time_machine.travel(timezone.now() + backoff(1) + backoff(2) + timedelta(seconds=5)):
        assert webhook_attempt(delivery_id=delivery.pk) == "delivered"
    assert [a.status_code for a in WebhookAttempt.objects.order_by("attempted_at")] == [500, 503, 200]
    assert len({event_id for _, event_id, _ in receiver.received}) == 1  # the same event each time
    outcomes = list(
        AuditEvent.objects.filter(action="webhook.deliver").order_by("seq").values_list("outcome", flat=True)
    )
    assert outcomes == ["error", "error", "allowed"]


def test_gives_up_after_the_retry_window(cast, hook, django_capture_on_commit_callbacks, settings):
    settings.WEBHOOK_DISABLE_AFTER = 100
    hook(statuses=[500] * 10)
    _append(cast, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        assert webhook_attempt(delivery_id=delivery.pk) == "gave_up"
    assert webhooks_due() == []


def test_endpoint_is_disabled_after_repeated_failures(cast, hook, django_capture_on_commit_callbacks):
    receiver, endpoint = hook(statuses=[500] * 10)
    now = timezone.now()
    for _ in range(5):
        _append(cast, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None and endpoint.consecutive_failures == 5
    _append(cast, django_capture_on_commit_callbacks)  # no delivery for a disabled endpoint
    assert WebhookDelivery.objects.count() == 5
    with time_machine.travel(now + timedelta(hours=2)):
        for delivery_id in webhooks_due():
            assert webhook_attempt(delivery_id=delivery_id) == "gave_up"
    assert len(receiver.received) == 5


def test_agencies_without_a_share_get_no_events(cast, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    from agencies.services import staff_create

    outsider_admin = staff_create(
        actor=Actor.system(channel="cli"), username="sadmin", agency_code="shisetsu", role="agency_admin"
    ).user
    webhook_register(actor=Actor.for_user(outsider_admin, channel="web"), url="http://127.0.0.1:9/never")
    _append(cast, django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.count() == 0


def test_registration_rules(cast, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(Forbidden):
        webhook_register(actor=cast.actor("alice"), url="https://partner.example/hook")
    with pytest.raises(InvalidInput):
        webhook_register(actor=cast.actor("ada"), url="http://partner.example/hook")
    endpoint, secret = webhook_register(actor=cast.actor("ada"), url="https://partner.example/hook")
    assert secret.startswith("whsec_") and endpoint.agency.code == "fukushi"
    assert AuditEvent.objects.filter(action="webhook.register", outcome="allowed").count() == 1
