"""Asking and answering an inquiry (照会) across two agencies in Chromium (Japanese, desktop 1366×900; the pages use
the shared layouts, so the tablet width adds nothing of its own): 福祉課's caseworker asks 地域包括支援センター from
the client page; the centre's caseworker sees the count in the header, opens 受信照会 and answers; 福祉課 sees the
inquiry answered. axe checks every page shown; the screenshots are test artefacts."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.frontend.conftest import DESKTOP, shot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ask_and_answer_an_inquiry_across_two_agencies(cast, open_as, live_server):
    alice = open_as("alice", viewport=DESKTOP)
    alice.goto(f"{live_server.url}/clients/{cast.client.id}/")
    alice.get_by_role("link", name="照会する").click()
    expect(alice.get_by_role("heading", name="照会する")).to_be_visible()
    # Submitting nothing: the errors say what is missing, and nothing is sent.
    alice.get_by_role("button", name="照会を送信する").click()
    expect(alice.locator("#inquiry-to_error")).to_contain_text("宛先の機関を1つ以上選んでください。")
    alice.get_by_label("地域包括支援センター嵐南").check()
    alice.get_by_label("件名").fill("デイサービスの利用状況")
    alice.get_by_label("照会の内容").fill("先月からの通所の状況と、ご本人の様子を教えてください。")
    due = timezone.localdate() + timedelta(days=7)
    alice.get_by_label("回答期限").fill(due.isoformat())
    shot(alice, "inquiry-form-1366")
    alice.get_by_role("button", name="照会を送信する").click()
    expect(alice.locator(".messages")).to_contain_text("照会を送信しました。")
    expect(alice.get_by_role("heading", name="デイサービスの利用状況", level=1)).to_be_visible()
    expect(alice.locator(".inquiry-head .badge")).to_have_text("回答待ち")

    carol = open_as("carol", viewport=DESKTOP)
    nav = carol.get_by_role("navigation", name="メインメニュー")
    inquiries_link = nav.get_by_role("link", name="照会")
    expect(inquiries_link.locator(".count")).to_have_text("1")
    expect(inquiries_link).to_contain_text("回答待ち 1 件")
    # Keyboard: the header link is reachable and opens the received box.
    inquiries_link.focus()
    carol.keyboard.press("Enter")
    expect(carol.get_by_role("link", name="受信照会")).to_have_attribute("aria-current", "page")
    row = carol.locator("table.inquiries tbody tr").first
    expect(row).to_contain_text("山田 太郎")
    expect(row).to_contain_text("三条市 福祉課")
    shot(carol, "inquiries-received-1366")
    row.get_by_role("link", name="デイサービスの利用状況").click()
    expect(carol.get_by_text("先月からの通所の状況と、ご本人の様子を教えてください。")).to_be_visible()
    expect(carol.get_by_role("button", name="終了する")).to_have_count(0)  # only the sender closes
    carol.get_by_label("回答・追記").fill("週3回通所しています。表情も明るく、食事も摂れています。")
    carol.get_by_role("button", name="回答する").click()
    expect(carol.locator(".messages")).to_contain_text("回答を送信しました。")
    expect(carol.locator("#thread")).to_contain_text("週3回通所しています。")
    expect(carol.locator(".inquiry-head .badge")).to_have_text("回答済み")
    expect(nav.get_by_role("link", name="照会").locator(".count")).to_have_count(0)
    shot(carol, "inquiry-answered-1366")

    alice.reload()
    expect(alice.locator(".inquiry-head .badge")).to_have_text("回答済み")
    expect(alice.locator("#thread")).to_contain_text("週3回通所しています。")
    alice.get_by_role("link", name="送信照会").first.click()
    expect(alice.locator("table.inquiries tbody tr").first).to_contain_text("回答済み")
    # The client's timeline shows the question and the answer, each linking to the inquiry.
    alice.goto(f"{live_server.url}/clients/{cast.client.id}/")
    timeline = alice.locator("#timeline")
    expect(timeline).to_contain_text("地域包括支援センター嵐南 に照会しました。")
    expect(timeline).to_contain_text("照会に回答しました。")
    timeline.get_by_role("link", name="照会を開く").first.click()
    expect(alice.get_by_role("heading", name="デイサービスの利用状況", level=1)).to_be_visible()
    alice.get_by_role("button", name="終了する").click()
    expect(alice.locator(".inquiry-head .badge")).to_have_text("終了")
