"""A long timeline in a real browser (Chromium, Japanese, desktop 1366×900 and tablet 820×1180): a long entry
folds and unfolds (by mouse and keyboard, no script of ours), and the timeline is filtered by kind and searched
by text in place, with the page's URL following the filters but never carrying the search text."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from cases import services
from tests.frontend.conftest import both_viewports, shot, viewport_name

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARAGRAPH = "本人宅を訪問し、長男と今後の生活について面談した。食事は配食サービスを週五回利用している。"
LAST = "最後に、次回の訪問は十二月上旬とし、包括支援センターと日程を調整することを確認した。"


def long_body() -> str:
    """A visit record of 3,368 characters, in paragraphs, ending with a sentence of its own."""
    paragraphs = "\n".join([PARAGRAPH * 3] * 30)
    return paragraphs[: 3368 - len(LAST) - 1] + "\n" + LAST


@both_viewports
def test_fold_a_long_entry_then_filter_by_kind_and_text(cast, open_as, live_server, viewport):
    body = long_body()
    assert len(body) == 3368
    services.timeline_append(actor=cast.actor("alice"), client_id=cast.client.id, kind="visit", body=body)
    services.timeline_append(
        actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="ｹｱﾏﾈより電話。ﾃﾞｲｻｰﾋﾞｽの件。"
    )
    page = open_as("bob")
    label = viewport_name(page)
    page.goto(f"{live_server.url}/clients/{cast.client.id}/")
    timeline = page.locator("#timeline")
    entry = timeline.locator("li.entry").filter(has_text="本人宅を訪問し")

    # Folded: the lead shows, the rest does not, and the entry is far shorter than the text would be.
    summary = entry.locator("summary")
    expect(summary.get_by_text("続きを読む")).to_be_visible()
    expect(summary.get_by_text("閉じる")).to_be_hidden()
    expect(entry.get_by_text(LAST)).to_be_hidden()
    folded_height = entry.bounding_box()["height"]
    assert folded_height < 400, folded_height
    shot(page, f"timeline-folded-{label}")

    # Unfold with the keyboard: the summary is reachable and a real control.
    summary.focus()
    page.keyboard.press("Enter")
    expect(entry.get_by_text(LAST)).to_be_visible()
    expect(summary.get_by_text("閉じる")).to_be_visible()
    expect(summary.get_by_text("続きを読む")).to_be_hidden()
    expect(entry.locator(".fold-lead")).to_be_hidden()  # the lead is not shown twice
    assert entry.bounding_box()["height"] > folded_height * 3
    # 閉じる comes after the whole text.
    assert summary.bounding_box()["y"] > entry.get_by_text(LAST).bounding_box()["y"]
    summary.click()
    expect(entry.get_by_text(LAST)).to_be_hidden()
    expect(summary.get_by_text("続きを読む")).to_be_visible()

    # Filter by kind: applied in place, the URL follows (bookmarkable).
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("表示する種類").select_option("call")
    expect(timeline.locator("li.entry")).to_have_count(1)
    expect(timeline).to_contain_text("ｹｱﾏﾈより電話。")
    expect(page).to_have_url(re.compile(r"\?f_kind=call$"))

    # Search the text, typed in hiragana: found in the half-width katakana; the text stays out of the URL.
    page.get_by_label("表示する種類").select_option("")
    expect(timeline.locator("li.entry").filter(has_text="本人宅を訪問し")).to_have_count(1)
    search = page.get_by_label("記録の内容で検索")
    search.fill("でいさーびす")
    search.press("Enter")
    expect(timeline.locator("li.entry")).to_have_count(1)
    expect(timeline).to_contain_text("ﾃﾞｲｻｰﾋﾞｽの件。")
    expect(page.get_by_role("status").filter(has_text="条件に合う記録 1 件")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?f_text=1$"))
    assert "でいさーびす" not in page.url
    assert page.evaluate("window.__sameDocument") is True
    shot(page, f"timeline-search-{label}")

    # The bookmark: kind, period and the mark of a search survive a reload; the text comes from the session.
    page.get_by_label("期間の始まり").fill("2020-01-01")
    page.get_by_label("期間の始まり").dispatch_event("change")
    expect(page).to_have_url(re.compile(r"f_from=2020-01-01"))
    assert parse_qs(urlsplit(page.url).query) == {"f_from": ["2020-01-01"], "f_text": ["1"]}
    page.reload()
    expect(page.get_by_label("記録の内容で検索")).to_have_value("でいさーびす")
    expect(timeline.locator("li.entry")).to_have_count(1)

    page.get_by_role("link", name="条件を解除").click()
    expect(timeline.locator("li.entry").filter(has_text="本人宅を訪問し")).to_have_count(1)
    expect(page.get_by_label("記録の内容で検索")).to_have_value("")
