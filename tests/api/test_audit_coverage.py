"""Every API call leaves exactly one audit event of the right action, outcome and channel (``api``), carrying the
key's id and the client ids it exposed — the API channel's row of the audit coverage table."""

import re

import pytest

from agencies.models import ApiKey
from cases import services
from tests.api.conftest import issue_key
from tests.api.helpers import events_since, last_seq
from tests.meetings import convene


def _cid(cast):
    return str(cast.client.id)


def _collaboration(cast) -> dict:
    """What the §6.1 calls act on: alice's inquiry to 地域包括 about the client (``iid``), the standing 支援会議
    (``mid``, ``tests.meetings.convene``: さくら園 and 社協 invited, sue and bea their supervisors) with minutes giving
    社協 an action item about the client (``tid``)."""
    inquiry = services.inquiry_create(
        actor=cast.actor("alice"),
        client_id=cast.client.id,
        to=["houkatsu"],
        subject="通所の状況",
        body="教えてください。",
    )
    meeting = convene(cast)
    view = services.meeting_minutes_record(
        actor=cast.actor("sam"),
        meeting_id=meeting.id,
        summary="見守りの分担を決めた。",
        action_items=[{"agency": "shakyo", "client": _cid(cast), "task": "週1回の見守り"}],
    )
    (task,) = view.action_items
    return {"iid": str(inquiry.id), "mid": str(meeting.id), "tid": str(task.id)}


MEETING = {
    "title": "山田さんの支援会議",
    "held_on": "{today}",
    "clients": ["{cid}"],
    "attendees": ["shisetsu"],
    "share_level": "read",
    "share_days": 30,
}
MINUTES = {
    "summary": "見守りの分担を決めた。",
    "action_items": [{"agency": "shakyo", "client": "{cid}", "task": "見守り"}],
}
INQUIRY = {"to": ["houkatsu"], "subject": "通所の状況", "body": "最近の通所状況を教えてください。"}
REPLY = {"body": "週2回通所しています。"}


CALLS = [
    # (who, method, path, body, action, outcome, exposes the client)
    ("bob", "get", "/api/v1/clients/", None, "client.list", "allowed", True),
    ("bob", "get", "/api/v1/clients/?q=やまだ", None, "client.search", "allowed", True),
    ("bob", "get", "/api/v1/clients/{cid}/", None, "client.view", "allowed", True),
    ("bob", "get", "/api/v1/clients/{cid}/timeline/", None, "timeline.view", "allowed", True),
    ("bob", "get", "/api/v1/clients/{cid}/shares/", None, "share.list", "allowed", True),
    (
        "carol",
        "post",
        "/api/v1/clients/{cid}/timeline/",
        {"kind": "call", "body": "電話"},
        "timeline.append",
        "allowed",
        True,
    ),
    (
        "bob",
        "post",
        "/api/v1/clients/{cid}/timeline/",
        {"kind": "call", "body": "電話"},
        "timeline.append",
        "denied",
        False,
    ),
    ("charlie", "get", "/api/v1/clients/{cid}/", None, "client.view", "denied", False),
    ("sam", "patch", "/api/v1/clients/{cid}/", {"phone": "0256-11-2222"}, "client.update", "allowed", True),
    (
        "sam",
        "post",
        "/api/v1/clients/{cid}/shares/",
        {"agency": "shisetsu", "level": "read", "basis": "consent"},
        "share.grant",
        "allowed",
        True,
    ),
    (
        "alice",
        "post",
        "/api/v1/clients/",
        {"name": "佐藤 花子", "name_kana": "サトウ ハナコ", "birth_date": "1950-02-03"},
        "client.create",
        "allowed",
        None,
    ),
    ("penny", "get", "/api/v1/audit/events/", None, "audit.view", "allowed", False),
    ("bob", "get", "/api/v1/audit/events/", None, "audit.view", "denied", False),
    # PRODUCT §6.1: inquiries (照会), support meetings (支援会議) and their action items (役割分担).
    ("alice", "post", "/api/v1/clients/{cid}/inquiries/", INQUIRY, "inquiry.create", "allowed", True),
    ("bob", "post", "/api/v1/clients/{cid}/inquiries/", INQUIRY, "inquiry.create", "denied", False),  # read only
    ("alice", "get", "/api/v1/inquiries/?box=sent", None, "inquiry.list", "allowed", True),
    ("carol", "get", "/api/v1/inquiries/?box=received", None, "inquiry.list", "allowed", True),
    ("carol", "get", "/api/v1/inquiries/{iid}/", None, "inquiry.view", "allowed", True),
    ("bob", "get", "/api/v1/inquiries/{iid}/", None, "inquiry.view", "denied", False),  # not asked
    ("carol", "post", "/api/v1/inquiries/{iid}/replies/", REPLY, "inquiry.reply", "allowed", True),
    ("charlie", "post", "/api/v1/inquiries/{iid}/replies/", REPLY, "inquiry.reply", "denied", False),
    ("alice", "post", "/api/v1/inquiries/{iid}/close/", {}, "inquiry.close", "allowed", True),
    ("carol", "post", "/api/v1/inquiries/{iid}/close/", {}, "inquiry.close", "denied", False),  # not the sender
    ("sam", "post", "/api/v1/meetings/", MEETING, "meeting.create", "allowed", True),
    ("alice", "post", "/api/v1/meetings/", MEETING, "meeting.create", "denied", False),  # a caseworker
    ("sam", "get", "/api/v1/meetings/", None, "meeting.list", "allowed", True),
    ("sam", "get", "/api/v1/meetings/{mid}/", None, "meeting.view", "allowed", True),
    ("carol", "get", "/api/v1/meetings/{mid}/", None, "meeting.view", "denied", False),  # does not attend
    ("sue", "post", "/api/v1/meetings/{mid}/confirm/", {}, "meeting.confirm", "allowed", True),
    ("charlie", "post", "/api/v1/meetings/{mid}/confirm/", {}, "meeting.confirm", "denied", False),  # a caseworker
    ("sam", "post", "/api/v1/meetings/{mid}/minutes/", MINUTES, "meeting.minutes", "allowed", True),
    ("bob", "post", "/api/v1/meetings/{mid}/minutes/", MINUTES, "meeting.minutes", "denied", False),  # an attendee
    ("bob", "get", "/api/v1/tasks/", None, "task.list", "allowed", True),
    ("bob", "get", "/api/v1/tasks/?status=done", None, "task.list", "allowed", False),  # none done: none named
    ("bob", "post", "/api/v1/tasks/{tid}/done/", {}, "task.done", "allowed", True),
    ("alice", "post", "/api/v1/tasks/{tid}/done/", {}, "task.done", "denied", False),  # not the assigned agency
    ("bob", "get", "/api/v1/attachments/{aid}/", None, "attachment.download", "allowed", True),
    ("charlie", "get", "/api/v1/attachments/{aid}/", None, "attachment.download", "denied", False),
]
COLLABORATION = re.compile(r"/inquiries/|/meetings/|/tasks/")


