"""The privacy officer's console in a real browser (Chromium through Playwright) on a live server, PostgreSQL.

The officer finds who accessed a client, opens the break-glass flag, records a review note and closes the flag,
prints the disclosure report (print stylesheet) and downloads it as CSV, and exports a search. Screenshots of the
console go to test-artifacts/screenshots/.
"""

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from agencies.actors import Actor
from audit import review
from cases import selectors, services
from tests.frontend.conftest import DESKTOP, TABLET, shot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _csv(download) -> list[list[str]]:
    raw = Path(download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_caseworker_breaks_glass_from_the_client_list(cast, open_as):
    charlie = open_as("charlie", viewport=TABLET)
    charlie.get_by_role("link", name="緊急アクセス").click()
    expect(charlie.get_by_text("この操作は記録され、個人情報保護管理者が確認します。")).to_be_visible()
    charlie.get_by_label("フリガナ").fill("やまだ たろう")
    charlie.get_by_label("生年月日").fill("1948-04-01")
    charlie.get_by_role("button", name="理由を記録して閲覧する").click()
    expect(charlie.locator("#bg-reason_error")).to_contain_text("緊急アクセスの理由を入力してください。")
    charlie.get_by_label("緊急アクセスの理由").fill("救急搬送の連絡があり、緊急連絡先を確認するため")
    shot(charlie, "break-glass-768")
    charlie.get_by_role("button", name="理由を記録して閲覧する").click()
    expect(charlie.get_by_role("heading", name=re.compile("山田 太郎"))).to_be_visible()
    expect(charlie.locator(".messages")).to_contain_text("緊急アクセスを記録しました。")
    expect(charlie.locator("#timeline .kind-break_glass")).to_be_visible()


def test_officer_reviews_a_client_a_flag_a_disclosure_and_exports(cast, open_as, live_server):
    selectors.client_list(actor=cast.actor("alice"), limit=20)
    services.break_glass_open(
        actor=cast.actor("charlie"),
        name_kana="ヤマダ タロウ",
        birth_date=date(1948, 4, 1),
        reason="救急搬送の連絡のため",
    )
    review.detect_anomalies(actor=Actor.system(channel="task"))

    penny = open_as("penny")
    penny.get_by_role("link", name="監査", exact=True).click()
    expect(penny.get_by_role("heading", name="監査ダッシュボード")).to_be_visible()
    expect(penny.locator(".chart svg rect.bar").first).to_be_attached()
    shot(penny, "privacy-dashboard")

    # Who accessed this client: search by name, the one match is picked.
    menu = penny.get_by_role("navigation", name="監査メニュー")
    menu.get_by_role("link", name="監査ログ検索").click()
    penny.get_by_label("支援対象者（ケース番号・氏名・フリガナ）").fill("山田")
    penny.get_by_role("button", name="検索", exact=True).click()
    results = penny.locator("#results")
    expect(penny.locator(".chip")).to_contain_text(cast.client.case_number)
    assert f"client={cast.client.id}" in penny.url and "client_q" not in penny.url  # the id, never the name
    expect(results).to_contain_text("緊急アクセス")
    expect(results).to_contain_text("一覧の表示")
    expect(results.locator(".basis-break_glass").first).to_be_visible()
    shot(penny, "privacy-search")
    penny.set_viewport_size(TABLET)
    shot(penny, "privacy-search-768")
    penny.set_viewport_size(DESKTOP)

    # Export the search: the task runs at once here (no broker), the page offers the file.
    penny.get_by_role("button", name="この条件でCSV出力").click()
    expect(penny.get_by_role("heading", name="CSV出力")).to_be_visible()
    download_link = penny.get_by_role("link", name="ファイルをダウンロード")
    expect(download_link).to_be_visible()
    with penny.expect_download() as info:
        download_link.click()
    exported = _csv(info.value)
    assert any("charlie" in row for row in exported[1:])

    # The flag behind the break-glass: its events, a review note, then closing it.
    penny.get_by_role("navigation", name="監査メニュー").get_by_role("link", name="異常検知フラグ").click()
    penny.get_by_role("link", name="緊急アクセスの利用").first.click()
    expect(penny.get_by_role("heading", name=re.compile("根拠となった記録"))).to_be_visible()
    expect(penny.locator(".audit-table")).to_contain_text("charlie")
    penny.get_by_label("確認内容（レビューメモ）").fill("施設に確認。救急搬送時の対応で正当と判断。")
    penny.get_by_label("このフラグを対応済みにする").check()
    penny.get_by_role("button", name="確認メモを記録").click()
    expect(penny.locator(".messages")).to_contain_text("レビューメモを記録し、フラグを閉じました。")
    expect(penny.locator(".notes")).to_contain_text("救急搬送時の対応で正当と判断。")
    expect(penny.get_by_role("heading", level=1)).to_contain_text("対応済み")
    shot(penny, "privacy-flag")

    # The disclosure report: printable (menus and buttons hidden on paper) and as CSV.
    penny.get_by_role("navigation", name="監査メニュー").get_by_role("link", name="開示請求対応").click()
    penny.get_by_label("支援対象者（ケース番号・氏名・フリガナ）").fill(cast.client.case_number)
    penny.get_by_role("button", name="報告書を作成").click()
    report = penny.locator(".report")
    expect(report).to_contain_text("障がい者支援施設 さくら園")
    expect(report).to_contain_text("緊急アクセス")
    shot(penny, "privacy-disclosure")
    penny.emulate_media(media="print")
    expect(penny.locator(".site-header")).to_be_hidden()
    expect(penny.get_by_role("button", name="印刷する")).to_be_hidden()
    expect(report).to_be_visible()
    shot(penny, "privacy-disclosure-print")
    penny.emulate_media(media="screen")
    with penny.expect_download() as info:
        penny.get_by_role("link", name="CSVをダウンロード").click()
    rows = _csv(info.value)
    assert info.value.suggested_filename.endswith(".csv")
    assert rows[0][:4] == ["日時（日本時間）", "機関", "機関コード", "職員"]
    table = report.locator("tbody tr")
    assert len(rows) - 1 >= table.count() > 0
    assert any(r[3] == "charlie" and r[4] == "緊急アクセス" for r in rows[1:])


def test_officer_looks_up_who_searched_for_a_name(cast, open_as):
    """The audit log holds only keyed hashes of search terms; the console matches a typed name against them."""
    selectors.client_list(actor=cast.actor("bob"), q="やまだ")
    penny = open_as("penny")
    penny.get_by_role("link", name="監査", exact=True).click()
    penny.get_by_role("navigation", name="監査メニュー").get_by_role("link", name="検索語の照合").click()
    penny.get_by_label("検索語（氏名・フリガナ・ケース番号・タグ・ユーザー名）").fill("ﾔﾏﾀﾞ")
    penny.get_by_role("button", name="照合", exact=True).click()
    results = penny.locator("#results")
    expect(results).to_contain_text("bob")
    expect(results).to_contain_text("検索")
    assert "%EF%BE%94" not in penny.url and penny.url.endswith("/privacy/terms/")  # POSTed, not in the URL
    shot(penny, "privacy-terms")
