"""The API speaks Japanese by default and follows the request's Accept-Language: problem details and the
rendered system entries of the timeline (the fields and their types do not change)."""

import uuid

import pytest

from agencies.actors import Actor
from cases import services

pytestmark = pytest.mark.django_db


def test_a_problem_detail_follows_the_request_language(api):
    url = f"/api/v1/clients/{uuid.uuid4()}/"
    default = api("alice").get(url).json()
    english = api("alice").get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    assert default["detail"] == "見つかりません。"
    assert english["detail"] == "Not found."
    assert set(default) == set(english)


def test_the_api_timeline_body_follows_the_request_language(cast, api):
    sam = Actor.for_user(cast.users["sam"], channel="web")
    services.client_update(actor=sam, client_id=cast.client.id, changes={"status": "closed"})
    url = f"/api/v1/clients/{cast.client.id}/timeline/"
    default = api("alice").get(url).json()["results"]
    english = api("alice").get(url, HTTP_ACCEPT_LANGUAGE="en").json()["results"]
    assert any(e["body"] == "状態を「支援中」から「終結」に変更しました。" for e in default)
    assert any(e["body"].startswith("Status changed from") for e in english)


def test_an_api_validation_error_and_its_title_follow_the_request_language(cast, api):
    url = f"/api/v1/clients/{cast.client.id}/"
    sent = {"nickname": "x", "birth_date": "2020/01/01"}
    default = api("alice").patch(url, sent, format="json")
    english = api("alice").patch(url, sent, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert default.status_code == english.status_code == 400
    default, english = default.json(), english.json()
    assert default["title"] == "入力内容に誤りがあります"
    assert default["detail"] == "入力内容に誤りがあります。"
    assert default["errors"] == {
        "birth_date": ["日付は YYYY-MM-DD（1900〜2999年）の形式で指定してください。"],
        "nickname": ["この項目は指定できません。"],
    }
    assert english["title"] == "Some of the input is not valid"
    assert english["detail"] == "Some of the input is not valid."
    assert english["errors"] == {
        "birth_date": ["Send the date as YYYY-MM-DD (years 1900 to 2999)."],
        "nickname": ["This field is not allowed."],
    }
    assert english["type"] == default["type"] == "urn:tsunagu:problem:invalid-input"


def test_an_authentication_error_follows_the_request_language(cast, api):
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    default = client.get("/api/v1/me/")
    english = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en")
    assert default.status_code == english.status_code == 401
    assert default.json()["title"] == "認証が必要です"
    assert default.json()["detail"] == "APIキーが無効です（形式の誤り、未登録、期限切れまたは失効）。"
    assert english.json()["title"] == "Authentication required"
    assert english.json()["detail"] == "The API key is not valid (malformed, unknown, expired or revoked)."
    missing = api(None).get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert missing["detail"] == "No credentials. Send Authorization: Bearer <API key>."


def test_the_shared_period_and_cursor_messages_follow_the_request_language(cast, api):
    """The period rule (tsunagu.periods) and the keyset cursor message (tsunagu.keyset) are translated at the
    source, like every other message."""
    period = "/api/v1/audit/events/?since=2026-11-30T00:00:00%2B09:00&until=2026-11-01T00:00:00%2B09:00"
    default = api("penny").get(period).json()
    english = api("penny").get(period, HTTP_ACCEPT_LANGUAGE="en").json()
    assert default["errors"] == {"until": ["終了日時は開始日時より後にしてください。"]}
    assert english["errors"] == {"until": ["The end must be later than the start."]}
    cursor = f"/api/v1/clients/{cast.client.id}/timeline/?cursor=AAAA"
    assert api("alice").get(cursor).json()["errors"]["cursor"] == [
        "カーソルが不正です。最初のページから開き直してください。"
    ]
    assert api("alice").get(cursor, HTTP_ACCEPT_LANGUAGE="en").json()["errors"]["cursor"][0].startswith("The cursor")
