"""The UI in a real browser (Chromium through Playwright) against a live server on PostgreSQL.

A few journeys that only a browser proves: htmx swaps without a reload, the new-entry cue from another agency,
the sharing flow end to end, the not-found page for an outsider, no Content-Security-Policy violation anywhere.
Screenshots of the main pages go to test-artifacts/screenshots/.
"""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from cases import services
from tests.frontend.conftest import TABLET, shot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_poll(settings):
    settings.TIMELINE_POLL_SECONDS = 1


def test_caseworker_finds_a_client_appends_and_sees_another_agencys_entry_without_reloading(cast, open_as):
    page = open_as("alice")
    search = page.get_by_label("氏名・フリガナ・ケース番号")
    entries = page.evaluate("history.length")
    search.fill("やまだ")  # hiragana finds the katakana フリガナ, as the user types
    expect(page.locator("#results")).to_contain_text("ヤマダ タロウ")
    expect(page).to_have_url(re.compile(r"/$"))  # the name is POSTed: not in the URL, not in the history
    assert page.evaluate("history.length") == entries  # typing added no history entry
    shot(page, "client-list")
    page.get_by_role("link", name="山田 太郎").click()
    expect(page.get_by_role("heading", name=re.compile("山田 太郎"))).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    form = page.locator("#entry-form-wrap")
    form.get_by_label("種類").select_option("call")
    form.get_by_label("内容").fill("長男より電話。来週の受診に同行予定。")
    form.get_by_role("button", name="記録する").click()
    expect(page.get_by_role("status").filter(has_text="支援記録を追加しました。")).to_be_visible()
    expect(page.locator("#timeline .entry-new")).to_contain_text("長男より電話。")
    expect(form.get_by_label("内容")).to_have_value("")  # a fresh form for the next record

    # Another agency writes while the page is open: the cue appears, a click brings the entry in.
    services.timeline_append(
        actor=cast.actor("carol"), client_id=cast.client.id, kind="visit", body="包括: 自宅訪問、転倒の心配あり。"
    )
    cue = page.get_by_role("button", name=re.compile("新しい記録があります"))
    expect(cue).to_be_visible()
    cue.click()
    expect(page.locator("#timeline")).to_contain_text("包括: 自宅訪問、転倒の心配あり。")
    expect(cue).to_have_count(0)
    assert page.evaluate("window.__sameDocument") is True
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "client-page-1280")
    page.set_viewport_size(TABLET)
    shot(page, "client-page-768")
    # Bad input: the field error comes back in place, nothing is written.
    form.get_by_label("内容").fill("   ")
    form.get_by_role("button", name="記録する").click()
    expect(page.locator("#entry-body_error")).to_contain_text("内容を入力してください。")


def test_supervisor_shares_a_client_and_the_outsider_then_sees_it(cast, open_as, live_server):
    client_url = f"{live_server.url}/clients/{cast.client.id}/"
    outsider = open_as("charlie")
    outsider.goto(client_url)
    expect(outsider.get_by_role("heading", name="ページが見つかりません")).to_be_visible()
    assert "山田" not in outsider.content()

    sam = open_as("sam")
    sam.goto(client_url)
    sam.get_by_role("link", name="共有設定", exact=True).click()
    expect(sam.get_by_role("heading", name="共有先の一覧")).to_be_visible()
    sam.get_by_label("共有先の機関").select_option("shisetsu")
    sam.get_by_label("共有レベル").select_option("append")
    sam.get_by_label("共有の根拠").select_option("support_meeting")
    sam.get_by_label("根拠の補足").fill("11月20日 支援会議で合意")
    shot(sam, "sharing")
    sam.get_by_role("button", name="確認へ進む").click()
    expect(sam.get_by_role("heading", name="共有設定の確認")).to_be_visible()
    sam.get_by_role("button", name="共有する").click()
    expect(sam.locator(".messages")).to_contain_text("障がい者支援施設 さくら園 との共有を設定しました。")

    outsider.goto(f"{live_server.url}/clients/?scope=all")  # a caseworker starts on their caseload: すべて
    outsider.get_by_role("link", name="山田 太郎").click()
    expect(outsider.locator("#timeline")).to_contain_text("障がい者支援施設 さくら園 との共有を設定しました")
    expect(outsider.get_by_role("heading", name="記録を追加")).to_be_visible()  # append level


def test_register_inbox_and_agency_pages(cast, open_as):
    alice = open_as("alice")
    alice.get_by_role("link", name="新規登録").first.click()
    alice.get_by_label("氏名").fill("山田 太郎")
    alice.get_by_label("フリガナ").fill("ﾔﾏﾀﾞ ﾀﾛｳ")
    alice.get_by_label("生年月日").fill("1948-04-01")
    alice.get_by_label("生年月日").press("Tab")
    expect(alice.locator("#duplicates")).to_contain_text("既に登録されています")  # checked as typed (htmx)
    shot(alice, "register")
    alice.get_by_label("フリガナ").fill("やまだ はなこ")
    alice.get_by_label("フリガナ").press("Tab")
    expect(alice.locator("#duplicates")).to_be_empty()
    alice.get_by_role("button", name="登録する").click()
    expect(alice.locator(".messages")).to_contain_text("さんを登録しました")

    services.timeline_append(actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="電話連絡")
    bob = open_as("bob")
    bob.get_by_role("link", name=re.compile("お知らせ")).click()
    expect(bob.locator(".notice.unread").first).to_contain_text("支援記録（電話）が追加されました")
    group = bob.locator(f"#notices-{cast.client.id}")
    expect(group.get_by_role("heading")).to_contain_text("山田 太郎")  # the notice says who
    shot(bob, "inbox")
    unread = bob.locator(".notice.unread").count()
    bob.locator(".notice.unread").first.get_by_role("button", name="既読にする").click()
    expect(bob.locator(".notice.unread")).to_have_count(unread - 1)
    if unread > 1:  # the rest of this client's notices at once (htmx)
        group.get_by_role("button", name="このケースをすべて既読にする").click()
        expect(group.locator(".notice.unread")).to_have_count(0)

    services.client_create(
        actor=cast.actor("ada"), name="確認 用", name_kana="かくにん よう", birth_date=date(1970, 1, 1)
    )
    ada = open_as("ada")
    ada.get_by_role("link", name="機関管理").click()
    ada.get_by_role("link", name="APIキーを発行").click()
    ada.get_by_label("利用する職員").select_option(label="Ivan（ivan・連携システム）")
    ada.get_by_label("キーの名前").fill("ケース管理システム連携")
    ada.get_by_role("button", name="発行する").click()
    expect(ada.get_by_role("textbox", name="APIキー")).to_have_value(re.compile(r"^tsg_"))
    ada.get_by_role("link", name=re.compile("機関管理へ戻る")).click()
    expect(ada.get_by_role("cell", name="ケース管理システム連携", exact=True)).to_be_visible()
    shot(ada, "agency-admin")
