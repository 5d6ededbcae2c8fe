"""The client page in Chromium: editing the details, changing the status with a reason, the 緊急アクセス中 banner,
and the summary within the first screen on a tablet. Japanese, at desktop (1366×900) and tablet (820×1180)."""

from datetime import date

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases import selectors, services
from cases.models import Notification
from cases.outbox import outbox_relay
from tests.frontend.conftest import DESKTOP, TABLET, both_viewports, shot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_editing_the_details(cast, open_as, live_server):
    alice = open_as("alice", viewport=DESKTOP)
    alice.goto(f"{live_server.url}/clients/{cast.client.id}/")
    alice.get_by_role("link", name="基本情報を編集").click()
    expect(alice.get_by_role("heading", name="基本情報を編集")).to_be_visible()
    alice.get_by_label("電話番号").fill("0256-aa")
    alice.get_by_role("button", name="保存する").click()
    expect(alice.locator("#id_phone_error")).to_contain_text("電話番号は数字とハイフンで入力してください。")
    expect(alice.get_by_role("alert").first).to_contain_text("変更は保存されていません。")
    alice.get_by_label("電話番号").fill("0256-11-2222")
    alice.get_by_label("その他のタグ").fill("虐待疑い")
    shot(alice, "client-edit-1366")
    alice.get_by_role("button", name="保存する").click()
    expect(alice.locator(".messages")).to_contain_text("基本情報を保存しました。")
    summary = alice.locator(".client-summary")
    expect(summary.locator(".tag-risk")).to_have_text("虐待疑い")
    expect(alice.locator(".client-aside")).to_contain_text("0256-11-2222")


def test_changing_the_status_with_a_reason_on_a_tablet(cast, open_as, live_server):
    alice = open_as("alice", viewport=TABLET)
    alice.goto(f"{live_server.url}/clients/{cast.client.id}/")
    alice.get_by_role("link", name="状態を変更").click()
    expect(alice.get_by_role("heading", name="状態を変更")).to_be_visible()
    alice.get_by_label("休止").check()
    alice.get_by_role("button", name="状態を変更する").click()
    expect(alice.locator("#status-reason_error")).to_contain_text("変更の理由を入力してください。")
    alice.get_by_label("休止").check()
    alice.get_by_label("変更の理由").fill("入院のため、退院まで支援を休止する。")
    shot(alice, "client-status-820")
    alice.get_by_role("button", name="状態を変更する").click()
    expect(alice.locator(".messages")).to_contain_text("状態を「休止」に変更しました。")
    expect(alice.locator(".client-summary .status-paused")).to_have_text("休止")
    entry = alice.locator("#timeline .entry-system").first
    expect(entry).to_contain_text("状態を「支援中」から「休止」に変更しました。")
    expect(entry).to_contain_text("理由: 入院のため、退院まで支援を休止する。")


@both_viewports
def test_emergency_access_banner_and_header_link(cast, open_as, live_server, viewport):
    charlie = open_as("charlie")
    services.break_glass_open(
        actor=cast.actor("charlie"), name_kana="やまだ たろう", birth_date=date(1948, 4, 1), reason="救急搬送の連絡"
    )
    until = timezone.localtime(selectors.break_glass_open_grants(actor=cast.actor("charlie"))[0].expires_at)
    charlie.reload()  # the list page: the header now says an emergency grant is open
    link = charlie.locator(".emergency-strip").get_by_role("link", name=f"対象者のページへ（{until:%H:%M} まで）")
    expect(link).to_be_visible()
    link.click()
    banner = charlie.locator(".break-glass-banner")
    expect(banner).to_contain_text(f"緊急アクセス中 — {until:%H:%M} まで")
    expect(banner).to_be_in_viewport()
    expect(charlie.get_by_role("link", name="基本情報を編集")).to_have_count(0)
    shot(charlie, f"client-break-glass-{viewport['width']}")
    # Still there after reloading the timeline (the page's other reads).
    charlie.reload()
    expect(banner).to_be_visible()


def test_the_summary_is_in_the_first_screen_on_a_tablet(cast, open_as, live_server):
    for i in range(30):  # a long timeline below the summary
        services.timeline_append(
            actor=cast.actor("alice"), client_id=cast.client.id, kind="note", body=f"記録 {i}。" + "経過。" * 60
        )
    services.client_update(
        actor=cast.actor("alice"),
        client_id=cast.client.id,
        changes={"tags": ["高齢", "虐待疑い"], "address_confidential": True},
    )
    outbox_relay()  # the notices of all this, read: this test is about the page, not the inbox
    Notification.objects.update(read_at=timezone.now())
    carol = open_as("carol", viewport=TABLET)
    carol.goto(f"{live_server.url}/clients/{cast.client.id}/")
    summary = carol.locator(".client-summary")
    expect(summary).to_be_visible()
    box = summary.bounding_box()
    assert box is not None and box["y"] + box["height"] <= TABLET["height"], box
    expect(summary).to_contain_text(cast.client.case_number)
    expect(summary).to_contain_text("支援中")
    expect(summary).to_contain_text("閲覧・追記")
    expect(summary.locator(".tag-risk")).to_have_text("虐待疑い")
    expect(summary).to_contain_text("秘匿（DV等支援措置）")
    expect(summary.locator(".partner")).to_have_count(3)
    expect(summary).to_contain_text("三条市社会福祉協議会")
    form = carol.locator("#entry-form-wrap").bounding_box()
    assert form is not None and form["y"] > box["y"]
    shot(carol, "client-summary-820")
    carol.set_viewport_size(DESKTOP)
    shot(carol, "client-summary-1366")
