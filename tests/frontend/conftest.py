"""Browser-UI test helpers: sign the cast in, read pages, and (for the Playwright tests) Debian's Chromium."""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from cases.models import Notification
from cases.outbox import outbox_relay
from tests.mfa import sign_in

# Live-server tests drive the browser from the test thread while the ORM is used in the same thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright: Debian's Chromium (``playwright install`` cannot download browsers here)."""
    return {"executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "ja-JP", "timezone_id": "Asia/Tokyo"}


SHOTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
VIEWPORT_NAMES = {(1366, 900): "desktop", (820, 1180): "tablet"}

# ``@both_viewports`` runs a browser test once at each viewport; ``open_as`` then opens its tabs at the test's
# ``viewport`` (a test may still pass ``viewport=`` itself).
both_viewports = pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["desktop", "tablet"])


# Where each role lands after signing in (frontend.views_caseload.home): the case list, 機関管理 for an agency
# administrator with no case of their own, the audit dashboard for the privacy officer who does no casework.
HOME_HEADINGS = re.compile(r"^(ケース一覧|機関管理|監査ダッシュボード)$")


@pytest.fixture
def browser(browser):
    """The session's Chromium, with axe-core watching every page a test opens (see tests/frontend/axe.py): the
    test fails if any page state it saw has a serious or critical accessibility violation."""
    from tests.frontend.axe import AxeWatch

    watch = AxeWatch()
    new_context = browser.new_context

    def watched_new_context(*args, **kwargs):
        context = new_context(*args, **kwargs)
        watch.watch_context(context)
        return context

    browser.new_context = watched_new_context
    try:
        yield browser
        watch.check_open_pages()
    finally:
        del browser.new_context
    report = watch.report()
    if report:
        pytest.fail(report, pytrace=False)


def viewport_name(page) -> str:
    size = page.viewport_size or {}
    width, height = size.get("width"), size.get("height")
    return VIEWPORT_NAMES.get((width, height), f"{width}x{height}")


@pytest.fixture
def open_as(browser, live_server, request):
    """``open_as("alice")``: a fresh browser tab signed in through the login form — and, for a user who needs a
    second factor (enrolled with a known secret first), through the code page with the code an authenticator
    would show; CSP violations are collected and fail the test. The tab opens at the test's ``viewport``
    parameter (``@both_viewports``) if it has one, else at DESKTOP; axe-core checks every page it shows."""
    from django.contrib.auth import get_user_model
    from playwright.sync_api import expect

    from agencies.mfa import mfa_required
    from tests.cast import PASSWORD
    from tests.mfa import enrol, fresh_code

    pages = []

    default_viewport = getattr(request.node, "callspec", None) and request.node.callspec.params.get("viewport")

    def make(username: str, viewport=None):
        viewport = viewport or default_viewport or DESKTOP
        user = get_user_model().objects.get(username=username)
        second_factor = mfa_required(user)
        if second_factor:
            enrol(user)
        context = browser.new_context(
            locale="ja-JP", timezone_id="Asia/Tokyo", viewport=viewport, accept_downloads=True
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.csp_errors = []
        page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("ユーザー名").fill(username)
        page.get_by_label("パスワード").fill(PASSWORD)
        page.get_by_role("button", name="ログイン").click()
        if second_factor:
            expect(page.get_by_role("heading", name="二要素認証")).to_be_visible()
            page.get_by_label("確認コード").fill(fresh_code(user))
            page.get_by_role("button", name="確認する").click()
        expect(page.get_by_role("heading", name=HOME_HEADINGS, level=1)).to_be_visible()
        pages.append(page)
        return page

    yield make
    for page in pages:
        assert page.csp_errors == [], page.csp_errors
        page.context.close()


def shot(page, name: str) -> None:
    """Save a full-page screenshot as a test artefact (test-artifacts/screenshots/NAME.png); axe checks the page
    as it is first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


@pytest.fixture
def as_user(cast):
    """``as_user("alice")``: a test client signed in as a member of the cast (with a verified second factor for
    those who need one)."""

    def make(name: str, **kwargs) -> Client:
        return sign_in(Client(**kwargs), cast.users[name])

    return make


@pytest.fixture
def settled(cast):
    """The cast with the notices of its own setup delivered and read."""
    outbox_relay()
    Notification.objects.update(read_at="2026-01-01T00:00:00Z")
    return cast


def text(response) -> str:
    return response.content.decode()


def strip_tokens(content: bytes) -> bytes:
    """A page without its per-render CSRF tokens (the only part that differs between two renders)."""
    return re.sub(rb"[A-Za-z0-9]{64}", b"", content)
