"""Application logs: JSON lines with the request id on every line, an access line per request without query strings,
the request id in the response, in the audit events and in the tasks the request started (through the outbox)."""

import io
import json
import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from agencies.actors import Actor
from audit.models import AuditEvent
from cases.models import OutboxMessage
from cases.outbox import outbox_relay
from tests.api.conftest import issue_key
from tests.logs import json_log as capture_json_log
from tests.mfa import sign_in
from tsunagu.logs import request_context


class Captured:
    def __init__(self, stream: io.StringIO):
        self.stream = stream

    def lines(self) -> list[dict]:
        """Every line, parsed: each must be one JSON object."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def json_log():
    """The root logger writing, as in production (LOG_FORMAT=json), to a buffer."""
    with capture_json_log(logging.INFO) as stream:
        yield Captured(stream)


def test_the_production_settings_log_json_lines_with_the_request_id(settings):
    assert settings.LOG_FORMAT == "json"  # DEBUG is off in the test run
    handler = settings.LOGGING["handlers"]["console"]
    assert handler["formatter"] == "json" and handler["filters"] == ["request"]
    assert settings.LOGGING["formatters"]["json"]["()"] == "tsunagu.logs.JsonFormatter"


def test_every_line_of_a_request_carries_its_id_and_an_access_line_ends_it(cast, json_log):
    client = sign_in(Client(), cast.users["alice"])
    response = client.get(f"/clients/{cast.client.id}/", {"q": "やまだ"}, headers={"X-Request-ID": "probe-42"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "probe-42"  # a well-formed incoming id is kept
    lines = json_log.lines()
    mine = [line for line in lines if line["request_id"] == "probe-42"]
    (access,) = [line for line in mine if line["logger"] == "tsunagu.access"]
    assert access["level"] == "INFO" and access["channel"] == "web"
    assert access["method"] == "GET" and access["path"] == f"/clients/{cast.client.id}/"
    assert access["status"] == 200 and access["duration_ms"] >= 0
    assert access["user_id"] == cast.users["alice"].pk
    assert "やまだ" not in json_log.stream.getvalue() and "q=" not in json_log.stream.getvalue()
    assert {"time", "level", "logger", "message"} <= set(access)


def test_an_invalid_incoming_id_is_replaced(cast, json_log):
    response = Client().get("/login/", headers={"X-Request-ID": "no spaces; allowed"})
    assert response["X-Request-ID"] != "no spaces; allowed" and len(response["X-Request-ID"]) == 32
    (access,) = [line for line in json_log.lines() if line["logger"] == "tsunagu.access"]
    assert access["request_id"] == response["X-Request-ID"] and access["user_id"] is None


def test_a_healthy_probe_is_not_in_the_access_log(cast, json_log):
    assert Client().get("/health/").status_code == 200
    assert not [line for line in json_log.lines() if line["logger"] == "tsunagu.access"]


def test_lines_outside_a_request_say_so(json_log):
    logging.getLogger("tsunagu.test").info("plain")
    with request_context("abc123", "task"):
        logging.getLogger("tsunagu.test").info("inside")
    plain, inside = json_log.lines()
    assert plain["request_id"] == "-" and inside["request_id"] == "abc123" and inside["channel"] == "task"


def test_an_exception_is_written_on_one_line_with_its_type_and_stack_not_its_message(json_log):
    def save(name):
        raise ValueError(f"could not save {name}")  # a message quoting data

    who = "山田 太郎"
    try:
        try:
            save(who)
        except ValueError as exc:
            raise ConnectionRefusedError("connection to the broker refused") from exc
    except ConnectionError:
        logging.getLogger("tsunagu.test").exception("failed")
    (line,) = json_log.lines()
    assert line["exc_type"] == "ConnectionRefusedError"
    assert "Traceback" in line["exc_info"] and 'raise ValueError(f"could not save {name}")' in line["exc_info"]
    assert "\nValueError\n" in line["exc_info"]  # the type, not the message
    assert "山田" not in json_log.stream.getvalue()
    assert line["exc_info"].endswith("ConnectionRefusedError: connection to the broker refused")


def test_the_web_audit_event_carries_the_response_request_id(cast):
    client = sign_in(Client(), cast.users["alice"])
    response = client.get(f"/clients/{cast.client.id}/")
    event = AuditEvent.objects.filter(action="client.view").latest("seq")
    assert event.request_id == response["X-Request-ID"]
    kept = client.get(f"/clients/{cast.client.id}/", headers={"X-Request-ID": "lb-7f3a.1"})
    assert kept["X-Request-ID"] == "lb-7f3a.1"
    assert AuditEvent.objects.filter(action="client.view").latest("seq").request_id == "lb-7f3a.1"


def test_the_api_audit_event_carries_the_response_request_id(cast):
    _, key = issue_key(cast.users["alice"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = api.get(f"/api/v1/clients/{cast.client.id}/")
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="client.view", channel="api").latest("seq")
    assert event.request_id == response["X-Request-ID"]
    kept = api.get(f"/api/v1/clients/{cast.client.id}/", headers={"X-Request-ID": "partner-0001"})
    assert kept["X-Request-ID"] == "partner-0001"
    assert AuditEvent.objects.filter(action="client.view", channel="api").latest("seq").request_id == "partner-0001"


def test_the_task_a_request_started_logs_under_its_id(cast, json_log):
    outbox_relay()  # the cast's own messages out of the way
    _, key = issue_key(cast.users["carol"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = api.post(
        f"/api/v1/clients/{cast.client.id}/timeline/",
        {"kind": "visit", "body": "訪問した。"},
        format="json",
        headers={"X-Request-ID": "append-1"},
    )
    assert response.status_code == 201, response.content
    message = OutboxMessage.objects.latest("id")
    assert message.payload["request_id"] == "append-1"  # an id, beside the other ids
    # Relayed later, by the periodic relay outside any request (the eager worker runs the consumer).
    json_log.stream.truncate(0)
    json_log.stream.seek(0)
    with request_context("relay-run", "task"):
        assert outbox_relay() == 1
    finished = [line for line in json_log.lines() if line["logger"] == "cases.outbox" and "finished" in line["message"]]
    assert [line["request_id"] for line in finished] == ["append-1"]
    assert "訪問" not in json_log.stream.getvalue()


def test_a_system_actor_built_in_a_task_keeps_the_request_id():
    with request_context("origin-9", "task"):
        assert Actor.system(channel="task").request_id == "origin-9"
        assert Actor.system(channel="task", request_id="own").request_id == "own"
    assert Actor.system(channel="task").request_id != "origin-9"
