"""The main pages at desktop and tablet size, as each role opens them: every one is checked by axe-core (no serious
or critical violation, see tests/frontend/axe.py) and saved as a screenshot for review
(test-artifacts/screenshots/screen-<page>-<desktop|tablet>.png, kept by CI as artefacts)."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from agencies.actors import Actor
from audit import review
from cases import services
from cases.outbox import outbox_relay
from tests.frontend.conftest import both_viewports, shot, viewport_name
from tests.meetings import convene

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _show(page, url: str, heading: str, name: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_attached()
    shot(page, f"screen-{name}-{viewport_name(page)}")


@both_viewports
def test_the_main_pages(cast, browser, open_as, live_server, viewport):
    services.timeline_append(actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="電話連絡")
    outbox_relay()
    review.detect_anomalies(actor=Actor.system(channel="task"))
    base = live_server.url
    client = f"{base}/clients/{cast.client.id}/"

    anonymous = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport=viewport).new_page()
    _show(anonymous, f"{base}/login/", "ログイン", "login")
    anonymous.context.close()

    alice = open_as("alice")
    _show(alice, f"{base}/clients/?scope=all", "ケース一覧", "case-list")  # すべて: her 自分の担当 is empty
    alice.goto(client)
    expect(alice.get_by_role("heading", name="記録を追加")).to_be_visible()
    shot(alice, f"screen-client-{viewport_name(alice)}")
    _show(alice, f"{base}/clients/new/", "支援対象者の新規登録", "new-client")
    _show(alice, f"{base}/clients/{uuid.uuid4()}/", "ページが見つかりません", "not-found")

    sam = open_as("sam")
    _show(sam, f"{client}shares/", "共有先の一覧", "shares")

    bob = open_as("bob")
    _show(bob, f"{base}/inbox/", "お知らせ", "inbox")

    ada = open_as("ada")
    _show(ada, f"{base}/agency/", "機関管理", "agency")

    penny = open_as("penny")
    _show(penny, f"{base}/privacy/", "監査ダッシュボード", "privacy-dashboard")
    _show(penny, f"{base}/privacy/events/?client={cast.client.id}", "監査ログ検索", "privacy-events")

    # Working together: an inquiry (照会) as its addressee sees it, and a 支援会議 with minutes and an action item.
    inquiry = services.inquiry_create(
        actor=cast.actor("alice"),
        client_id=cast.client.id,
        to=["houkatsu"],
        subject="通所の状況",
        body="最近の通所の様子を教えてください。",
    )
    outbox_relay()
    carol = open_as("carol")
    _show(carol, f"{base}/inquiries/", "照会", "inquiries")
    _show(carol, f"{base}/inquiries/{inquiry.id}/", "通所の状況", "inquiry")
    meeting = convene(cast)
    services.meeting_minutes_record(
        actor=cast.actor("sam"),
        meeting_id=meeting.id,
        summary="本人の生活状況と家族の状況を共有した。",
        decisions="社協が家計相談を行う。",
        action_items=[{"agency": "shakyo", "client": str(cast.client.id), "task": "家計相談の予約", "due_on": None}],
    )
    _show(sam, f"{base}/meetings/", "支援会議", "meetings")
    _show(sam, f"{base}/meetings/{meeting.id}/", "山田さん世帯の支援会議", "meeting")
    _show(sam, f"{base}/clients/{meeting.client2.id}/shares/", "共有先の一覧", "shares-meeting")  # 確認待ち
    _show(bob, f"{base}/tasks/", "役割分担", "tasks")


@both_viewports
def test_attachments_on_the_timeline_and_their_preview(cast, open_as, live_server, viewport, settings, tmp_path):
    """A consent form and a photo on the timeline (a thumbnail, a type mark, ダウンロード and プレビュー), the
    photo's preview dialog, and what another agency sees of them once the client's address is confidential."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments"), "base_url": None},
        },
    }
    from tests.frontend.test_attachment_pages import attach, jpeg_bytes, pdf_bytes

    attach(cast, files=[("同意書_2026.pdf", pdf_bytes()), ("自宅の様子.jpg", jpeg_bytes((640, 480)))])
    client = f"{live_server.url}/clients/{cast.client.id}/"

    alice = open_as("alice")
    alice.goto(client)
    files = alice.locator("#timeline ul.attachments > li")
    expect(files).to_have_count(2)
    alice.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=files.nth(1).get_by_role("img").element_handle()
    )
    shot(alice, f"screen-client-attachments-{viewport_name(alice)}")
    files.nth(1).get_by_role("link", name=re.compile("^プレビュー")).click()
    dialog = alice.locator("#attachment-dialog")
    alice.wait_for_function(
        "(img) => img.complete && img.naturalWidth === 640", arg=dialog.get_by_role("img").element_handle()
    )
    shot(alice, f"screen-attachment-preview-{viewport_name(alice)}")
    dialog.get_by_role("button", name="閉じる").click()

    services.client_update(actor=cast.actor("alice"), client_id=cast.client.id, changes={"address_confidential": True})
    bob = open_as("bob")
    bob.goto(client)
    expect(bob.locator("#timeline ul.attachments > li").first).to_have_text(
        re.compile("添付ファイル（住所秘匿のため表示できません）")
    )
    shot(bob, f"screen-client-attachments-masked-{viewport_name(bob)}")
