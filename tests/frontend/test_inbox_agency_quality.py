"""The inbox, the agency administration page, CSRF, the language switch and the page hygiene (CSP, no inline JS)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from agencies.services import apikey_authenticate
from audit.models import AuditEvent
from cases import services
from cases.models import Notification
from tests.cast import PASSWORD
from tests.frontend.conftest import text
from tests.mfa import sign_in


@pytest.fixture
def noticed(settled, django_capture_on_commit_callbacks):
    """Carol has appended twice since the cast settled: bob (and the owner agency's staff) have two notices."""
    with django_capture_on_commit_callbacks(execute=True):
        for body in ("一回目", "二回目"):
            services.timeline_append(actor=settled.actor("carol"), client_id=settled.client.id, kind="call", body=body)
    return settled


# --- inbox ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "sam", "ada", "bob", "carol", "charlie", "erin", "rick", "penny"])
def test_inbox_for_every_member(noticed, as_user, who):
    client = as_user(who)
    assert client.get(reverse("frontend:inbox")).status_code == 200
    response = client.get(reverse("frontend:inbox"), {"unread": "1"})
    body = text(response)
    assert response.status_code == 200
    expected = 2 if who in ("alice", "sam", "ada", "bob") else 0
    assert body.count("支援記録（電話）が追加されました") == expected
    if expected:
        assert '<span class="count" aria-hidden="true">2</span>' in body  # the header's unread count
        assert f'href="/clients/{noticed.client.id}/#entry-' in body and "地域包括支援センター嵐南" in body
        # Grouped under the client, named while the reader's agency can see it.
        assert body.count('class="card notice-group"') == 1 and "山田 太郎" in body
        assert noticed.client.case_number in body
        assert "このケースをすべて既読にする" in body
    else:
        assert "未読のお知らせはありません。" in body and "山田" not in body


def test_mark_one_then_all_read(noticed, as_user):
    bob = as_user("bob")
    ids = list(Notification.objects.filter(recipient__username="bob", read_at=None).values_list("pk", flat=True))
    response = bob.post(reverse("frontend:inbox_mark_read"), {"id": str(ids[0])}, HTTP_HX_REQUEST="true")
    assert (
        response.status_code == 200 and 'id="unread-badge"' in text(response) and 'hx-swap-oob="true"' in text(response)
    )
    assert Notification.objects.filter(recipient__username="bob", read_at=None).count() == 1
    response = bob.post(reverse("frontend:inbox_mark_read"), {"all": "1"})
    assert response.status_code == 302
    assert "1 件を既読にしました。" in text(bob.get(response["Location"]))
    assert Notification.objects.filter(recipient__username="bob", read_at=None).count() == 0


def test_no_one_can_mark_anothers_notices(noticed, as_user):
    alice_notice = Notification.objects.filter(recipient__username="alice").first()
    as_user("bob").post(reverse("frontend:inbox_mark_read"), {"id": [str(alice_notice.pk), "garbage"]})
    assert Notification.objects.get(pk=alice_notice.pk).read_at is None


def test_opening_the_client_marks_its_notices_read(noticed, as_user):
    bob = as_user("bob")
    assert 'class="count"' in text(bob.get(reverse("frontend:inbox")))
    bob.get(reverse("frontend:client_detail", args=[noticed.client.id]))
    assert Notification.objects.filter(recipient__username="bob", read_at=None).count() == 0


def test_unread_badge_endpoint(noticed, as_user):
    response = as_user("alice").get(reverse("frontend:unread_badge"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "未読 2 件" in text(response)


# --- agency administration -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "sam", "bob", "carol", "charlie", "penny"])
def test_agency_pages_are_for_agency_admins_only(cast, as_user, who):
    client = as_user(who)
    response = client.get(reverse("frontend:agency_admin"))
    assert response.status_code == 403 and "機関管理者のみが利用できます。" in text(response)
    assert "機関管理</a>" not in text(client.get(reverse("frontend:client_list")))  # not in the menu either
    assert AuditEvent.objects.filter(action="staff.list", outcome="denied", actor_username=who).exists()
    # Anyone may issue a key for themselves; the form offers nobody else.
    form = text(client.get(reverse("frontend:apikey_issue")))
    assert {name for name in cast.users if f"（{name}・" in form} == {who}


def test_agency_admin_sees_only_their_agencys_staff(cast, as_user):
    response = as_user("ada").get(reverse("frontend:agency_admin"))
    body = text(response)
    assert response.status_code == 200
    for name in ("alice", "sam", "ada"):
        assert f'<td class="mono">{name}</td>' in body
    assert '<td class="mono">bob</td>' not in body and "機関管理者" in body
    assert AuditEvent.objects.filter(action="staff.list", outcome="allowed", actor_username="ada").count() == 1


def test_issue_a_key_shown_once_then_revoke_it(cast, as_user):
    ada = as_user("ada")
    ivan_id = cast.users["ivan"].pk
    issued = ada.post(
        reverse("frontend:apikey_issue"), {"user": ivan_id, "name": "ケース管理連携", "expires_in_days": 30}
    )
    assert issued.status_code == 200 and issued["Cache-Control"] == "no-store"
    secret = re.search(r'value="(tsg_[^"]+)"', text(issued)).group(1)
    key = apikey_authenticate(secret)
    assert key.user == cast.users["ivan"] and key.name == "ケース管理連携"
    listing = text(ada.get(reverse("frontend:agency_admin")))
    assert "ケース管理連携" in listing and secret not in listing and f"tsg_{key.prefix}_…" in listing
    revoke = reverse("frontend:apikey_revoke", args=[key.pk])
    assert "APIキー「ケース管理連携」を無効にしますか" in text(ada.get(revoke))
    assert ada.post(revoke).status_code == 302
    with pytest.raises(Exception, match="revoked"):
        apikey_authenticate(secret)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "   "}, "この項目は必須です。"),
        ({"expires_in_days": "0"}, "この値は 1 以上でなければなりません。"),
        ({"user": "999999"}, "職員が見つかりません。"),
        ({"user": "x"}, "正しく選択してください"),
    ],
)
def test_bad_key_requests_show_errors_and_issue_nothing(cast, as_user, data, message):
    from agencies.models import ApiKey

    payload = {"user": cast.users["ivan"].pk, "name": "連携", "expires_in_days": "30", **data}
    response = as_user("ada").post(reverse("frontend:apikey_issue"), payload)
    assert response.status_code == 400 and message in text(response)
    assert ApiKey.objects.count() == 0


