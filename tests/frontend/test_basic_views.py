"""The minimal browser UI: login, the visible-client list and the client page, all audited (channel web)."""

import re
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from agencies.mfa import mfa_required
from audit.models import AuditEvent
from tests.cast import PASSWORD
from tests.mfa import enrol, fresh_code


def login(client, username):
    """The real sign-in: the password, then (for those who need it) a code from their authenticator."""
    user = get_user_model().objects.get(username=username)
    if mfa_required(user):
        enrol(user)
    response = client.post(reverse("frontend:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    if mfa_required(user):
        response = client.post(response["Location"], {"code": fresh_code(user)})
        assert response.status_code == 302, response.content
    return response


def test_login_and_logout_are_audited(cast, client):
    login(client, "alice")
    client.post(reverse("frontend:logout"))
    actions = list(
        AuditEvent.objects.filter(action__startswith="auth.")
        .order_by("seq")
        .values_list("action", "outcome", "channel")
    )
    assert actions == [("auth.login", "allowed", "web"), ("auth.logout", "allowed", "web")]


def test_failed_login_is_audited_without_the_typed_username(cast, client):
    response = client.post(reverse("frontend:login"), {"username": "alice", "password": "wrong-password"})
    assert response.status_code == 200
    assert "ユーザー名またはパスワードが正しくありません" in response.content.decode()
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.outcome == "denied" and "alice" not in str(event.details)


def test_anonymous_is_sent_to_login(db, client):
    response = client.get(reverse("frontend:client_list"))
    assert response.status_code == 302 and reverse("frontend:login") in response["Location"]


@pytest.mark.parametrize(("who", "sees"), [("alice", True), ("bob", True), ("charlie", False), ("penny", False)])
def test_client_list_page(cast, client, who, sees):
    login(client, who)
    response = client.get(reverse("frontend:client_list"), {"scope": "all"}, follow=True)
    assert response.status_code == 200
    assert ("山田 太郎" in response.content.decode()) is sees
    event = AuditEvent.objects.filter(action="client.list").latest("seq")
    assert event.channel == "web" and event.ip == "127.0.0.1"
    assert event.client_ids == ([str(cast.client.id)] if sees else [])


def test_client_page_shows_profile_and_timeline(cast, client):
    login(client, "bob")
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    response = client.get(reverse("frontend:client_detail", args=[cast.client.id]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "山田 太郎" in body and "自宅を訪問" in body
    reads = AuditEvent.objects.filter(seq__gt=before, channel="web", outcome="allowed").exclude(client_ids=[])
    assert [(e.action, e.details["parts"]) for e in reads] == [("client.view", ["profile", "shares", "timeline"])]


def test_hidden_client_page_is_the_same_not_found_page_as_a_missing_one(cast, client):
    login(client, "charlie")
    hidden = client.get(reverse("frontend:client_detail", args=[cast.client.id]))
    missing = client.get(reverse("frontend:client_detail", args=[uuid.uuid4()]))
    garbage = client.get(reverse("frontend:client_detail", args=["not-a-client"]))
    assert hidden.status_code == missing.status_code == garbage.status_code == 404
    # Identical but for the per-render CSRF masks (the logout form, the htmx request header).
    pages = {re.sub(rb"[A-Za-z0-9]{64}", b"", r.content) for r in (hidden, missing, garbage)}
    assert len(pages) == 1
    assert AuditEvent.objects.filter(action="client.view", outcome="denied", actor_username="charlie").count() == 3


def test_request_id_is_echoed_and_recorded(cast, client):
    login(client, "alice")
    response = client.get(reverse("frontend:client_list"), HTTP_X_REQUEST_ID="req-12345")
    assert response["X-Request-ID"] == "req-12345"
    assert AuditEvent.objects.filter(action="client.list").latest("seq").request_id == "req-12345"