def _attachment(cast) -> str:
    """A file on the cast's client (alice's), for the download rows."""
    import io

    from cases import services
    from cases.attachments import Incoming

    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    entry = services.timeline_append(
        actor=cast.actor("alice"),
        client_id=cast.client.id,
        kind="visit",
        body="同意書を受け取った。",
        files=[Incoming(name="同意書.pdf", file=io.BytesIO(pdf), size=len(pdf))],
    )
    return str(entry.attachments[0].id)


def _fill(value, ids: dict):
    """The row's path or body with the ids (and today's date) put in."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize(("who", "method", "path", "body", "action", "outcome", "exposes"), CALLS)
def test_each_api_call_writes_exactly_one_event(cast, api, keys, who, method, path, body, action, outcome, exposes):
    from django.utils import timezone

    ids = {"cid": _cid(cast), "today": timezone.localdate().isoformat()}
    if COLLABORATION.search(path):
        ids.update(_collaboration(cast))
    if "/attachments/" in path:
        ids["aid"] = _attachment(cast)
    for name, user in cast.users.items():  # the meeting's own staff (sue, bea)
        if name not in keys:
            keys[name] = issue_key(user)[1]
    before = last_seq()
    client = api(who)
    response = getattr(client, method)(_fill(path, ids), _fill(body, ids), format="json")
    assert response.status_code < 500
    assert (response.status_code < 400) == (outcome == "allowed"), response.content
    events = [e for e in events_since(before) if e.action == action]
    assert len(events) == 1, [(e.action, e.outcome) for e in events_since(before)]
    event = events[0]
    assert (event.outcome, event.channel, event.actor_username) == (outcome, "api", who)
    key = ApiKey.objects.filter(user__username=who).get()
    assert event.api_key_id == str(key.pk)
    if exposes is True:
        assert _cid(cast) in event.client_ids
    elif exposes is False:
        assert event.client_ids == []
    else:  # a new client: the one created
        assert event.client_ids == [response.json()["id"]]


def test_share_revoke_through_the_api_is_audited(cast, api):
    before = last_seq()
    response = api("sam").delete(f"/api/v1/clients/{_cid(cast)}/shares/{cast.shares['reader'].id}/")
    assert response.status_code == 200
    [event] = [e for e in events_since(before) if e.action == "share.revoke"]
    assert (event.outcome, event.channel, event.client_ids) == ("allowed", "api", [_cid(cast)])


def test_a_bad_key_is_audited_as_denied(cast, api):
    from rest_framework.test import APIClient

    before = last_seq()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer tsg_deadbeef_not-a-real-secret")
    assert client.get("/api/v1/clients/").status_code == 401
    [event] = events_since(before)
    assert (event.action, event.outcome, event.channel, event.reason) == ("auth.api_key", "denied", "api", "unknown")


def test_every_api_operation_has_its_row(api):
    """Each operation in the API's schema is one of the rows above (or audited by its own test below, or reads no
    case data), so that a new operation cannot ship without its audit event being checked."""
    schema = api("penny").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = {
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "patch", "put", "delete"}
    }
    rows = {(method, re.sub(r"\{[a-z]+\}", "{id}", path.split("?")[0])) for _w, method, path, *_ in CALLS}
    elsewhere = {
        ("delete", "/api/v1/clients/{id}/shares/{share_id}/"),  # test_share_revoke_through_the_api_is_audited
        ("get", "/api/v1/me/"),  # the caller's own profile: no case data
        ("get", "/api/v1/agencies/"),  # the agency directory: no case data
        ("get", "/api/v1/audit/seals/latest/"),  # the audit chain's seal: no case data
    }
    assert operations - elsewhere == rows, sorted(operations ^ (rows | elsewhere))