def test_keys_of_other_agencies_are_not_found(cast, as_user):
    from agencies.actors import Actor
    from agencies.services import apikey_issue

    key, _ = apikey_issue(
        actor=Actor.for_user(cast.users["bob"], channel="web"), user=cast.users["bob"], name="社協の連携"
    )
    ada = as_user("ada")
    assert ada.get(reverse("frontend:apikey_revoke", args=[key.pk])).status_code == 404
    assert ada.post(reverse("frontend:apikey_revoke", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


# --- CSRF ------------------------------------------------------------------------------------------------


def test_every_form_requires_the_csrf_token(cast, noticed):
    cid = cast.client.id
    posts = {
        "alice": [
            (
                reverse("frontend:entry_append", args=[cid]),
                {"kind": "call", "body": "x", "occurred_at": "2026-11-01T10:00"},
            ),
            (reverse("frontend:client_create"), {"name": "a", "name_kana": "あ", "birth_date": "1950-01-01"}),
            (reverse("frontend:client_duplicates"), {"name_kana": "やまだ", "birth_date": "1948-04-01"}),
            (reverse("frontend:inbox_mark_read"), {"all": "1"}),
            (reverse("frontend:logout"), {}),
        ],
        "sam": [
            (
                reverse("frontend:share_grant", args=[cid]),
                {"agency": "shisetsu", "level": "read", "basis": "consent", "confirm": "1"},
            ),
            (reverse("frontend:share_revoke", args=[cid, cast.shares["reader"].id]), {}),
        ],
        "ada": [(reverse("frontend:apikey_issue"), {"user": cast.users["ada"].pk, "name": "k"})],
    }
    state = _state(cast)
    for who, requests in posts.items():
        client = Client(enforce_csrf_checks=True)
        sign_in(client, cast.users[who])
        for url, data in requests:
            response = client.post(url, data)
            assert response.status_code == 403, url
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post(reverse("frontend:login"), {"username": "alice", "password": PASSWORD}).status_code == 403
    assert _state(cast) == state


def _state(cast):
    from agencies.models import ApiKey
    from cases.models import Client as ClientModel
    from cases.models import Share, TimelineEntry

    return (
        TimelineEntry.objects.count(),
        ClientModel.objects.count(),
        list(Share.objects.order_by("pk").values_list("pk", "revoked_at")),
        Notification.objects.filter(read_at=None).count(),
        ApiKey.objects.count(),
    )


# --- language, CSP, markup hygiene -------------------------------------------------------------------------


def test_japanese_by_default_and_english_on_request(cast, as_user):
    client = as_user("alice")
    assert "<h1>ケース一覧</h1>" in text(client.get(reverse("frontend:client_list")))
    response = client.post(reverse("set_language"), {"language": "en"}, HTTP_REFERER="http://testserver/")
    assert response.status_code == 302
    page = text(client.get(reverse("frontend:client_list")))
    assert '<html lang="en">' in page and "<h1>Cases</h1>" in page and "Search" in page
    detail = text(client.get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert "Support records" in detail and "Visit" in detail and "Add a record" in detail


def test_dates_are_shown_in_japan_time_the_japanese_way(cast, as_user):
    page = text(as_user("alice").get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert "1948年4月1日" in page
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", page)


PAGES = [
    ("alice", "frontend:client_list", False),
    ("alice", "frontend:client_detail", True),
    ("alice", "frontend:client_create", False),
    ("sam", "frontend:share_page", True),
    ("alice", "frontend:inbox", False),
    ("ada", "frontend:agency_admin", False),
    ("ada", "frontend:apikey_issue", False),
]


@pytest.mark.parametrize(("who", "name", "with_client"), PAGES)
def test_pages_carry_a_strict_csp_and_no_inline_script_style_or_handler(cast, as_user, who, name, with_client):
    url = reverse(name, args=[cast.client.id]) if with_client else reverse(name)
    response = as_user(who).get(url)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    body = text(response)
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)  # every script is a file
    assert not re.search(r"\sstyle=", body) and "<style" not in body
    assert not re.search(r"\son[a-z]+=", body)
    assert "/static/django_htmx/htmx-2" in body and '"includeIndicatorStyles": false' in body
    # Every form control has a label.
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', body))
    hidden = set(re.findall(r'<input[^>]*type="hidden"[^>]*id="([^"]+)"', body))
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', body))
    assert ids - hidden <= labelled
    assert 'class="skip" href="#main"' in body


def test_only_the_api_docs_get_the_inline_script_exception(cast, as_user):
    client = as_user("alice")
    docs = client.get("/api/docs/")
    assert "script-src 'self' 'unsafe-inline'" in docs["Content-Security-Policy"]
    for url in ("/", "/api/v1/me/", "/admin/login/"):
        assert "unsafe-inline" not in client.get(url)["Content-Security-Policy"], url


@pytest.mark.parametrize(("ticked", "scopes"), [(True, ["read"]), (False, ["read", "write"])])
def test_the_key_form_issues_a_read_only_key_when_ticked(cast, as_user, ticked, scopes):
    data = {"user": cast.users["ivan"].pk, "name": "集計システム", "expires_in_days": 30}
    if ticked:
        data["read_only"] = "on"
    issued = as_user("ada").post(reverse("frontend:apikey_issue"), data)
    secret = re.search(r'value="(tsg_[^"]+)"', text(issued)).group(1)
    assert apikey_authenticate(secret).scopes == scopes
    listing = text(as_user("ada").get(reverse("frontend:agency_admin")))
    assert ('集計システム</strong> <span class="badge badge-muted">閲覧専用' in listing) == ticked
