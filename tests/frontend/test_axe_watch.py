"""The axe watch itself (tests/frontend/axe.py): it checks a page when it loads, what a script or htmx changes
before the test's next step, and the page again at another viewport; its report names the page, the viewport,
the rule, the impact, the element and what to fix. Pages are served by the browser itself (no server needed)."""

import pytest
from playwright.sync_api import expect

from tests.frontend.axe import AxeWatch
from tests.frontend.conftest import DESKTOP, TABLET

pytestmark = pytest.mark.postgres  # with the other browser tests, on the worker that runs Chromium

PAGE = """<!doctype html><html lang="ja"><head><title>確認用</title></head>
<body><main><h1>確認用</h1><div id="slot"></div><button type="button">次へ</button></main></body></html>"""
ORIGIN = "http://axe.invalid"


@pytest.fixture
def unwatched_context(browser):
    """A context outside the suite's own watch (which would fail this test for the violations it plants)."""
    context = type(browser).new_context(browser, locale="ja-JP", viewport=DESKTOP)
    context.route(f"{ORIGIN}/**", lambda route: route.fulfill(content_type="text/html; charset=utf-8", body=PAGE))
    yield context
    context.close()


def test_a_clean_page_passes_and_a_change_made_after_loading_is_checked_before_the_next_step(unwatched_context):
    watch = AxeWatch()
    watch.watch_context(unwatched_context)
    page = unwatched_context.new_page()
    page.goto(f"{ORIGIN}/clean/")
    page.get_by_role("button", name="次へ").click()  # the loaded page is checked before this click
    assert (watch.checks, watch.report()) == (1, "")

    # A script adds an image without a text alternative (critical) and a low-contrast line (serious).
    page.evaluate(
        """() => document.getElementById("slot").innerHTML =
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="20" height="20">' +
        '<p id="faint">薄い文字</p>'"""
    )
    page.evaluate("() => { const p = document.getElementById('faint'); p.style.color = '#bbb'; }")
    page.get_by_role("button", name="次へ").click()
    assert watch.checks == 2
    report = watch.report()
    assert "/clean/  「確認用」 at 1366×900:" in report
    assert "[critical] image-alt: Images must have alternative text" in report
    assert "[serious] color-contrast:" in report
    assert "target: #faint" in report
    assert "Fix any of the following:" in report

    # The same page at tablet size is checked again as a whole.
    page.set_viewport_size(TABLET)
    expect(page.get_by_role("button", name="次へ")).to_be_visible()
    assert watch.checks == 3
    assert "at 820×1180:" in watch.report()


def test_every_page_left_open_is_checked_when_the_test_ends(unwatched_context):
    watch = AxeWatch()
    watch.watch_context(unwatched_context)
    page = unwatched_context.new_page()
    page.goto(f"{ORIGIN}/last/")
    page.evaluate("() => document.getElementById('slot').innerHTML = '<img src=\"data:,\">'")
    assert watch.checks == 0
    watch.check_open_pages()
    assert watch.checks == 1
    assert "image-alt" in watch.report()


def test_a_page_closed_with_its_context_is_checked_first(unwatched_context):
    watch = AxeWatch()
    watch.watch_context(unwatched_context)
    page = unwatched_context.new_page()
    page.goto(f"{ORIGIN}/closing/")
    page.evaluate("() => document.getElementById('slot').innerHTML = '<img src=\"data:,\">'")
    unwatched_context.close()
    assert "image-alt" in watch.report()
