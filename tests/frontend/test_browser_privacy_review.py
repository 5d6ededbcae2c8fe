"""The privacy officer reviews an emergency access in a real browser (Chromium, Japanese, desktop 1366×900): the
break-glass flag shows the reason given, the expiry and what was opened under the grant; from there, the client's
history shows other agencies' access, and a bookmarkable switch shows everything with the hidden events counted.
Screenshots go to test-artifacts/screenshots/."""

import re
from datetime import date

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

from agencies.actors import Actor
from audit import review
from cases import selectors, services
from cases.models import BreakGlassGrant
from tests.frontend.conftest import shot
from tsunagu.errors import Forbidden, NotFound

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DESKTOP_1366 = {"width": 1366, "height": 900}
REASON = "ショートステイ中に救急搬送され、搬送先から服薬の照会があったため"


def test_officer_reads_a_break_glass_flag_then_the_client_history(cast, open_as):
    charlie = cast.actor("charlie")
    services.break_glass_open(actor=charlie, name_kana="ヤマダ タロウ", birth_date=date(1948, 4, 1), reason=REASON)
    selectors.client_get(actor=charlie, client_id=cast.client.id)
    selectors.timeline_list(actor=charlie, client_id=cast.client.id)
    with pytest.raises((Forbidden, NotFound)):
        services.timeline_append(actor=charlie, client_id=cast.client.id, kind="note", body="追記の試み")
    selectors.client_list(actor=cast.actor("alice"), limit=20)
    review.detect_anomalies(actor=Actor.system(channel="task"))
    grant = BreakGlassGrant.objects.get()
    expiry = date_format(timezone.localtime(grant.expires_at), "DATETIME_FORMAT")

    penny = open_as("penny", viewport=DESKTOP_1366)
    penny.get_by_role("link", name="監査", exact=True).click()
    penny.get_by_role("navigation", name="監査メニュー").get_by_role("link", name="異常検知フラグ").click()
    penny.get_by_role("link", name="緊急アクセスの利用").first.click()

    request = penny.get_by_test_id("break-glass-grant")
    expect(request.get_by_role("heading", name="緊急アクセスの申請")).to_be_visible()
    expect(penny.get_by_test_id("grant-reason")).to_have_text(REASON)
    expect(penny.get_by_test_id("grant-expiry")).to_have_text(expiry)
    expect(penny.get_by_test_id("grant-end")).to_contain_text("緊急アクセス中")
    expect(request.get_by_role("heading", name="緊急アクセス中に開かれた記録（3 件）")).to_be_visible()
    opened = request.locator(".audit-table tbody tr")
    expect(opened).to_have_count(3)
    for row, (label, outcome) in zip(
        opened.all(),
        [("基本情報の閲覧", "許可"), ("支援記録の閲覧", "許可"), ("支援記録の追加", "拒否")],
        strict=True,
    ):
        expect(row).to_contain_text(label)
        expect(row).to_contain_text(outcome)
        expect(row).to_contain_text(cast.client.case_number)
    expect(opened.nth(2)).to_contain_text("緊急アクセスは閲覧のみ")
    summary = penny.get_by_test_id("flag-summary")
    expect(summary).to_contain_text("charlie（障がい者支援施設 さくら園）が緊急アクセスを利用しました")
    expect(summary).to_contain_text(cast.client.case_number)
    expect(summary).not_to_contain_text(str(cast.client.id))
    shot(penny, "privacy-flag-break-glass-1366")

    # From the request to the client's history: other agencies' access by default.
    request.get_by_role("link", name="山田 太郎").first.click()
    expect(penny.get_by_role("heading", name=re.compile("山田 太郎 さんへのアクセス履歴"))).to_be_visible()
    table = penny.locator(".audit-table")
    expect(table).to_contain_text("緊急アクセス")
    expect(table).to_contain_text("支援記録の閲覧")
    expect(table).not_to_contain_text("一覧の表示")
    expect(table).not_to_contain_text("支援対象者の識別情報の照会")
    hidden = penny.get_by_test_id("hidden-counts")
    expect(hidden).to_contain_text("監査担当の照会")
    expect(hidden).to_contain_text("一覧・検索での表示 1 件")
    switch = penny.get_by_role("navigation", name="表示する記録")
    expect(switch.get_by_role("link", name="他機関のアクセス")).to_have_attribute("aria-current", "page")
    shot(penny, "privacy-client-history-1366")

    switch.get_by_role("link", name="すべての記録").click()
    expect(penny).to_have_url(re.compile(r"/privacy/clients/[0-9a-f-]+/\?show=all$"))
    expect(switch.get_by_role("link", name="すべての記録")).to_have_attribute("aria-current", "page")
    expect(table).to_contain_text("一覧の表示")
    expect(table).to_contain_text("支援対象者の識別情報の照会")
    shot(penny, "privacy-client-history-all-1366")

    # The switch is a plain link: the page comes back the same from its address (a bookmark).
    penny.reload()
    expect(switch.get_by_role("link", name="すべての記録")).to_have_attribute("aria-current", "page")
