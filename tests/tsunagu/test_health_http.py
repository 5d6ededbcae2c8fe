"""``/health/``: JSON for load balancers and monitoring, one status per component, 503 only when failing."""

import json
import socket
import time
from collections import namedtuple
from datetime import timedelta

import pytest
import time_machine
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from audit.models import AuditVerification
from cases import health
from cases.outbox import outbox_relay
from cases.services.attachments import IntegrityState
from tsunagu.celery import app as celery_app

URL = "/health/"


@pytest.fixture(autouse=True)
def fresh_report():
    health.forget_cached()
    yield
    health.forget_cached()


def get(client=None, method="get"):
    response = getattr(client or Client(), method)(URL)
    body = json.loads(response.content) if response.content else None
    return response, body


def test_an_anonymous_probe_gets_every_component_as_json(cast):
    outbox_relay()  # the cast's notices delivered
    response, body = get()
    assert response.status_code == 200, body
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert "Set-Cookie" not in response  # no session made for a probe
    assert body["status"] == "ok"
    components = body["components"]
    assert set(components) == {"database", "cache", "broker", "outbox", "audit", "attachments", "disk"}
    assert components["broker"] == {"status": "ok", "mode": "eager"}
    assert components["outbox"]["unfinished"] == 0
    assert components["audit"]["oldest_unsealed_age_seconds"] is not None  # the cast's events, not yet sealed
    assert components["audit"]["last_verification_ok"] is None
    assert set(components["disk"]) == {"status", "exports", "attachments"}
    assert components["disk"]["exports"]["free_bytes"] > 0
    assert "山田" not in response.content.decode()
    assert "/" not in json.dumps(components)  # no path, URL or address


def test_head_answers_like_get_and_other_methods_are_refused(cast):
    assert Client().head(URL).status_code == 200
    assert Client().post(URL).status_code == 405


def test_a_signed_in_session_waiting_for_its_second_factor_gets_it_too(cast):
    from tests.frontend.test_mfa import password_step
    from tests.mfa import enrol

    enrol(cast.users["penny"])
    client, _ = password_step("penny")
    response, body = get(client)
    assert response.status_code == 200 and body["components"]["database"]["status"] == "ok"


def test_a_probe_costs_one_query_while_the_slow_parts_are_cached(cast, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        assert get()[0].status_code == 200
    with django_assert_max_num_queries(1):  # SELECT 1
        assert get()[0].status_code == 200


def test_cached_figures_are_refreshed_after_a_few_seconds(cast, monkeypatch):
    _, before = get()
    assert before["components"]["outbox"]["unfinished"] > 0
    outbox_relay()
    assert get()[1]["components"]["outbox"]["unfinished"] == before["components"]["outbox"]["unfinished"]
    later = time.monotonic() + health.CACHE_SECONDS + 1
    monkeypatch.setattr(health.time, "monotonic", lambda: later)
    assert get()[1]["components"]["outbox"]["unfinished"] == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker_down():
    saved = {"broker_url": celery_app.conf.broker_url, "task_always_eager": celery_app.conf.task_always_eager}
    secret_url = f"redis://:s3cret-password@127.0.0.1:{_free_port()}/0"
    celery_app.conf.update(broker_url=secret_url, task_always_eager=False)
    celery_app._pool = None
    yield secret_url
    celery_app.conf.update(**saved)
    celery_app._pool = None


def test_an_unreachable_broker_fails_without_naming_it(cast, broker_down):
    response, body = get()
    assert response.status_code == 503
    assert body["status"] == "fail"
    broker = body["components"]["broker"]
    assert broker["status"] == "fail" and broker["mode"] == "broker" and broker["error"]
    text = response.content.decode()
    assert "s3cret" not in text and "redis" not in text.lower() and "127.0.0.1" not in text


def test_a_reachable_broker_is_ok(cast):
    saved = {"broker_url": celery_app.conf.broker_url, "task_always_eager": celery_app.conf.task_always_eager}
    celery_app.conf.update(broker_url="memory://localhost/", task_always_eager=False)
    celery_app._pool = None
    try:
        assert get()[1]["components"]["broker"] == {"status": "ok", "mode": "broker"}
    finally:
        celery_app.conf.update(**saved)
        celery_app._pool = None


def test_a_stale_outbox_and_unsealed_events_degrade_but_keep_200(cast):
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        response, body = get()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["components"]["outbox"]["status"] == "degraded"
    assert body["components"]["outbox"]["oldest_age_seconds"] >= 600
    assert body["components"]["audit"]["status"] == "degraded"  # nothing sealed them for 10 minutes


def test_a_failed_audit_verification_degrades(cast):
    outbox_relay()
    AuditVerification.objects.create(ran_at=timezone.now(), ok=False, kind="changed_event", message="seq 3 differs")
    response, body = get()
    assert response.status_code == 200 and body["status"] == "degraded"
    audit = body["components"]["audit"]
    assert audit["status"] == "degraded" and audit["last_verification_ok"] is False
    assert "seq 3" not in response.content.decode()


def test_an_old_verification_degrades(cast):
    outbox_relay()
    AuditVerification.objects.create(ran_at=timezone.now() - timedelta(days=3), ok=True, kind="ok", message="")
    audit = get()[1]["components"]["audit"]
    assert audit["status"] == "degraded" and audit["last_verification_age_seconds"] >= 3 * 86400


def test_failing_attachments_degrade(cast, monkeypatch):
    outbox_relay()
    state = IntegrityState(last_run_at=timezone.now(), last_run={"checked": 3, "failed": 1}, failed_now=1)
    monkeypatch.setattr(health, "attachment_integrity_state", lambda: state)
    response, body = get()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["components"]["attachments"] == {
        "status": "degraded",
        "last_check_age_seconds": 0,
        "last_check_failed": 1,
        "failing": 1,
    }


class _BrokenCursor:
    def __enter__(self):
        raise OperationalError("connection to server at db.internal failed")

    def __exit__(self, *exc):
        return False


def test_a_database_that_does_not_answer_fails(cast, monkeypatch):
    class Down:
        def cursor(self):
            return _BrokenCursor()

    monkeypatch.setattr(health, "connection", Down())
    response, body = get()
    assert response.status_code == 503 and body["status"] == "fail"
    assert body["components"]["database"] == {"status": "fail", "error": "OperationalError"}
    assert "outbox" not in body["components"]  # not read without a database
    assert "db.internal" not in response.content.decode()


def test_a_cache_that_does_not_answer_fails(cast, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis://cache.internal:6379 refused")

    monkeypatch.setattr(health.cache, "set", down)
    response, body = get()
    assert response.status_code == 503
    assert body["components"]["cache"] == {"status": "fail", "error": "ConnectionError"}
    assert "cache.internal" not in response.content.decode()


Usage = namedtuple("Usage", "total used free")


@pytest.mark.parametrize(
    ("free", "status", "code"),
    [
        (500 * 1024**3, "ok", 200),
        (5 * 1024**3, "degraded", 200),  # 5 % of 100 GiB: under 10 %
        (50 * 1024**2, "fail", 503),  # under 100 MiB: writes are about to fail
    ],
)
def test_disk_space_is_graded(cast, monkeypatch, free, status, code):
    outbox_relay()
    total = 100 * 1024**3 if free < 100 * 1024**3 else 1000 * 1024**3
    monkeypatch.setattr(health.shutil, "disk_usage", lambda path: Usage(total, total - free, free))
    response, body = get()
    assert response.status_code == code
    disk = body["components"]["disk"]
    assert disk["status"] == status and disk["exports"]["free_bytes"] == free
    assert body["status"] == status
