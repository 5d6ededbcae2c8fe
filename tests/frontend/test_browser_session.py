"""The idle timeout seen from the page, and drafts of the entry form that survive it (Chromium, Japanese).

Nothing waits in real time: the browser's clock is driven with Playwright's clock API, and the server's side of the
timeout is moved by setting the session's last activity back (what thirty idle minutes would have left behind).
"""

import re
from importlib import import_module
from urllib.parse import unquote, unquote_plus

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from frontend.auth import LAST_SEEN_KEY
from tests.cast import PASSWORD
from tests.frontend.conftest import both_viewports, shot, viewport_name

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DRAFT = "下書き: 自宅訪問。本人は腰痛を訴え、通院の付き添いを希望。長女へ連絡予定。"
DRAFTS_IN_STORAGE = (
    "Object.keys(localStorage).filter(k => k.startsWith('tsunagu.draft.')).map(k => [k, localStorage.getItem(k)])"
)


def _session(page):
    cookie = next(c for c in page.context.cookies() if c["name"] == django_settings.SESSION_COOKIE_NAME)
    return import_module(django_settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])


def idle_on_the_server(page, seconds: int) -> None:
    """As if the user's last request had been ``seconds`` earlier."""
    session = _session(page)
    session[LAST_SEEN_KEY] -= seconds
    session.save()


def seconds_since_last_activity(page) -> int:
    import time

    return int(time.time()) - _session(page)[LAST_SEEN_KEY]


def sign_in(page, username: str) -> None:
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()


def carries(request, text: str) -> bool:
    """Whether a request sent ``text`` anywhere: in its URL or its body, however encoded."""
    body = request.post_data or ""
    return any(text in part for part in (unquote(request.url), body, unquote_plus(body)))


@both_viewports
def test_a_draft_survives_the_timeout_and_the_sign_in_and_goes_once_saved(cast, open_as, live_server, viewport):
    page = open_as("alice")
    requests = []
    page.on("request", lambda request: requests.append(request))
    page.clock.install()
    client_url = f"{live_server.url}/clients/{cast.client.id}/"
    page.goto(client_url)
    form = page.locator("#entry-form-wrap")
    form.get_by_label("種類").select_option("visit")
    form.get_by_label("内容").fill(DRAFT)
    (key, stored), *others = page.evaluate(DRAFTS_IN_STORAGE)
    assert others == [] and DRAFT in stored and key.endswith(f".{cast.client.id}.new")

    # Thirty minutes of typing without a request: the page sends the window to the login page, with the way back.
    idle_on_the_server(page, django_settings.SESSION_COOKIE_AGE + 5)
    page.clock.fast_forward((django_settings.SESSION_COOKIE_AGE + 5) * 1000)
    expect(page).to_have_url(re.compile(rf"/login/\?next=/clients/{cast.client.id}/$"))
    expect(page.get_by_text("セッションの有効期限が切れました。")).to_be_visible()
    sign_in(page, "alice")

    expect(page).to_have_url(client_url)
    note = form.get_by_role("status").filter(has_text="保存されていない下書きを復元しました")
    expect(note).to_be_visible()
    expect(form.get_by_label("内容")).to_have_value(DRAFT)
    expect(form.get_by_label("種類")).to_have_value("visit")
    shot(page, f"draft-restored-{viewport_name(page)}")
    assert not any(carries(r, DRAFT) for r in requests)  # nothing of the draft left the browser before submitting

    form.get_by_role("button", name="記録する").click()
    # An upper bound, not a wait: the append, the audited timeline read and the page check by axe on a busy machine.
    expect(page.locator("#timeline .entry-new")).to_contain_text(DRAFT, timeout=20_000)
    sent = [r for r in requests if carries(r, DRAFT)]
    assert [(r.method, r.url) for r in sent] == [("POST", f"{client_url}entries/")]  # the submit, once
    assert page.evaluate(DRAFTS_IN_STORAGE) == []
    page.reload()
    expect(page.locator("#timeline")).to_contain_text(DRAFT)
    expect(form.get_by_label("内容")).to_have_value("")
    expect(page.get_by_text("保存されていない下書きを復元しました")).to_have_count(0)


def test_a_discarded_draft_is_gone_and_the_form_is_as_rendered(cast, open_as, live_server):
    page = open_as("alice")
    client_url = f"{live_server.url}/clients/{cast.client.id}/"
    page.goto(client_url)
    form = page.locator("#entry-form-wrap")
    form.get_by_label("内容").fill(DRAFT)
    page.reload()  # a draft is restored on any visit, not only after a timeout
    expect(form.get_by_label("内容")).to_have_value(DRAFT)
    form.get_by_role("button", name="下書きを破棄").click()
    expect(form.get_by_label("内容")).to_have_value("")
    expect(form.get_by_label("内容")).to_be_focused()
    expect(page.get_by_text("保存されていない下書きを復元しました")).to_have_count(0)
    assert page.evaluate(DRAFTS_IN_STORAGE) == []


