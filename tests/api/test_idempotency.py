"""Idempotency-Key on POST /clients/ and POST /clients/{id}/timeline/."""

import threading
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from agencies.models import ApiKey
from api.idempotency import idempotency_purge
from api.models import IdempotencyRecord
from audit.models import AuditEvent

from .helpers import assert_problem, events_since, last_seq

ENTRY = {"kind": "call", "body": "電話で近況を確認。"}
CLIENT = {"name": "高橋 二郎", "name_kana": "たかはし じろう", "birth_date": "1955-03-03"}


def _entries(api, cast, who="alice") -> list[dict]:
    return api(who).get(f"/api/v1/clients/{cast.client.id}/timeline/?page_size=200").json()["results"]


def test_same_key_and_body_replays_the_first_response(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    before = len(_entries(api, cast))
    first = api("carol").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="visit-2026-11-23-001")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    seq = last_seq()
    again = api("carol").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="visit-2026-11-23-001")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # The replay exposed the entry again: audited as such, not as a second append.
    [event] = events_since(seq)
    assert (event.action, event.outcome, event.channel) == ("api.idempotent_replay", "allowed", "api")
    assert event.client_ids == [str(cast.client.id)]
    assert (event.target_type, event.target_id) == ("entry", first.json()["id"])
    assert len(_entries(api, cast)) == before + 1


def test_same_key_with_a_different_body_is_a_conflict(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    assert api("alice").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    assert_problem(api("alice").post(url, {**ENTRY, "body": "別の内容"}, HTTP_IDEMPOTENCY_KEY="k-1"), 409)
    # Same body on another endpoint is another request too.
    assert_problem(api("alice").post("/api/v1/clients/", CLIENT, HTTP_IDEMPOTENCY_KEY="k-1"), 409)


def test_keys_are_scoped_per_user(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    before = len(_entries(api, cast))
    a = api("alice").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="shared-key")
    c = api("carol").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="shared-key")
    assert a.status_code == c.status_code == 201
    assert a.json()["id"] != c.json()["id"]
    assert len(_entries(api, cast)) == before + 2


def test_keys_belong_to_the_user_not_the_key(cast, api):
    from .conftest import issue_key

    _, second_key = issue_key(cast.users["alice"])
    first = api("alice").post("/api/v1/clients/", CLIENT, HTTP_IDEMPOTENCY_KEY="register-1")
    other = api(None)
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {second_key}")
    again = other.post("/api/v1/clients/", CLIENT, HTTP_IDEMPOTENCY_KEY="register-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]


def test_client_create_is_idempotent(cast, api):
    first = api("alice").post("/api/v1/clients/", CLIENT, HTTP_IDEMPOTENCY_KEY="new-client")
    again = api("alice").post("/api/v1/clients/", CLIENT, HTTP_IDEMPOTENCY_KEY="new-client")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    names = [c["name"] for c in api("alice").get("/api/v1/clients/?q=高橋").json()["results"]]
    assert names == ["高橋 二郎"]


def test_a_refused_request_does_not_consume_the_key(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    seq = last_seq()
    assert_problem(api("bob").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="retry-me"), 403)
    # The refusal is still audited (committed), and no key row is left behind.
    assert [(e.action, e.outcome) for e in events_since(seq)] == [("timeline.append", "denied")]
    assert not IdempotencyRecord.objects.filter(key="retry-me").exists()
    assert_problem(api("alice").post(url, {"kind": "visit"}, HTTP_IDEMPOTENCY_KEY="retry-me"), 400)
    assert api("alice").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="retry-me").status_code == 201


def test_hidden_client_with_a_key_is_still_not_found(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    assert_problem(api("charlie").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="probe"), 404)
    assert_problem(api("charlie").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="probe"), 404)
    assert AuditEvent.objects.filter(action="timeline.append", outcome="denied", actor_username="charlie").count() == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "日本語"])
def test_malformed_keys_are_bad_input(cast, api, key):
    response = api("alice").post(f"/api/v1/clients/{cast.client.id}/timeline/", ENTRY, HTTP_IDEMPOTENCY_KEY=key)
    assert "Idempotency-Key" in assert_problem(response, 400)["errors"]


def test_keys_are_kept_at_least_a_day_then_purged(cast, api, settings):
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    first = api("alice").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="daily")
    IdempotencyRecord.objects.filter(key="daily").update(created_at=timezone.now() - timedelta(hours=23))
    assert idempotency_purge() == 0
    assert api("alice").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="daily").json()["id"] == first.json()["id"]
    IdempotencyRecord.objects.filter(key="daily").update(created_at=timezone.now() - timedelta(hours=25))
    # Past retention the key is free again, even before the purge runs.
    fresh = api("alice").post(url, ENTRY, HTTP_IDEMPOTENCY_KEY="daily")
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
    IdempotencyRecord.objects.filter(key="daily").update(created_at=timezone.now() - timedelta(hours=25))
    call_command("purge_idempotency_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not IdempotencyRecord.objects.filter(key="daily").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_one_entry(live_server):
    """20 simultaneous POSTs with one key against a live server: one entry, one response id, no errors."""
    from tests.cast import build_cast

    from .conftest import issue_key

    cast = build_cast()
    _, raw = issue_key(cast.users["carol"])
    url = f"{live_server.url}/api/v1/clients/{cast.client.id}/timeline/"
    headers = {"Authorization": f"Bearer {raw}", "Idempotency-Key": "burst-0001"}
    body = {"kind": "visit", "body": "同時送信のテスト。"}
    barrier = threading.Barrier(20)
    results: list = []

    def post():
        barrier.wait()
        with requests.Session() as session:
            response = session.post(url, json=body, headers=headers, timeout=60)
        results.append((response.status_code, response.json(), response.headers.get("Idempotent-Replayed")))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 20
    assert {status for status, _, _ in results} == {201}, results
    assert len({data["id"] for _, data, _ in results}) == 1
    assert sorted(replayed or "" for _, _, replayed in results) == [""] + ["true"] * 19
    from cases.models import TimelineEntry

    assert TimelineEntry.objects.filter(client_id=cast.client.id, body=body["body"]).count() == 1
    assert AuditEvent.objects.filter(action="timeline.append", outcome="allowed", actor_username="carol").count() == 1
    assert AuditEvent.objects.filter(action="api.idempotent_replay").count() == 19
    assert IdempotencyRecord.objects.count() == 1
    assert ApiKey.objects.get(user=cast.users["carol"]).last_used_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_gives_up_with_409_while_the_first_request_still_runs(live_server, settings):
    """The first request holds the key (uncommitted); a retry waits API_IDEMPOTENCY_WAIT_SECONDS, then 409."""
    from django.db import transaction

    from tests.cast import build_cast

    from .conftest import issue_key

    settings.API_IDEMPOTENCY_WAIT_SECONDS = 1
    cast = build_cast()
    _, raw = issue_key(cast.users["carol"])
    url = f"{live_server.url}/api/v1/clients/{cast.client.id}/timeline/"
    headers = {"Authorization": f"Bearer {raw}", "Idempotency-Key": "slow-one"}
    with transaction.atomic():
        IdempotencyRecord.objects.create(user=cast.users["carol"], key="slow-one", fingerprint="in-flight")
        response = requests.post(url, json=ENTRY, headers=headers, timeout=30)
        transaction.set_rollback(True)  # the "first request" fails: the key is free again
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "処理中" in response.json()["detail"]
    retried = requests.post(url, json=ENTRY, headers=headers, timeout=30)
    assert retried.status_code == 201
