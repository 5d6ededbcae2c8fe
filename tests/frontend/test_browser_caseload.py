"""The case list as a caseload, in Chromium (Japanese, desktop 1366×900 and tablet 820×1180): a caseworker lands
on 自分の担当, switches to すべて, sorts, saves a filter and assigns a colleague from the client page; risk tags
stay in view on a tablet. Screenshots go to test-artifacts/screenshots/."""

from datetime import date

import pytest
from playwright.sync_api import expect

from cases import services
from tests.frontend.conftest import both_viewports, shot, viewport_name

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@both_viewports
def test_a_caseworker_s_caseload(cast, open_as, live_server, viewport):
    alice = cast.actor("alice")
    child = services.client_create(
        actor=alice,
        name="小林 陽菜",
        name_kana="こばやし ひな",
        birth_date=date(2016, 5, 1),
        tags=["子ども", "虐待疑い", "生活困窮"],
    )
    services.assignment_add(actor=alice, client_id=child.id, user_id=cast.users["alice"].pk)

    page = open_as("alice")
    size = viewport_name(page)
    expect(page.get_by_role("heading", name="ケース一覧", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="自分の担当")).to_have_attribute("aria-current", "page")
    rows = page.locator("table.clients tbody tr")
    expect(rows).to_have_count(1)  # only her own case
    expect(rows.first).to_contain_text("小林 陽菜")
    expect(rows.first).to_contain_text("福祉課 Alice")
    # The risk tag is on screen, not behind a sideways scroll.
    tag = rows.first.locator(".tag", has_text="虐待疑い")
    expect(tag).to_be_visible()
    box = tag.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
    shot(page, f"caseload-mine-{size}")

    page.get_by_role("link", name="すべて", exact=True).click()
    expect(page.get_by_role("link", name="すべて", exact=True)).to_have_attribute("aria-current", "page")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("小林 陽菜")  # フリガナ順
    page.get_by_label("並び順").select_option("kana_desc")
    expect(rows.first).to_contain_text("山田 太郎")
    page.get_by_label("並び順").select_option("created")
    expect(rows.first).to_contain_text("小林 陽菜")  # registered last

    page.get_by_label("今の絞り込みを保存").fill("すべて・登録順")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("絞り込み「すべて・登録順」を保存しました。")
    saved = page.get_by_role("link", name="すべて・登録順")
    expect(saved).to_be_visible()
    page.get_by_role("link", name="自分の担当").click()
    expect(rows).to_have_count(1)
    saved.click()
    expect(page.get_by_label("並び順")).to_have_value("created")
    expect(rows).to_have_count(2)
    shot(page, f"caseload-saved-filter-{size}")

    page.get_by_role("link", name="山田 太郎").click()
    expect(page.locator(".assignee-line")).to_contain_text("未設定")
    page.get_by_text("自機関の担当者を変更").click()
    page.get_by_label("職員").select_option(label="Sam")
    page.get_by_role("button", name="担当に追加").click()
    expect(page.locator(".messages")).to_contain_text("Sam さんを担当者に追加しました。")
    expect(page.locator(".assignee-line")).to_contain_text("担当: 福祉課 Sam")
    shot(page, f"caseload-assigned-{size}")

    # The partner sees who carries the case.
    partner = open_as("bob")
    partner.goto(f"{live_server.url}/clients/{cast.client.id}/")
    expect(partner.locator(".assignee-line")).to_contain_text("担当: 福祉課 Sam")
