"""Key scopes: a read-only key reads like its user and every write it attempts is refused (403), audited and changes
nothing; a full key writes. Keys issued before scopes existed get both scopes."""

import importlib

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from agencies.models import ApiKey
from audit.models import AuditEvent, Outcome
from cases.models import TimelineEntry

from .conftest import issue_key
from .helpers import PROBLEM


def _client(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client


@pytest.fixture
def read_only(cast):
    key, plain = issue_key(cast.users["alice"], read_only=True)
    return key, _client(plain)


def test_a_read_only_key_reads(cast, read_only):
    key, client = read_only
    assert key.scopes == ["read"]
    assert client.get(f"/api/v1/clients/{cast.client.id}/timeline/").status_code == 200
    assert client.get("/api/v1/clients/").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/clients/{id}/timeline/", {"kind": "note", "body": "閲覧専用キーからの追記"}),
        ("patch", "/api/v1/clients/{id}/", {"phone": "0256-00-0000"}),
        (
            "post",
            "/api/v1/clients/",
            {"name": "三条 花子", "name_kana": "サンジョウ ハナコ", "birth_date": "1950-01-01"},
        ),
        ("post", "/api/v1/clients/{id}/shares/", {"agency": "x", "level": "read", "basis": "consent"}),
    ],
)
def test_a_read_only_key_cannot_write_and_the_refusal_is_audited(cast, read_only, method, path, body):
    key, client = read_only
    entries = TimelineEntry.objects.count()
    response = getattr(client, method)(path.format(id=cast.client.id), body, format="json")
    assert response.status_code == 403
    assert response["Content-Type"].startswith(PROBLEM)
    assert "閲覧専用" in response.json()["detail"]
    assert TimelineEntry.objects.count() == entries
    denied = AuditEvent.objects.filter(outcome=Outcome.DENIED, action="auth.api_key", reason="read_only_key")
    assert denied.count() == 1
    event = denied.get()
    assert (event.target_type, event.target_id, event.actor_username) == ("apikey", str(key.pk), "alice")
    assert event.details["method"] == method.upper()


def test_a_full_key_writes(cast):
    key, plain = issue_key(cast.users["alice"])
    assert key.scopes == ["read", "write"]
    response = _client(plain).post(
        f"/api/v1/clients/{cast.client.id}/timeline/", {"kind": "note", "body": "追記"}, format="json"
    )
    assert response.status_code == 201


def test_issue_api_key_command_issues_a_read_only_key(cast, capsys):
    call_command("issue_api_key", "ivan", "--name", "集計システム", "--read-only")
    out = capsys.readouterr().out
    assert "閲覧専用" in out
    assert ApiKey.objects.get(user=cast.users["ivan"], name="集計システム").scopes == ["read"]


def test_keys_issued_before_scopes_get_both(cast):
    key, _plain = issue_key(cast.users["alice"])
    ApiKey.objects.filter(pk=key.pk).update(scopes=[])
    migration = importlib.import_module("agencies.migrations.0004_apikey_scopes")
    from django.apps import apps

    migration.full_scopes_for_existing_keys(apps, None)
    key.refresh_from_db()
    assert key.allows_writes


def test_a_read_only_keys_refused_writes_count_against_its_rate(cast, read_only, settings):
    """Refused writes are throttled like any request: past the rate they get 429 and leave no more audit rows."""
    settings.API_THROTTLE_RATE = "3/min"
    _key, client = read_only
    statuses = [
        client.post(f"/api/v1/clients/{cast.client.id}/timeline/", {"kind": "note", "body": "x"}, format="json")
        for _ in range(6)
    ]
    assert [r.status_code for r in statuses[:3]] == [403] * 3
    assert [r.status_code for r in statuses[3:]] == [429] * 3
    assert AuditEvent.objects.filter(reason="read_only_key").count() == 3


def test_every_api_view_checks_the_key_scope():
    """Each route of the API is served by an ``ApiView`` (or is read-only: the schema and its docs)."""
    from django.urls import get_resolver

    from api.permissions import ApiView

    def callbacks(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from callbacks(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    api_routes = [(route, cb) for route, cb in callbacks(get_resolver().url_patterns) if route.startswith("api/v1/")]
    assert api_routes
    for route, callback in api_routes:
        view_class = getattr(callback, "cls", None)
        assert view_class is not None and issubclass(view_class, ApiView), route
