"""PRODUCT §6, the audit endpoints: privacy officers only (others 403, audited; no key 401), fields, filters,
pagination, bad input, the seal status."""

import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent, AuditExposure
from audit.verification import verify_and_record
from tests.audit.conftest import seal_all, sealing_db

from .helpers import EVERYONE, assert_problem, events_since, last_seq

EVENTS = "/api/v1/audit/events/"
SEALS = "/api/v1/audit/seals/latest/"
EVENT_FIELDS = {
    "seq",
    "id",
    "occurred_at",
    "actor",
    "channel",
    "action",
    "outcome",
    "client_ids",
    "target",
    "request_id",
    "ip",
}
NOT_OFFICERS = [who for who in EVERYONE if who != "penny"]


@pytest.mark.parametrize("path", [EVENTS, SEALS])
def test_no_key_is_401(cast, api, path):
    assert_problem(api(None).get(path), 401)


@pytest.mark.parametrize("path", [EVENTS, SEALS])
@pytest.mark.parametrize("who", NOT_OFFICERS)
def test_others_get_403_and_the_attempt_is_audited(cast, api, path, who):
    seq = last_seq()
    assert_problem(api(who).get(path), 403)
    (denied,) = events_since(seq)
    assert (denied.actor_username, denied.action, denied.outcome) == (who, "audit.view", "denied")
    assert (denied.reason, denied.channel) == ("not_privacy_officer", "api")


def test_events_fields_and_order(cast, api):
    assert api("bob").get("/api/v1/clients/").status_code == 200  # a list: exposures, no target
    seq = last_seq()
    body = api("penny").get(EVENTS, {"page_size": 200}).json()
    assert set(body) == {"next", "previous", "results"}
    results = body["results"]
    assert [e["seq"] for e in results] == sorted((e["seq"] for e in results), reverse=True)
    assert all(set(e) == EVENT_FIELDS for e in results)
    created = next(e for e in results if e["action"] == "client.create")
    event = AuditEvent.objects.get(seq=created["seq"])
    assert created["id"] == str(event.uuid)
    assert created["actor"] == {"username": "alice", "agency": "fukushi"}
    assert created["target"] == {"type": "client", "id": str(cast.client.id)}
    assert created["client_ids"] == [str(cast.client.id)]
    assert created["channel"] == "web" and created["outcome"] == "allowed"
    assert datetime.fromisoformat(created["occurred_at"]) == event.occurred_at
    assert created["request_id"] == event.request_id and created["ip"] is None
    no_target = next(e for e in results if not AuditEvent.objects.get(seq=e["seq"]).target_type)
    assert no_target["target"] is None
    (audited,) = events_since(seq)
    assert (audited.actor_username, audited.action, audited.channel) == ("penny", "audit.view", "api")
    assert audited.details == {"filters": {}, "count": len(results)}


def test_events_by_client_include_list_exposures_and_denials(cast, api):
    cid = str(cast.client.id)
    assert api("bob").get("/api/v1/clients/").status_code == 200
    assert api("charlie").get(f"/api/v1/clients/{cid}/").status_code == 404
    results, url = [], f"{EVENTS}?client={cid}&page_size=2"
    while url:
        page = api("penny").get(url).json()
        assert len(page["results"]) <= 2
        results += page["results"]
        url = page["next"]
    expected = list(
        AuditEvent.objects.filter(seq__in=AuditExposure.objects.filter(client_id=cid).values("event_id"))
        .filter(seq__lt=results[0]["seq"] + 1)
        .order_by("-seq")
        .values_list("seq", flat=True)
    )
    assert [e["seq"] for e in results] == expected
    assert any(e["action"] == "client.list" and e["actor"]["username"] == "bob" for e in results)
    assert any(e["outcome"] == "denied" and e["actor"]["username"] == "charlie" for e in results)


def test_events_filters(cast, api):
    penny = api("penny")
    assert api("bob").get(f"/api/v1/clients/{cast.client.id}/").status_code == 200
    by_actor = penny.get(EVENTS, {"actor": "bob", "agency": "shakyo", "channel": "api"}).json()["results"]
    assert [e["action"] for e in by_actor] == ["client.view"]
    shares = penny.get(EVENTS, {"action": "share.", "page_size": 200}).json()["results"]
    assert shares and all(e["action"].startswith("share.") for e in shares)
    denied = penny.get(EVENTS, {"outcome": "denied", "page_size": 200}).json()["results"]
    assert all(e["outcome"] == "denied" for e in denied)
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert penny.get(EVENTS, {"since": future}).json()["results"] == []
    past = (timezone.now() - timedelta(days=1)).isoformat()
    assert penny.get(EVENTS, {"until": past}).json()["results"] == []


@pytest.mark.parametrize(
    "query,field",
    [
        ({"client": "not-a-uuid"}, "client"),
        ({"since": "2026-11-23T09:00:00"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"since": "2026-11-23T09:00:00+09:00", "until": "2026-11-23T08:00:00+09:00"}, "until"),
        ({"outcome": "maybe"}, "outcome"),
        ({"channel": "fax"}, "channel"),
        ({"page_size": "0"}, "page_size"),
        ({"cursor": "garbage"}, "cursor"),
    ],
)
def test_events_bad_input_is_400(cast, api, query, field):
    body = assert_problem(api("penny").get(EVENTS, query), 400)
    assert field in body["errors"]


@sealing_db
def test_seals_latest(cast, api):
    assert api("penny").get(SEALS).json() == {"seal": None, "verification": None}
    seal_all()
    verify_and_record()
    seq = last_seq()
    body = api("penny").get(SEALS).json()
    assert set(body["seal"]) == {"id", "first_seq", "last_seq", "count", "seal_hash", "prev_hash", "created_at"}
    assert body["seal"]["last_seq"] >= body["seal"]["first_seq"] and len(body["seal"]["seal_hash"]) == 64
    verification = body["verification"]
    assert set(verification) == {
        "ran_at",
        "ok",
        "kind",
        "first_bad_seq",
        "message",
        "seals_checked",
        "events_checked",
    }
    assert verification["ok"] is True and verification["kind"] == "ok" and verification["first_bad_seq"] is None
    (audited,) = events_since(seq)
    assert (audited.action, audited.actor_username, audited.details) == (
        "audit.view",
        "penny",
        {"purpose": "seal_status"},
    )


def test_schema_documents_the_audit_endpoints(cast, api):
    schema = api("penny").get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path, operation in (("/api/v1/audit/events/", "audit_events_list"), ("/api/v1/audit/seals/latest/", None)):
        get = schema["paths"][path]["get"]
        assert {"200", "401", "403", "429"} <= set(get["responses"])
        if operation:
            assert get["operationId"] == operation and "400" in get["responses"]
            names = {p["name"] for p in get["parameters"]}
            assert {"client", "actor", "agency", "action", "outcome", "channel", "since", "until"} <= names
            assert {"cursor", "page_size"} <= names


def test_unknown_audit_path_is_a_problem_404(cast, api):
    assert_problem(api("penny").get(f"/api/v1/audit/events/{uuid.uuid4()}/"), 404)