def test_the_next_user_of_a_shared_computer_never_sees_the_previous_users_draft(cast, open_as, live_server):
    page = open_as("carol")  # carol's agency may append to the client, like alice's
    page.clock.install()
    client_url = f"{live_server.url}/clients/{cast.client.id}/"
    page.goto(client_url)
    page.locator("#entry-form-wrap").get_by_label("内容").fill(DRAFT)
    idle_on_the_server(page, django_settings.SESSION_COOKIE_AGE + 5)
    page.clock.fast_forward((django_settings.SESSION_COOKIE_AGE + 5) * 1000)
    expect(page.get_by_text("セッションの有効期限が切れました。")).to_be_visible()
    assert len(page.evaluate(DRAFTS_IN_STORAGE)) == 1  # kept for carol's return…

    sign_in(page, "alice")  # …but alice signs in at this computer
    expect(page).to_have_url(client_url)
    assert page.evaluate(DRAFTS_IN_STORAGE) == []
    expect(page.locator("#entry-form-wrap").get_by_label("内容")).to_have_value("")
    expect(page.get_by_text("保存されていない下書きを復元しました")).to_have_count(0)


@both_viewports
def test_the_page_warns_before_the_timeout_and_staying_signed_in_keeps_the_session(
    cast, open_as, live_server, viewport
):
    page = open_as("alice")
    requests = []
    page.on("request", lambda request: requests.append(request))
    page.clock.install()
    client_url = f"{live_server.url}/clients/{cast.client.id}/"
    page.goto(client_url)
    page.locator("#entry-form-wrap").get_by_label("内容").fill(DRAFT)
    limit, warning = django_settings.SESSION_COOKIE_AGE, django_settings.SESSION_WARNING_SECONDS
    banner = page.get_by_role("alert").filter(has_text="まもなくログアウトします")

    expect(page.locator("#session-warning")).to_be_hidden()  # not yet
    # Four and a half minutes left (the background polls, which keep reporting the time left, agree).
    idle_on_the_server(page, limit - warning + 30)
    page.clock.fast_forward((limit - warning + 30) * 1000)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("に自動的にログアウトします")
    shot(page, f"session-warning-{viewport_name(page)}")

    page.get_by_role("button", name="ログインを続ける").click()
    expect(banner).to_have_count(0)
    assert seconds_since_last_activity(page) < 10  # the one request counted as activity
    keepalives = [r for r in requests if r.url.endswith("/session/keepalive/")]
    assert [r.method for r in keepalives] == ["POST"] and keepalives[0].headers.get("x-csrftoken")
    assert not any(carries(r, DRAFT) for r in requests)

    # The whole limit again from the click: still signed in, still on the page, the typed text untouched.
    page.clock.fast_forward((limit - warning - 30) * 1000)
    expect(banner).to_have_count(0)
    expect(page).to_have_url(client_url)
    expect(page.locator("#entry-form-wrap").get_by_label("内容")).to_have_value(DRAFT)


def test_a_correction_has_its_own_draft(cast, open_as, live_server):
    page = open_as("alice")
    client_url = f"{live_server.url}/clients/{cast.client.id}/"
    page.goto(f"{client_url}?correct={cast.entry.id}")
    form = page.locator("#entry-form-wrap")
    expect(form.get_by_role("heading", name="記録を訂正")).to_be_visible()
    original = form.get_by_label("内容").input_value()
    form.get_by_label("内容").fill(original + "（訪問日を訂正）")
    (key, _), *others = page.evaluate(DRAFTS_IN_STORAGE)
    assert others == [] and key.endswith(f".{cast.client.id}.{cast.entry.id}")

    page.goto(client_url)  # the new-entry form is not the correction: nothing restored there
    expect(form.get_by_label("内容")).to_have_value("")
    page.goto(f"{client_url}?correct={cast.entry.id}")
    expect(form.get_by_label("内容")).to_have_value(original + "（訪問日を訂正）")
    form.get_by_role("button", name="下書きを破棄").click()
    expect(form.get_by_label("内容")).to_have_value(original)  # back to the entry being corrected
    assert page.evaluate(DRAFTS_IN_STORAGE) == []


def test_signing_out_asks_first_and_removes_the_drafts(cast, open_as, live_server):
    page = open_as("alice")
    page.goto(f"{live_server.url}/clients/{cast.client.id}/")
    page.locator("#entry-form-wrap").get_by_label("内容").fill(DRAFT)
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="ログアウト").click()
    expect(page.locator("#entry-form-wrap").get_by_label("内容")).to_have_value(DRAFT)  # stayed
    assert len(page.evaluate(DRAFTS_IN_STORAGE)) == 1
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_role("button", name="ログイン")).to_be_visible()
    assert page.evaluate(DRAFTS_IN_STORAGE) == []
    assert len(questions) == 2 and "下書き" in questions[0]
