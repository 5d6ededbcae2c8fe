"""基本情報を編集, 状態を変更, the 緊急アクセス中 banner and the client page's summary, through the Django test client.

Editing and changing the status are offered exactly where the services allow them (``manage``), go through the
services (audited, the status change on the timeline with its reason, announced to the sharing agencies), and
answer bad input with Japanese field errors that change nothing; a refused post is the service's audited refusal.
"""

import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from cases import selectors, services
from cases.models import OutboxMessage, TimelineEntry
from tests.frontend.conftest import text


def edit_url(cast) -> str:
    return reverse("frontend:client_edit", args=[cast.client.id])


def status_url(cast) -> str:
    return reverse("frontend:client_status", args=[cast.client.id])


def detail_url(cast) -> str:
    return reverse("frontend:client_detail", args=[cast.client.id])


def profile(cast):
    return selectors.client_get(actor=cast.actor("alice", channel="cli"), client_id=cast.client.id)


def events(action: str, **filters):
    return AuditEvent.objects.filter(action=action, channel="web", **filters)


EDIT = {
    "name": "山田 太郎",
    "name_kana": "ヤマダ タロウ",
    "birth_date": "1948-04-01",
    "address": "新潟県三条市旭町2丁目3-1 201号",
    "phone": "0256-11-2222",
    "tags": ["高齢", "8050"],
    "other_tags": "虐待疑い",
}


def open_grant(cast, name="charlie"):
    services.break_glass_open(
        actor=cast.actor(name), name_kana="やまだ たろう", birth_date=date(1948, 4, 1), reason="救急搬送の連絡のため"
    )


# --- who is offered what ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "offered"), [("alice", True), ("sam", True), ("ada", True), ("bob", False), ("carol", False)]
)
def test_the_buttons_and_forms_are_offered_where_the_service_allows(cast, as_user, who, offered):
    client = as_user(who)
    body = text(client.get(detail_url(cast)))
    assert (edit_url(cast) in body) is offered and (status_url(cast) in body) is offered
    for url in (edit_url(cast), status_url(cast)):
        response = client.get(url)
        assert response.status_code == (200 if offered else 403)
        if not offered:
            assert "管理権限" in text(response)


def test_break_glass_offers_no_edit(cast, as_user):
    open_grant(cast)
    client = as_user("charlie")
    assert edit_url(cast) not in text(client.get(detail_url(cast)))
    assert client.get(edit_url(cast)).status_code == 403


def test_the_edit_form_is_filled_in_from_the_client(cast, as_user):
    body = text(as_user("alice").get(edit_url(cast)))
    assert 'value="0256-00-0000"' in body and "新潟県三条市旭町2丁目3-1" in body
    assert re.search(r'<input type="checkbox" name="tags" value="8050"[^>]*checked', body)


# --- editing ------------------------------------------------------------------------------------------------


def test_editing_saves_through_the_service_and_is_audited(cast, as_user):
    response = as_user("alice").post(edit_url(cast), EDIT)
    assert response.status_code == 302 and response["Location"] == detail_url(cast)
    client = profile(cast)
    assert (client.phone, client.address) == ("0256-11-2222", "新潟県三条市旭町2丁目3-1 201号")
    assert client.tags == ["高齢", "8050", "虐待疑い"]
    event = events("client.update").get()
    assert event.outcome == "allowed" and event.client_ids == [str(cast.client.id)]
    assert event.details["fields"] == ["address", "phone", "tags"]
    assert "0256-11-2222" not in str(event.details)  # no case content in the audit log


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "電話して", "電話番号は数字とハイフンで入力してください。"),
        ("name_kana", "Yamada", "フリガナはひらがなまたはカタカナで入力してください。"),
        ("birth_date", "1948-13-01", "生年月日は YYYY-MM-DD の形式で入力してください。"),
        ("name", "", "この項目は必須です。"),
        ("other_tags", "、".join(f"タグ{i}" for i in range(12)), "タグは10個まで"),
        ("address_confidential", "yes please", "チェックボックスの値が不正です。"),
    ],
)
def test_bad_input_is_a_japanese_field_error_and_changes_nothing(cast, as_user, field, value, message):
    before = profile(cast)
    response = as_user("alice").post(edit_url(cast), {**EDIT, field: value})
    assert response.status_code == 400
    body = text(response)
    assert message in body and "変更は保存されていません。" in body
    assert profile(cast) == before
    assert not events("client.update").exists()


