"""Failed API authentication is throttled per client address, before any key is looked up, and its audit trail
grows by a bounded number of rows however long an attack lasts (while still recording that it happened)."""

import secrets

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent

from .helpers import assert_problem, events_since, last_seq


def _bogus() -> str:
    return f"Bearer tsg_{secrets.token_hex(4)}_{secrets.token_hex(16)}"


def _client(ip: str = "192.0.2.10", auth: str | None = None) -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    if auth:
        client.credentials(HTTP_AUTHORIZATION=auth)
    return client


@pytest.fixture
def rate(settings, monkeypatch):
    settings.API_AUTH_FAILURE_RATE = "5/min"
    # Windows are fixed on the clock: hold it 30 s into one, so that no test straddles two.
    monkeypatch.setattr("api.throttling._now", lambda: 1_800_000_030.0)
    return 5


def test_bogus_keys_from_one_address_are_throttled_with_retry_after(cast, rate):
    seq = last_seq()
    statuses = [_client(auth=_bogus()).get("/api/v1/me/").status_code for _ in range(rate)]
    assert statuses == [401] * rate
    response = _client(auth=_bogus()).get("/api/v1/me/")
    assert_problem(response, 429)
    assert response["Retry-After"] == "30"
    # Each failure under the limit is audited as before; the first refusal says the address is throttled.
    events = events_since(seq)
    assert [e.reason for e in events] == ["unknown"] * rate + ["throttled"]
    assert events[-1].action == "auth.api_key" and events[-1].outcome == "denied"
    assert events[-1].ip == "192.0.2.10"
    assert events[-1].details == {"failures": rate, "refused": 1, "window_seconds": 60}


def test_a_throttled_address_is_refused_before_the_key_is_even_looked_up(cast, rate, keys, django_assert_num_queries):
    for _ in range(rate):
        _client(auth=_bogus()).get("/api/v1/me/")
    _client(auth=_bogus()).get("/api/v1/me/")  # the first refusal is audited
    # A real key from the throttled address waits too: no query at all (no key lookup, no audit row).
    with django_assert_num_queries(0):
        response = _client(auth=f"Bearer {keys['alice']}").get("/api/v1/me/")
    assert_problem(response, 429)


def test_requests_without_credentials_count_too(cast, rate):
    for _ in range(rate):
        assert_problem(_client().get("/api/v1/me/"), 401)
    assert_problem(_client().get("/api/v1/me/"), 429)
    assert_problem(_client(auth=_bogus()).get("/api/v1/me/"), 429)


def test_other_addresses_and_valid_keys_are_not_affected(cast, rate, keys):
    for _ in range(rate + 3):
        _client(auth=_bogus()).get("/api/v1/me/")
    assert _client(ip="198.51.100.7", auth=f"Bearer {keys['alice']}").get("/api/v1/me/").status_code == 200
    assert_problem(_client(ip="198.51.100.7", auth=_bogus()).get("/api/v1/me/"), 401)
    # Successful requests do not count against the address.
    for _ in range(rate * 2):
        assert _client(ip="203.0.113.5", auth=f"Bearer {keys['bob']}").get("/api/v1/me/").status_code == 200


def test_audit_growth_is_bounded_during_a_long_attack(cast, rate, settings):
    """650 bogus keys: a handful of rows, the last of them saying how many were refused."""
    # The cache keeps a window's counts for one period of real time, and 650 requests may take longer than a
    # minute on a busy machine: an hour's window holds them all.
    settings.API_AUTH_FAILURE_RATE = f"{rate}/hour"
    seq = last_seq()
    statuses = [_client(auth=_bogus()).get("/api/v1/me/").status_code for _ in range(650)]
    assert statuses.count(401) == rate and statuses.count(429) == 650 - rate
    events = events_since(seq)
    assert all(e.action == "auth.api_key" and e.outcome == "denied" for e in events)
    throttled = [e.details["refused"] for e in events if e.reason == "throttled"]
    assert throttled == [1, 10, 100]  # one row at each power of ten of refusals in the window
    assert len(events) == rate + 3
    assert AuditEvent.objects.filter(reason="throttled", ip="192.0.2.10").exists()


def test_the_browser_session_is_not_throttled_by_the_address(cast, rate):
    for _ in range(rate + 1):
        _client(ip="127.0.0.1", auth=_bogus()).get("/api/v1/me/")
    from django.test import Client

    browser = Client()
    browser.force_login(cast.users["alice"])
    assert browser.get("/api/v1/me/").status_code == 200
