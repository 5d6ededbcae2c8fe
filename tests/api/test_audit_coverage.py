"""Every API call leaves exactly one audit event of the right action, outcome and channel (``api``), carrying the
key's id and the client ids it exposed — the API channel's row of the audit coverage table."""

import pytest

from agencies.models import ApiKey
from tests.api.helpers import events_since, last_seq


def _cid(cast):
    return str(cast.client.id)


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
]


@pytest.mark.parametrize(("who", "method", "path", "body", "action", "outcome", "exposes"), CALLS)
def test_each_api_call_writes_exactly_one_event(cast, api, who, method, path, body, action, outcome, exposes):
    before = last_seq()
    client = api(who)
    response = getattr(client, method)(path.format(cid=_cid(cast)), body, format="json")
    assert response.status_code < 500
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
