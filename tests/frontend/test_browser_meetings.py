"""A support meeting (支援会議) in Chromium on a live server, PostgreSQL: 福祉課's supervisor convenes it from the
client's page, さくら園's supervisor confirms 守秘義務 and then sees the client, the convener records the minutes
with an action item (a row added by the page's script), the attendee marks it done from 役割分担; and the privacy
officer reads the meeting register and the accesses made under the meeting's shares. axe-core checks every page
(tests/frontend/axe.py); screenshots go to test-artifacts/screenshots/."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases import selectors, services
from tests.frontend.conftest import DESKTOP, TABLET, shot
from tests.meetings import add_staff, convene

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_convene_confirm_minutes_and_a_task_done(cast, open_as, live_server):
    add_staff(cast, "sue", "outsider", "supervisor")
    client = cast.client

    # 福祉課's supervisor convenes the meeting from the client's page.
    sam = open_as("sam")
    sam.goto(f"{live_server.url}/clients/{client.id}/")
    sam.get_by_role("link", name="支援会議を開催").click()
    expect(sam.get_by_role("heading", name="支援会議を開催", level=1)).to_be_visible()
    expect(sam.get_by_text("社会福祉法第106条の6", exact=False).first).to_be_visible()
    expect(sam.get_by_label(re.compile(r"山田 太郎"))).to_be_checked()
    sam.get_by_role("button", name="開催を登録する").click()
    expect(sam.locator("#meeting-title_error")).to_contain_text("会議名を入力してください。")
    expect(sam.locator("#meeting-attendees_error")).to_be_visible()
    sam.get_by_label("会議名").fill("山田さん世帯の支援会議")
    sam.get_by_label(re.compile("さくら園")).check()
    sam.get_by_label("閲覧・追記", exact=True).check()
    expect(sam.get_by_label("共有期間（日）")).to_have_value("90")
    shot(sam, "meeting-convene")
    sam.get_by_role("button", name="開催を登録する").click()
    expect(sam.get_by_role("heading", name="山田さん世帯の支援会議", level=1)).to_be_visible()
    expect(sam.locator(".messages")).to_contain_text("支援会議を登録しました。")
    expect(sam.get_by_role("cell", name="未確認")).to_be_visible()

    # さくら園's supervisor: the meeting waits on the home page; confirming 守秘義務 opens the client.
    sue = open_as("sue")
    box = sue.locator("#meeting-box")
    expect(box.get_by_role("heading", name="守秘義務の確認待ちの支援会議")).to_be_visible()
    expect(box).to_contain_text("山田さん世帯の支援会議")
    sue.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="支援会議").click()
    expect(sue.get_by_role("heading", name="支援会議", level=1)).to_be_visible()
    expect(sue.get_by_text("確認待ち", exact=True)).to_be_visible()
    shot(sue, "meeting-list")
    sue.get_by_role("link", name="山田さん世帯の支援会議").click()
    expect(sue.get_by_text("共有されていない支援対象者")).to_be_visible()
    sue.get_by_role("link", name="守秘義務を確認する").click()
    expect(sue.get_by_role("heading", name="守秘義務の確認")).to_be_visible()
    sue.get_by_role("button", name="守秘義務を確認して共有を開始する").click()
    expect(sue.locator("#agree_error")).to_contain_text("チェックを入れてください")
    sue.get_by_label(re.compile("守秘義務を守ることを確認します")).check()
    shot(sue, "meeting-confirm")
    sue.get_by_role("button", name="守秘義務を確認して共有を開始する").click()
    expect(sue.locator(".messages")).to_contain_text("守秘義務を確認しました。")
    expect(sue.get_by_role("link", name="山田 太郎")).to_be_visible()

    # The convener records the minutes; the page's script adds a fourth row, which is left blank.
    sam.reload()
    expect(sam.get_by_role("cell", name=re.compile("確認済み"))).to_be_visible()
    sam.get_by_label("概要").fill("本人の生活状況と家族の状況を共有した。")
    sam.get_by_label("決定事項").fill("さくら園が通所の調整を行う。")
    sam.get_by_role("button", name="行を追加").click()
    fourth = sam.get_by_role("group", name="役割分担 4")
    expect(fourth).to_be_visible()
    expect(fourth.get_by_label("担当機関")).to_be_focused()
    first = sam.get_by_role("group", name="役割分担 1")
    first.get_by_label("担当機関").select_option("shisetsu")
    first.get_by_label("支援対象者").select_option(str(client.id))
    first.get_by_label("役割・内容").fill("通所の調整と服薬の確認")
    yesterday = timezone.localdate() - timedelta(days=1)
    first.get_by_label("期限").fill(yesterday.isoformat())
    sam.get_by_role("button", name="記録を保存").click()
    expect(sam.locator(".messages")).to_contain_text("支援会議の記録を保存しました。")
    minutes = sam.locator("#minutes")
    expect(minutes).to_contain_text("第1版（最新）")
    overdue = minutes.locator("tr.row-overdue")
    expect(overdue).to_contain_text("期限超過")
    expect(overdue).to_contain_text("通所の調整と服薬の確認")
    shot(sam, "meeting-page")
    sam.set_viewport_size(TABLET)
    shot(sam, "meeting-page-tablet")
    sam.set_viewport_size(DESKTOP)

    # The attendee marks it done from 役割分担 (htmx answers the row); it is on the client's timeline.
    sue.get_by_role("navigation", name="メインメニュー").get_by_role("link", name="役割分担").click()
    expect(sue.get_by_role("heading", name="役割分担", level=1)).to_be_visible()
    row = sue.locator("tr", has_text="通所の調整と服薬の確認")
    expect(row).to_contain_text("期限超過")
    shot(sue, "tasks")
    row.get_by_role("button", name=re.compile("完了にする")).click()
    expect(row.get_by_text("完了", exact=True)).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)
    sue.get_by_role("link", name="完了", exact=True).click()
    expect(sue.locator("tr", has_text="通所の調整と服薬の確認")).to_be_visible()
    sue.goto(f"{live_server.url}/clients/{client.id}/")
    expect(sue.locator("#timeline")).to_contain_text("障がい者支援施設 さくら園 が支援会議の役割分担を完了しました。")


def test_the_officer_reviews_a_meeting_and_the_accesses_under_its_shares(cast, open_as, live_server):
    meeting = convene(cast)
    services.meeting_confirm(actor=meeting.actor("sue"), meeting_id=meeting.id)
    selectors.client_get(actor=meeting.actor("charlie"), client_id=cast.client.id)

    penny = open_as("penny")
    penny.get_by_role("link", name="監査", exact=True).click()
    penny.get_by_role("navigation", name="監査メニュー").get_by_role("link", name="支援会議").click()
    expect(penny.get_by_role("heading", name="支援会議の記録", level=1)).to_be_visible()
    table = penny.locator("table")
    expect(table).to_contain_text("三条市 福祉課")
    expect(table).to_contain_text("確認済み")
    expect(table).to_contain_text("未確認")
    expect(penny.locator("main")).not_to_contain_text("山田さん世帯の支援会議")
    shot(penny, "privacy-meetings")
    penny.get_by_role("link", name=re.compile("共有によるアクセス")).click()
    expect(penny.get_by_role("heading", name="支援会議の共有によるアクセス", level=1)).to_be_visible()
    events = penny.locator(".audit-table")
    expect(events).to_contain_text("charlie")
    expect(events.locator(".basis-share").first).to_be_visible()
    expect(penny.get_by_text("確認待ち（無効）").first).to_be_visible()
    shot(penny, "privacy-meeting")


def test_an_invitation_in_the_inbox_opens_the_meeting(cast, open_as, live_server):
    """さくら園 sees none of the meeting's clients before it confirms 守秘義務: its invitation is under the meeting (its
    date and convener, not "a case no longer shared"), marked read with htmx, and opens the meeting page. Tablet."""
    from cases.outbox import outbox_relay

    meeting = convene(cast)
    outbox_relay()
    charlie = open_as("charlie", viewport=TABLET)
    charlie.goto(f"{live_server.url}/inbox/")
    group = charlie.locator(f"#notices-meeting-{meeting.id}")
    expect(group.get_by_role("heading", name=re.compile(r"^支援会議（開催日 .+、三条市 福祉課）$"))).to_be_visible()
    expect(group).to_contain_text("支援会議への参加依頼が届きました")
    expect(charlie.locator("main")).not_to_contain_text("共有が終了したケース")
    expect(charlie.locator("main")).not_to_contain_text("山田")
    shot(charlie, "inbox-meeting-tablet")
    group.get_by_role("button", name=re.compile("この支援会議をすべて既読にする")).click()
    expect(charlie.locator(f"#notices-meeting-{meeting.id} .badge-unread")).to_have_count(0)
    charlie.locator(f"#notices-meeting-{meeting.id}").get_by_role("link", name="支援会議を開く").click()
    expect(charlie.get_by_role("heading", name="山田さん世帯の支援会議", level=1)).to_be_visible()
    expect(charlie.get_by_text("共有されていない支援対象者").first).to_be_visible()
