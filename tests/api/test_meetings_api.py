"""PRODUCT §6.1 over HTTP: support meetings (支援会議) and action items — paths, fields, status codes, idempotency."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from cases.models import Share

from ..meetings import add_staff, convene, expire_meeting_shares
from .conftest import issue_key
from .helpers import assert_problem, events_since, last_seq

MEETING_FIELDS = {
    "id",
    "title",
    "held_on",
    "convened_by",
    "clients",
    "attendees",
    "share_level",
    "share_expires_at",
    "minutes",
    "action_items",
}
TASK_FIELDS = {"id", "meeting", "client", "task", "due_on", "status", "done_at"}
MINUTES_FIELDS = {"version", "summary", "decisions", "recorded_at", "recorded_by"}


@pytest.fixture
def call(cast):
    """``call("sam")``: an API client with a fresh key of that user (the cast's extra staff included)."""
    from rest_framework.test import APIClient

    def make(name):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(cast.users[name])[1]}")
        return client

    return make


def _body(cast, **kwargs):
    body = {
        "title": "山田さん世帯の支援会議",
        "held_on": timezone.localdate().isoformat(),
        "clients": [str(cast.client.id)],
        "attendees": ["shisetsu"],
        "share_level": "read",
        "share_days": 30,
    }
    body.update(kwargs)
    return body


def _minutes_body(c):
    return {
        "summary": "体調と家計の状況を共有した。",
        "decisions": "さくら園が短期入所を調整する。",
        "action_items": [
            {
                "agency": "shisetsu",
                "client": str(c.cast.client.id),
                "task": "短期入所の空きを確認",
                "due_on": (timezone.localdate() - timedelta(days=1)).isoformat(),
            },
            {"agency": "fukushi", "client": str(c.client2.id), "task": "次回の日程調整"},
        ],
    }


def test_create_returns_201_with_the_contract_fields(cast, call):
    response = call("sam").post("/api/v1/meetings/", _body(cast), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == MEETING_FIELDS
    assert body["convened_by"] == "fukushi" and body["clients"] == [str(cast.client.id)]
    assert body["attendees"] == [{"agency": "shisetsu", "confirmed_at": None}]
    assert body["minutes"] is None and body["action_items"] == []
    assert body["share_level"] == "read" and body["held_on"] == timezone.localdate().isoformat()
    assert Share.objects.get(meeting_id=body["id"]).pending
    event = AuditEvent.objects.get(action="meeting.create")
    assert event.channel == "api" and event.client_ids == [str(cast.client.id)]


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 403), ("ivan", 403), ("carol", 403), ("bob", 403), ("charlie", 404), ("penny", 404), ("olga", 404)],
)
def test_create_refusals(cast, call, who, status):
    seq = last_seq()
    assert_problem(call(who).post("/api/v1/meetings/", _body(cast, attendees=["soudan"]), format="json"), status)
    assert [(e.action, e.outcome) for e in events_since(seq) if e.action == "meeting.create"] == [
        ("meeting.create", "denied")
    ]


def test_a_hidden_client_is_byte_identical_to_a_missing_one(cast, call):
    add_staff(cast, "sue", "outsider", "supervisor")
    api = call("sue")
    hidden = api.post("/api/v1/meetings/", _body(cast, attendees=["fukushi"]), format="json")
    missing = api.post(
        "/api/v1/meetings/",
        _body(cast, attendees=["fukushi"], clients=["00000000-0000-0000-0000-000000000001"]),
        format="json",
    )
    assert_problem(hidden, 404)
    assert hidden.content == missing.content


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"share_days": 0}, "share_days"),
        ({"share_days": 366}, "share_days"),
        ({"share_days": "7"}, "share_days"),
        ({"share_level": "manage"}, "share_level"),
        ({"attendees": []}, "attendees"),
        ({"attendees": ["nope"]}, "attendees"),
        ({"attendees": ["fukushi"]}, "attendees"),
        ({"clients": []}, "clients"),
        ({"clients": ["x"]}, "clients"),
        ({"title": " "}, "title"),
        ({"held_on": "2026-11-31"}, "held_on"),
        ({"held_on": "2020-01-01"}, "held_on"),
        ({"extra": 1}, "extra"),
    ],
)
def test_create_bad_input(cast, call, change, field):
    body = assert_problem(call("sam").post("/api/v1/meetings/", _body(cast, **change), format="json"), 400)
    assert any(key.split(".")[0] == field for key in body["errors"]), body["errors"]


