"""The privacy officer's console (監査) and the caseworker's break-glass request (緊急アクセス).

Console pages are for privacy officers only (penny); everyone else gets the 403 page and the attempt is in the
audit log as denied. Every page the officer opens is itself an ``audit.view`` event.
"""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from tests.frontend.conftest import text

# --- break-glass (緊急アクセス) ------------------------------------------------------------------------------


def _break_glass(client, **changes):
    data = {
        "name_kana": "ヤマダ タロウ",
        "birth_date": "1948-04-01",
        "reason": "救急搬送の連絡があり、緊急連絡先を確認するため",
    }
    return client.post(reverse("frontend:break_glass"), {**data, **changes})


def test_client_list_links_to_break_glass_and_the_page_warns(cast, as_user):
    charlie = as_user("charlie")
    assert reverse("frontend:break_glass") in text(charlie.get(reverse("frontend:client_list")))
    body = text(charlie.get(reverse("frontend:break_glass")))
    assert "この操作は記録され、個人情報保護管理者が確認します。" in body
    assert 'for="bg-name_kana"' in body and 'for="bg-birth_date"' in body and 'for="bg-reason"' in body


def test_break_glass_opens_the_client_for_four_hours_and_the_timeline_shows_it(cast, as_user):
    charlie = as_user("charlie")
    client_url = reverse("frontend:client_detail", args=[cast.client.id])
    assert charlie.get(client_url).status_code == 404
    response = _break_glass(charlie, name_kana="やまだ たろう")  # hiragana finds the katakana フリガナ
    assert response.status_code == 302 and response["Location"] == client_url
    page = charlie.get(client_url)
    body = text(page)
    assert page.status_code == 200 and "山田 太郎" in body
    assert "緊急アクセスを記録しました。4 時間、閲覧できます。" in body
    assert "緊急アクセス（閲覧、" in body  # the system entry on the timeline
    event = AuditEvent.objects.get(action="break_glass", outcome="allowed")
    assert event.actor_username == "charlie" and event.channel == "web"
    assert event.client_ids == [str(cast.client.id)] and event.authorised_by.startswith("break_glass:")


def test_break_glass_with_a_wrong_birth_date_is_not_found(cast, as_user):
    charlie = as_user("charlie")
    response = _break_glass(charlie, birth_date="1948-04-02")
    assert response.status_code == 404
    assert "該当する支援対象者が見つかりません。" in text(response) and "山田" not in text(response)
    assert charlie.get(reverse("frontend:client_detail", args=[cast.client.id])).status_code == 404
    assert AuditEvent.objects.filter(action="break_glass", outcome="denied", actor_username="charlie").count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reason": "  "}, "reason", "緊急アクセスの理由を入力してください。"),
        ({"reason": "確認"}, "reason", "5文字以上"),
        ({"name_kana": ""}, "name_kana", "フリガナを入力してください。"),
        ({"birth_date": "昭和23年"}, "birth_date", "YYYY-MM-DD"),
    ],
)
def test_break_glass_field_errors_open_nothing(cast, as_user, changes, field, message):
    response = _break_glass(as_user("charlie"), **changes)
    assert response.status_code == 400
    body = text(response)
    assert f'id="bg-{field}_error"' in body and message in body
    assert not AuditEvent.objects.filter(action="break_glass", outcome="allowed").exists()
