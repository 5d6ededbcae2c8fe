"""Two-factor enrolment and sign-in in a real browser (Chromium through Playwright), live server, PostgreSQL."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.cast import PASSWORD
from tests.frontend.conftest import DESKTOP, shot
from tests.mfa import current_code

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_administrator_enrols_with_the_qr_page_and_signs_in_with_a_code(cast, browser, live_server):
    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    csp_errors = []
    page.on("console", lambda m: "Content Security Policy" in m.text and csp_errors.append(m.text))
    page.goto(f"{live_server.url}{reverse('frontend:agency_admin')}")
    page.get_by_label("ユーザー名").fill("ada")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()

    expect(page.get_by_role("heading", name="二要素認証の設定")).to_be_visible()
    qr = page.locator(".mfa-qr svg")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 150
    secret = page.locator("code.mfa-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    shot(page, "mfa-enrol")
    page.get_by_label("確認コード").fill(current_code(secret))
    page.get_by_role("button", name="登録する").click()

    expect(page.get_by_role("heading", name="二要素認証を設定しました")).to_be_visible()
    codes = page.locator("li.recovery-code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="控えたので続ける").click()
    expect(page.get_by_role("heading", name="機関管理")).to_be_visible()

    # Next time: password, then a recovery code on the code page (the phone is elsewhere).
    page.get_by_role("button", name="ログアウト").click()
    page.get_by_label("ユーザー名").fill("ada")
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="二要素認証")).to_be_visible()
    page.get_by_label("確認コード").fill("000000")
    page.get_by_role("button", name="確認する").click()
    expect(page.locator("#id_code_error")).to_contain_text("確認コードが正しくありません")
    page.get_by_label("確認コード").fill(codes[0])
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("heading", name="機関管理")).to_be_visible()
    assert csp_errors == []
    context.close()
