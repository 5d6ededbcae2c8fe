"""A new API key is shown once: one button copies it (Chromium, Japanese)."""

import re

import pytest
from playwright.sync_api import expect

from tests.frontend.conftest import TABLET, shot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_new_api_key_is_copied_with_one_button_and_selected_where_the_clipboard_is_refused(cast, open_as):
    ada = open_as("ada", viewport=TABLET)
    ada.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ada.get_by_role("link", name="機関管理").click()
    ada.get_by_role("link", name="APIキーを発行").click()
    ada.get_by_label("利用する職員").select_option(label="Ivan（ivan・連携システム）")
    ada.get_by_label("キーの名前").fill("ケース管理システム連携")
    ada.get_by_role("button", name="発行する").click()
    secret = ada.get_by_role("textbox", name="APIキー").input_value()
    assert secret.startswith("tsg_")

    copy = ada.get_by_role("button", name=re.compile(r"^コピー\s*:\s*APIキー$"))
    copy.click()
    expect(ada.get_by_role("status").filter(has_text="コピーしました")).to_be_visible()
    assert ada.evaluate("navigator.clipboard.readText()") == secret
    shot(ada, "apikey-copied")

    # Without the clipboard API (a plain-HTTP intranet address): the key is selected for Ctrl+C instead.
    ada.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})")
    ada.evaluate("document.getElementById('secret-copied').textContent = ''")
    copy.click()
    expect(ada.locator("#secret-copied")).not_to_be_empty()
    selection = ada.evaluate(
        "[document.activeElement.id, document.activeElement.selectionStart, document.activeElement.selectionEnd]"
    )
    assert selection == ["secret", 0, len(secret)]