def test_create_honours_the_idempotency_key(cast, call):
    api = call("sam")
    first = api.post("/api/v1/meetings/", _body(cast), format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    again = api.post("/api/v1/meetings/", _body(cast), format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert AuditEvent.objects.filter(action="meeting.create").count() == 1
    conflict = api.post("/api/v1/meetings/", _body(cast, share_days=7), format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert_problem(conflict, 409)


def test_confirm_list_detail_minutes_tasks_end_to_end(cast, call):
    c = convene(cast)
    sue, charlie, sam = call("sue"), call("charlie"), call("sam")
    # Before confirming: the attendee sees the meeting, no minutes; the clients themselves are not found.
    assert charlie.get(f"/api/v1/meetings/{c.id}/").json()["minutes"] is None
    assert_problem(charlie.get(f"/api/v1/clients/{cast.client.id}/"), 404)
    assert_problem(charlie.get(f"/api/v1/clients/{cast.client.id}/timeline/"), 404)
    minutes = sam.post(f"/api/v1/meetings/{c.id}/minutes/", _minutes_body(c), format="json")
    assert minutes.status_code == 201, minutes.content
    assert set(minutes.json()["minutes"]) == MINUTES_FIELDS and minutes.json()["minutes"]["version"] == 1
    items = minutes.json()["action_items"]
    assert {frozenset(i) for i in items} == {frozenset(TASK_FIELDS | {"agency"})}
    # Confirm: 200 with the meeting; the key replays; a second confirmation is a 400.
    confirmed = sue.post(f"/api/v1/meetings/{c.id}/confirm/", HTTP_IDEMPOTENCY_KEY="c-1")
    assert confirmed.status_code == 200, confirmed.content
    assert next(a for a in confirmed.json()["attendees"] if a["agency"] == "shisetsu")["confirmed_at"]
    replay = sue.post(f"/api/v1/meetings/{c.id}/confirm/", HTTP_IDEMPOTENCY_KEY="c-1")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert "meeting" in assert_problem(sue.post(f"/api/v1/meetings/{c.id}/confirm/"), 400)["errors"]
    assert charlie.get(f"/api/v1/clients/{cast.client.id}/").status_code == 200
    # List and detail.
    listed = charlie.get("/api/v1/meetings/").json()
    assert set(listed) == {"next", "previous", "results"}
    assert [m["id"] for m in listed["results"]] == [str(c.id)]
    detail = charlie.get(f"/api/v1/meetings/{c.id}/").json()
    assert set(detail) == MEETING_FIELDS and detail["minutes"]["summary"].startswith("体調")
    # Tasks: charlie's agency's open item, done once (200), twice (400).
    tasks = charlie.get("/api/v1/tasks/?status=open").json()
    (task,) = tasks["results"]
    assert set(task) == TASK_FIELDS and task["status"] == "open" and task["meeting"] == str(c.id)
    done = charlie.post(f"/api/v1/tasks/{task['id']}/done/", HTTP_IDEMPOTENCY_KEY="d-1")
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["done_at"]
    replay = charlie.post(f"/api/v1/tasks/{task['id']}/done/", HTTP_IDEMPOTENCY_KEY="d-1")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert "task" in assert_problem(charlie.post(f"/api/v1/tasks/{task['id']}/done/"), 400)["errors"]
    assert charlie.get("/api/v1/tasks/").json()["results"] == []
    assert [t["id"] for t in charlie.get("/api/v1/tasks/?status=done").json()["results"]] == [task["id"]]
    assert "status" in assert_problem(charlie.get("/api/v1/tasks/?status=all"), 400)["errors"]
    # Another version of the minutes.
    again = sam.post(f"/api/v1/meetings/{c.id}/minutes/", {"summary": "訂正版"}, format="json")
    assert again.status_code == 201 and again.json()["minutes"]["version"] == 2


def test_minutes_refusals_and_bad_items(cast, call):
    c = convene(cast)
    assert_problem(call("sue").post(f"/api/v1/meetings/{c.id}/minutes/", {"summary": "x"}, format="json"), 403)
    assert_problem(call("carol").post(f"/api/v1/meetings/{c.id}/minutes/", {"summary": "x"}, format="json"), 404)
    bad = {"summary": "x", "action_items": [{"agency": "houkatsu", "client": str(cast.client.id), "task": "x"}]}
    body = assert_problem(call("sam").post(f"/api/v1/meetings/{c.id}/minutes/", bad, format="json"), 400)
    assert "action_items.0" in body["errors"]
    body = assert_problem(call("sam").post(f"/api/v1/meetings/{c.id}/minutes/", {}, format="json"), 400)
    assert "summary" in body["errors"]


def test_confirm_and_detail_refusals(cast, call):
    c = convene(cast)
    assert_problem(call("charlie").post(f"/api/v1/meetings/{c.id}/confirm/"), 403)
    assert_problem(call("sam").post(f"/api/v1/meetings/{c.id}/confirm/"), 403)
    for who in ("carol", "rick", "penny"):
        assert_problem(call(who).post(f"/api/v1/meetings/{c.id}/confirm/"), 404)
        assert_problem(call(who).get(f"/api/v1/meetings/{c.id}/"), 404)
        assert call(who).get("/api/v1/meetings/").json()["results"] == []
    assert_problem(call("sam").get("/api/v1/meetings/not-an-id/"), 404)
    assert_problem(call("sam").post("/api/v1/tasks/00000000-0000-0000-0000-000000000000/done/"), 404)


def test_after_the_meeting_shares_expired_the_attendee_loses_the_meeting(cast, call):
    c = convene(cast)
    call("sue").post(f"/api/v1/meetings/{c.id}/confirm/")
    expire_meeting_shares(c)
    assert_problem(call("charlie").get(f"/api/v1/meetings/{c.id}/"), 404)
    assert_problem(call("charlie").get(f"/api/v1/clients/{cast.client.id}/"), 404)
    assert call("charlie").get("/api/v1/meetings/").json()["results"] == []


def test_meeting_list_pages(cast, call):
    api = call("sam")
    for days_ago in range(3):
        held = (timezone.localdate() - timedelta(days=days_ago)).isoformat()
        assert api.post("/api/v1/meetings/", _body(cast, held_on=held), format="json").status_code == 201
    first = api.get("/api/v1/meetings/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"] and first["previous"] is None
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    held = [m["held_on"] for m in first["results"] + second["results"]]
    assert held == sorted(held, reverse=True)
    assert_problem(api.get("/api/v1/meetings/?cursor=forged"), 400)


def test_read_only_key_cannot_write(cast):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(cast.users['sam'], read_only=True)[1]}")
    assert_problem(client.post("/api/v1/meetings/", _body(cast), format="json"), 403)
    assert client.get("/api/v1/meetings/").status_code == 200