@pytest.mark.parametrize(("who", "status"), [("bob", 403), ("carol", 403), ("charlie", 404), ("rick", 404)])
def test_a_post_without_the_right_is_the_services_audited_refusal(cast, as_user, who, status):
    before = profile(cast)
    response = as_user(who).post(edit_url(cast), EDIT)
    assert response.status_code == status and "山田" not in text(response)
    assert profile(cast) == before
    assert events("client.update", outcome="denied", actor_username=who).count() == 1


def test_another_agencys_confidential_address_is_left_out_of_the_form(cast, as_user):
    services.client_update(actor=cast.actor("alice"), client_id=cast.client.id, changes={"address_confidential": True})
    services.share_grant(
        actor=cast.actor("sam"), client_id=cast.client.id, agency_code="shisetsu", level="manage", basis="consent"
    )
    client = as_user("charlie")
    body = text(client.get(edit_url(cast)))
    assert 'name="address"' not in body and "新潟県" not in body and "登録機関のみが行えます" in body
    posted = {k: v for k, v in EDIT.items() if k != "address"}
    assert client.post(edit_url(cast), posted).status_code == 302
    assert profile(cast).address == "新潟県三条市旭町2丁目3-1"  # unchanged
    assert profile(cast).phone == "0256-11-2222"
    # A crafted post with the address is refused by the service (audited), and changes nothing.
    assert client.post(edit_url(cast), {**posted, "phone": "0256-33-4444", "address": "東京"}).status_code == 403
    assert profile(cast).phone == "0256-11-2222"
    assert events("client.update", outcome="denied", actor_username="charlie").count() == 1


# --- changing the status ------------------------------------------------------------------------------------


def test_a_status_change_is_recorded_on_the_timeline_with_its_reason_and_announced(cast, as_user):
    reason = "本人が市外の施設へ入所したため支援を終結する。"
    response = as_user("alice").post(status_url(cast), {"status": "closed", "reason": reason})
    assert response.status_code == 302 and response["Location"] == detail_url(cast) + "#timeline"
    assert profile(cast).status == "closed"
    entry = TimelineEntry.objects.get(client_id=cast.client.id, kind="status_change")
    assert entry.event == "status_changed" and entry.body == reason
    assert entry.event_params == {"from": "active", "to": "closed"}
    event = events("client.update").get()
    assert event.outcome == "allowed" and event.details["fields"] == ["status"]
    assert reason not in str(event.details)
    assert OutboxMessage.objects.filter(topic="client.status", payload__entry_id=str(entry.id)).exists()
    # Every reader sees the change and the reason on the timeline, in their language.
    body = text(as_user("bob").get(detail_url(cast)))
    assert "状態を「支援中」から「終結」に変更しました。" in body and "理由: " + reason in body


def test_on_hold_and_back(cast, as_user):
    client = as_user("sam")
    assert client.post(status_url(cast), {"status": "paused", "reason": "入院のため一時休止"}).status_code == 302
    assert 'class="badge status-paused">休止<' in text(client.get(detail_url(cast)))
    assert client.post(status_url(cast), {"status": "active", "reason": "退院し在宅に戻った"}).status_code == 302
    assert profile(cast).status == "active"
    kinds = TimelineEntry.objects.filter(client_id=cast.client.id, kind="status_change").order_by("recorded_at")
    assert [e.event_params["to"] for e in kinds] == ["paused", "active"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "closed", "reason": "  "}, "変更の理由を入力してください。"),
        ({"status": "closed", "reason": "あ" * 1001}, "理由は1000文字以内で入力してください。"),
        ({"status": "active", "reason": "念のため"}, "現在と同じ状態です。"),
        ({"status": "deleted", "reason": "念のため"}, "正しく選択してください。"),
    ],
)
def test_a_bad_status_change_is_a_field_error_and_changes_nothing(cast, as_user, data, message):
    response = as_user("alice").post(status_url(cast), data)
    assert response.status_code == 400
    assert message in text(response) and "状態は変更されていません。" in text(response)
    assert profile(cast).status == "active"
    assert not TimelineEntry.objects.filter(client_id=cast.client.id, kind="status_change").exists()
    assert not events("client.update").exists()
    assert 'value="active"' not in text(response)  # shown again offering the other states only


