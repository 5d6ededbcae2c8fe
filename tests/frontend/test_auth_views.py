"""Signing in: throttled and audited failures, the idle timeout and its message, logout."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from frontend.auth import LAST_SEEN_KEY, MARKER_COOKIE
from tests.cast import PASSWORD
from tests.frontend.conftest import text


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.LOGIN_ACCOUNT_FREE_FAILURES = 2


WRONG = "wrong-password"


def attempt(client, username="alice", password=WRONG):
    return client.post(reverse("frontend:login"), {"username": username, "password": password})


def test_repeated_failures_slow_the_login_down_and_every_refusal_is_audited(cast):
    client = Client()
    assert attempt(client).status_code == 200
    assert attempt(client).status_code == 200
    delayed = attempt(client)
    assert delayed.status_code == 429 and delayed["Retry-After"]
    assert "ログインを一時的に停止しています。" in text(delayed) and "1分後" in text(delayed)
    # While delayed, even the right password is refused, before it is checked.
    again = attempt(client, password=PASSWORD)
    assert again.status_code == 429 and "_auth_user_id" not in client.session
    refusals = AuditEvent.objects.filter(action="auth.login_failed", reason="throttled_account")
    assert refusals.count() == 2
    assert all(e.outcome == "denied" and e.channel == "web" and "alice" not in str(e.details) for e in refusals)
    assert refusals[0].details["username_hash"]
    assert AuditEvent.objects.filter(action="auth.login", actor_username="alice").count() == 0


def test_a_delayed_account_does_not_hold_back_a_colleague_at_the_same_address(cast):
    client = Client()
    for _ in range(3):
        attempt(client, username="alice")
    assert attempt(client, username="bob", password=PASSWORD).status_code == 302  # bob is not slowed down


def test_a_success_resets_the_failure_count(cast, settings):
    settings.LOGIN_ACCOUNT_FREE_FAILURES = 3
    client = Client()
    attempt(client)
    attempt(client)
    assert attempt(client, password=PASSWORD).status_code == 302
    client.post(reverse("frontend:logout"))
    attempt(client)
    attempt(client)
    assert attempt(client, password=PASSWORD).status_code == 302


def test_login_page_in_japanese_with_labels(db, client):
    body = text(client.get(reverse("frontend:login")))
    assert (
        '<label for="id_username">ユーザー名</label>' in body and '<label for="id_password">パスワード</label>' in body
    )
    assert "セッションの有効期限" not in body


def test_a_timed_out_session_says_so_on_the_login_page(cast):
    client = Client()
    assert attempt(client, password=PASSWORD).status_code == 302
    assert client.cookies[MARKER_COOKIE].value == "1"
    client.session.flush()  # what the server forgets when the session expires
    client.cookies.pop("sessionid")
    redirect = client.get(reverse("frontend:client_list"))
    assert redirect.status_code == 302
    login_page = client.get(redirect["Location"])
    assert "セッションの有効期限が切れました。" in text(login_page)
    # Said once: the marker is gone afterwards.
    assert "セッションの有効期限" not in text(client.get(reverse("frontend:login")))


def test_logging_out_is_not_reported_as_a_timeout(cast):
    client = Client()
    attempt(client, password=PASSWORD)
    client.post(reverse("frontend:logout"))
    assert "セッションの有効期限" not in text(client.get(reverse("frontend:login")))


def test_background_polls_do_not_keep_an_idle_session_alive(cast, settings):
    client = Client()
    attempt(client, password=PASSWORD)
    poll = reverse("frontend:timeline_poll", args=[cast.client.id])
    assert client.get(poll, HTTP_HX_REQUEST="true").status_code == 204
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.SESSION_COOKIE_AGE - 5
    session.save()
    response = client.get(
        poll, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver/clients/{cast.client.id}/"
    )
    assert response.status_code == 200 and response["HX-Redirect"].startswith("/login/?next=/clients/")
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.logout", actor_username="alice").count() == 1
    assert "セッションの有効期限が切れました。" in text(client.get(response["HX-Redirect"]))


def test_page_views_count_as_activity_and_polls_do_not(cast):
    client = Client()
    attempt(client, password=PASSWORD)
    session = client.session
    session[LAST_SEEN_KEY] = 1000
    session.save()
    # Within the limit a page view refreshes the last activity; a poll leaves it alone.
    a_minute_ago = int(time.time()) - 60
    session[LAST_SEEN_KEY] = a_minute_ago
    session.save()
    client.get(reverse("frontend:timeline_poll", args=[cast.client.id]), HTTP_HX_REQUEST="true")
    assert client.session[LAST_SEEN_KEY] == a_minute_ago
    before_the_page = int(time.time())  # however long the request takes, it stamps a time at or after this
    client.get(reverse("frontend:client_list"))
    assert client.session[LAST_SEEN_KEY] >= before_the_page


def test_anonymous_htmx_requests_are_sent_to_login_as_a_whole_page(cast, client):
    response = client.get(reverse("frontend:timeline", args=[cast.client.id]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"].startswith("/login/")


def test_authenticate_without_a_request_is_not_throttled(cast):
    from django.contrib.auth import authenticate

    assert authenticate(username="alice", password=PASSWORD) == cast.users["alice"]


def _autofocused(body: str) -> list[str]:
    import re

    return [tag for tag in re.findall(r"<input [^>]*>", body) if re.search(r"\sautofocus[\s>]", tag)]


def test_after_a_wrong_password_the_cursor_is_in_the_password_field(cast):
    body = text(attempt(Client()))
    assert "ユーザー名またはパスワードが正しくありません。" in body
    focused = _autofocused(body)
    assert len(focused) == 1 and 'id="id_password"' in focused[0]
    assert 'value="alice"' in body  # the user name is kept, so only the password is typed again


def test_the_login_page_starts_in_the_user_name_field(cast):
    for body in (text(Client().get(reverse("frontend:login"))), text(attempt(Client(), username=""))):
        focused = _autofocused(body)
        assert len(focused) == 1 and 'id="id_username"' in focused[0]
