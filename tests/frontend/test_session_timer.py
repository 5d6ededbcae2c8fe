"""What the page's idle timer learns from the server, the keep-alive behind 「ログインを続ける」, and the hooks that let
the browser keep and drop drafts (the browser side is in test_browser_session.py)."""

import json
import re
import time

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from frontend.auth import IDLE_HEADER, LAST_SEEN_KEY, draft_owner_key
from tests.cast import PASSWORD
from tests.frontend.conftest import text

KEEPALIVE = "frontend:session_keepalive"


def signed_in(username="alice", **kwargs) -> Client:
    client = Client(**kwargs)
    response = client.post(reverse("frontend:login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def idle_for(client: Client, seconds: int) -> None:
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - seconds
    session.save()


def timer_of(body: str) -> dict:
    tag = re.search(r'<div id="session-timer"[^>]*>', body)
    assert tag, "no session timer on the page"
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', tag.group(0)))


def test_every_signed_in_page_tells_its_timer_the_limit_the_warning_and_the_time_left(cast, settings):
    settings.SESSION_WARNING_SECONDS = 240
    client = signed_in()
    response = client.get(reverse("frontend:client_detail", args=[cast.client.id]))
    timer = timer_of(text(response))
    assert (timer["idle-limit"], timer["idle-warning"]) == (str(settings.SESSION_COOKIE_AGE), "240")
    assert timer["idle-remaining"] == str(settings.SESSION_COOKIE_AGE)  # a page view is activity: all of it is left
    assert timer["keepalive-url"] == reverse(KEEPALIVE) and timer["login-url"] == reverse("frontend:login")
    assert response[IDLE_HEADER] == str(settings.SESSION_COOKIE_AGE)
    # The drafts' owner tag: stable for the user, different for another, and not the user's id or name.
    owner = timer["draft-owner"]
    assert owner == draft_owner_key(cast.users["alice"]) != draft_owner_key(cast.users["bob"])
    assert owner not in (str(cast.users["alice"].pk), "alice") and re.fullmatch(r"[0-9a-f]{20}", owner)


def test_a_signed_out_page_has_no_timer(cast):
    assert 'id="session-timer"' not in text(Client().get(reverse("frontend:login")))


def test_a_poll_reports_the_time_left_without_resetting_it(cast, settings):
    client = signed_in()
    idle_for(client, 600)
    poll = client.get(reverse("frontend:timeline_poll", args=[cast.client.id]), HTTP_HX_REQUEST="true")
    assert poll.status_code == 204
    left = int(poll[IDLE_HEADER])
    assert settings.SESSION_COOKIE_AGE - 605 <= left <= settings.SESSION_COOKIE_AGE - 600


def test_the_keepalive_counts_as_activity_and_reads_nothing(cast, settings):
    client = signed_in()
    idle_for(client, settings.SESSION_COOKIE_AGE - 60)
    events = AuditEvent.objects.count()
    response = client.post(reverse(KEEPALIVE))
    assert response.status_code == 204 and response.content == b""
    assert response[IDLE_HEADER] == str(settings.SESSION_COOKIE_AGE)
    assert client.session[LAST_SEEN_KEY] >= int(time.time()) - 1
    assert AuditEvent.objects.count() == events  # no case data touched: nothing to audit


def test_the_keepalive_is_a_post_with_the_csrf_token(cast):
    client = Client(enforce_csrf_checks=True)
    client.cookies = signed_in().cookies
    assert client.get(reverse("frontend:client_list")).status_code == 200  # the page sets the CSRF cookie
    assert client.get(reverse(KEEPALIVE)).status_code == 405
    assert client.post(reverse(KEEPALIVE)).status_code == 403
    token = client.cookies["csrftoken"].value
    assert client.post(reverse(KEEPALIVE), HTTP_X_CSRFTOKEN=token).status_code == 204


def test_the_keepalive_cannot_revive_an_expired_session(cast, settings):
    client = signed_in()
    idle_for(client, settings.SESSION_COOKIE_AGE + 5)
    response = client.post(reverse(KEEPALIVE))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.logout", actor_username="alice").count() == 1
    assert Client().post(reverse(KEEPALIVE)).status_code == 302  # nobody signed in


def test_the_login_page_ends_an_expired_session_instead_of_sending_it_back(cast, settings):
    """The page's timer sends the window to the login page when the time is up; a session that is past the limit
    ends there (and the page says why) rather than being let through to where it came from."""
    client = signed_in()
    idle_for(client, settings.SESSION_COOKIE_AGE + 5)
    back = f"/clients/{cast.client.id}/"
    response = client.get(reverse("frontend:login"), {"next": back})
    assert response.status_code == 200 and "セッションの有効期限が切れました。" in text(response)
    assert f'name="next" value="{back}"' in text(response)
    assert "_auth_user_id" not in client.session
    # Within the limit a signed-in user is still sent on.
    fresh = signed_in()
    assert fresh.get(reverse("frontend:login"), {"next": back})["Location"] == back


def _append(client, cast, **data):
    url = reverse("frontend:entry_append", args=[cast.client.id])
    payload = {"kind": "call", "occurred_at": "2026-11-01T10:30", "body": "電話で近況を確認した。", **data}
    return client.post(url, payload, HTTP_HX_REQUEST="true")


@pytest.mark.parametrize("correcting", [False, True])
def test_a_stored_entry_tells_the_page_which_draft_to_drop(cast, correcting):
    client = signed_in("alice")
    corrects = str(cast.entry.id) if correcting else ""
    response = _append(client, cast, corrects=corrects)
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {
        "tsunagu:entry-saved": {"client": str(cast.client.id), "corrects": corrects}
    }


def test_a_refused_entry_keeps_the_draft(cast):
    response = _append(signed_in("alice"), cast, body="   ")
    assert response.status_code == 422 and "HX-Trigger" not in response


def test_the_entry_form_is_marked_for_drafts(cast):
    body = text(signed_in("alice").get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert re.search(rf'<form class="entry-form"[^>]*data-draft="{cast.client.id}"', body)