@pytest.mark.parametrize(("who", "status"), [("carol", 403), ("charlie", 404)])
def test_a_status_change_without_the_right_is_refused_and_audited(cast, as_user, who, status):
    response = as_user(who).post(status_url(cast), {"status": "closed", "reason": "終結とする"})
    assert response.status_code == status
    assert profile(cast).status == "active"
    assert events("client.update", outcome="denied", actor_username=who).count() == 1


def test_the_status_form_offers_the_other_states(cast, as_user):
    body = text(as_user("alice").get(status_url(cast)))
    assert 'value="paused"' in body and 'value="closed"' in body and 'value="active"' not in body


# --- emergency access ----------------------------------------------------------------------------------------


def test_break_glass_shows_the_banner_with_the_local_expiry_and_the_header_link(cast, as_user):
    open_grant(cast)
    grant_end = timezone.localtime(selectors.break_glass_open_grants(actor=cast.actor("charlie"))[0].expires_at)
    client = as_user("charlie")
    body = text(client.get(detail_url(cast)))
    assert f"緊急アクセス中 — {grant_end:%H:%M} まで" in body
    assert 'class="emergency-strip"' in body and f'href="{detail_url(cast)}"' in body
    # The header says so on every page, the list included.
    listing = text(client.get(reverse("frontend:client_list")))
    assert f"対象者のページへ（{grant_end:%H:%M} まで）" in listing
    # Those who see the client through a share see no banner, and no header link.
    alice = text(as_user("alice").get(detail_url(cast)))
    assert "緊急アクセス中 —" not in alice and 'class="emergency-strip"' not in alice


def test_the_banner_in_english(cast, as_user):
    open_grant(cast)
    client = as_user("charlie")
    client.post(reverse("set_language"), {"language": "en"})
    body = text(client.get(detail_url(cast)))
    assert re.search(r"Emergency access — until \d\d:\d\d", body)


def test_the_list_read_model_says_which_clients_are_reached_by_break_glass(cast):
    open_grant(cast)
    [seen] = selectors.client_list(actor=cast.actor("charlie")).items
    assert seen.via_break_glass and seen.emergency_until > timezone.now()
    [shared] = selectors.client_list(actor=cast.actor("alice")).items
    assert not shared.via_break_glass and shared.emergency_until is None


# --- the summary -------------------------------------------------------------------------------------------------


def test_the_summary_sits_above_the_entry_form_with_the_essentials(cast, as_user):
    services.client_update(
        actor=cast.actor("alice"),
        client_id=cast.client.id,
        changes={"tags": ["高齢", "虐待疑い"], "address_confidential": True},
    )
    body = text(as_user("carol").get(detail_url(cast)))
    summary = body[body.index('class="client-summary"') : body.index("</dl>", body.index('class="client-summary"'))]
    assert body.index('class="client-summary"') < body.index('id="entry-form-wrap"') < body.index('id="timeline"')
    assert cast.client.case_number in summary
    assert 'class="badge status-active">支援中<' in summary
    assert 'class="badge level-append">閲覧・追記<' in summary
    assert '<span class="tag tag-risk">虐待疑い</span>' in summary and '<span class="tag">高齢</span>' in summary
    assert "秘匿（DV等支援措置）" in summary and "新潟県" not in body
    partners = re.findall(r'<span class="partner">([^<]+)<', summary)
    assert sorted(partners) == sorted(
        {
            "三条市 福祉課",
            "三条市社会福祉協議会",
            "地域包括支援センター嵐南",
        }
    )  # the active shares only: not the expired or the revoked one
