"""The case list in the browser (view tests): each role's home, the tabs, the sort, saved filters, 担当者 on the
client page, the emergency marker and the shares that ended; bad input is a form error, never a 500."""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from cases import services
from cases.models import ClientAssignment, SavedListFilter
from tests.frontend.conftest import text

LIST = "/clients/"


def _assign(cast, who, client_id=None):
    services.assignment_add(actor=cast.actor(who), client_id=client_id or cast.client.id, user_id=cast.users[who].pk)


def _last(action, username):
    return AuditEvent.objects.filter(action=action, actor_username=username).latest("seq")


# --- each role's home ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("olga", "/privacy/"),  # the privacy officer who does no casework
        ("penny", "/privacy/"),  # an officer who is also a caseworker, with no 担当 of her own
        ("ada", "/agency/"),  # an agency administrator with no case of her own
        ("otis", "/agency/"),
    ],
)
def test_a_role_whose_home_is_elsewhere_lands_there(cast, as_user, who, home):
    client = as_user(who)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == home
    assert client.get(home).status_code == 200
    assert not AuditEvent.objects.filter(action="client.list", actor_username=who).exists()


@pytest.mark.parametrize("who", ["alice", "sam", "bob"])
def test_casework_lands_on_the_case_list(cast, as_user, who):
    response = as_user(who).get("/")
    assert response.status_code == 200 and "<h1>ケース一覧</h1>" in text(response)


def test_an_agency_administrator_with_cases_lands_on_them(cast, as_user):
    _assign(cast, "ada")
    response = as_user("ada").get("/")
    assert response.status_code == 200 and "山田 太郎" in text(response)  # an administrator's tab is すべて
    # The list stays reachable from the menu for those whose home is elsewhere.
    assert as_user("otis").get(LIST).status_code == 200


def test_an_officer_who_carries_cases_lands_on_them(cast, as_user):
    services.share_grant(
        actor=cast.actor("sam"), client_id=cast.client.id, agency_code="soumu", level="read", basis="consent"
    )
    _assign(cast, "penny")
    response = as_user("penny").get("/")
    assert response.status_code == 200 and "<h1>ケース一覧</h1>" in text(response)


def test_signing_in_goes_home(cast, client):
    from tests.cast import PASSWORD

    response = client.post(reverse("frontend:login"), {"username": "olga", "password": PASSWORD})
    assert response.status_code == 302
    # The code step first for an officer; her home after it is "/" (the privacy dashboard).
    assert response["Location"].startswith(reverse("frontend:mfa_enrol")) or response["Location"] == "/"


# --- the tabs ------------------------------------------------------------------------------------------------


def test_a_caseworker_starts_on_their_caseload(cast, as_user):
    client = as_user("alice")
    body = text(client.get(LIST))
    assert re.search(r'<a href="/clients/\?scope=mine" aria-current="page">自分の担当</a>', body)
    assert "山田 太郎" not in body and "あなたが担当している支援対象者はまだいません" in body
    _assign(cast, "alice")
    body = text(client.get(LIST))
    assert "山田 太郎" in body and "福祉課 Alice" in body
    event = _last("client.list", "alice")
    assert event.client_ids == [str(cast.client.id)] and event.details["filters"] == {"scope": "mine"}


def test_the_tab_is_kept_in_the_session(cast, as_user):
    client = as_user("alice")
    moved = client.get(LIST, {"scope": "all"})
    assert moved.status_code == 303 and moved["Location"] == LIST
    body = text(client.get(LIST))
    assert re.search(r'<a href="/clients/\?scope=all" aria-current="page">すべて</a>', body)
    assert "山田 太郎" in body


def test_a_supervisor_starts_on_all(cast, as_user):
    body = text(as_user("sam").get(LIST))
    assert re.search(r'aria-current="page">すべて</a>', body) and "山田 太郎" in body


def test_a_search_looks_across_every_case_on_the_caseload_tab(cast, as_user):
    client = as_user("alice")
    client.post(LIST, {"q": "やまだ", "scope": "mine"})
    body = text(client.get(LIST))
    assert "山田 太郎" in body and "検索は自機関が閲覧できるすべてのケースが対象です。" in body


# --- one audited read, bounded queries -----------------------------------------------------------------------


def test_one_audited_list_read_with_the_exposed_ids(cast, as_user):
    client = as_user("sam")
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    client.get(LIST)
    events = list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq").values_list("action", "client_ids"))
    assert events == [("client.list", [str(cast.client.id)])]


def _list_queries(client):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return len(queries.captured_queries)


def test_the_list_page_costs_the_same_for_more_clients(cast, as_user):
    alice = cast.actor("alice")
    client = as_user("alice")
    client.get(LIST, {"scope": "all"})
    made = [
        services.client_create(actor=alice, name=f"試験 {i}", name_kana=f"しけん {'あい'[i]}", birth_date="1950-01-01")
        for i in range(2)
    ]
    for c in made:
        _assign(cast, "alice", c.id)
    client.get(LIST)  # warm-up
    few = _list_queries(client)
    for i in range(10):
        kana = "あいうえおかきくけこ"[i]
        c = services.client_create(actor=alice, name=f"追加 {i}", name_kana=f"ついか {kana}", birth_date="1950-01-01")
        _assign(cast, "alice", c.id)
        services.assignment_add(actor=cast.actor("sam"), client_id=c.id, user_id=cast.users["sam"].pk)
    assert _list_queries(client) == few


# --- sort and bad input ----------------------------------------------------------------------------------------


def test_the_sort_is_kept_and_paging_keeps_it(cast, as_user, settings):
    alice = cast.actor("alice")
    for kana in ("あ", "い", "う"):
        services.client_create(actor=alice, name=f"{kana} 試験", name_kana=f"{kana}しけん", birth_date="1950-01-01")
    settings.CLIENT_PAGE_SIZE = 2
    client = as_user("sam")
    client.post(LIST, {"sort": "kana_desc", "scope": "all"})
    seen = []
    response = client.get(LIST)
    while True:
        body = text(response)
        assert '<option value="kana_desc" selected>' in body
        seen += re.findall(r'<span class="kana">([^<]+)</span>', body)[::2]
        more = re.search(r'href="(\?cursor=[^"]+)">次へ', body)
        if not more:
            break
        response = client.get(LIST + more.group(1).replace("&amp;", "&"))
    assert seen == ["ヤマダ タロウ", "ウシケン", "イシケン", "アシケン"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "drop table"}, "並び順が不正です"),
        ({"scope": "everyone"}, "表示するケースの指定が不正です"),
        ({"status": "nope"}, "状態が不正です"),
    ],
)
def test_bad_conditions_are_a_form_error_not_a_500(cast, as_user, params, message):
    client = as_user("alice")
    moved = client.get(LIST, params)
    assert moved.status_code == 303
    response = client.get(LIST)
    assert response.status_code == 400 and message in text(response)
    assert client.get(LIST).status_code == 200  # shown once, not kept
    htmx = client.post(LIST, params, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    assert htmx.status_code == 422 and message in text(htmx)


def test_a_bad_cursor_is_a_form_error(cast, as_user):
    response = as_user("alice").get(LIST, {"cursor": "x" * 40})
    assert response.status_code == 400 and "カーソルが不正です" in text(response)


# --- saved filters ---------------------------------------------------------------------------------------------


def test_save_apply_and_delete_a_filter(cast, as_user):
    client = as_user("alice")
    client.post(LIST, {"q": "やまだ", "scope": "all", "tag": "高齢", "sort": "latest"})
    saved = client.post(reverse("frontend:saved_filter_save"), {"name": "高齢の方"})
    assert saved.status_code == 303
    row = SavedListFilter.objects.get()
    assert (row.name, row.scope, row.tag, row.sort) == ("高齢の方", "all", "高齢", "latest")  # not the search term
    client.post(LIST, {"clear": "1"})
    client.get(LIST, {"scope": "mine"})
    body = text(client.get(LIST))
    assert f'href="/clients/?saved={row.id}">高齢の方</a>' in body
    applied = client.get(LIST, {"saved": str(row.id)})
    assert applied.status_code == 303
    body = text(client.get(LIST))
    assert '<option value="latest" selected>' in body and "山田 太郎" in body
    assert as_user("sam").post(reverse("frontend:saved_filter_delete", args=[row.id])).status_code == 404
    assert as_user("sam").get(LIST, {"saved": str(row.id)}).status_code == 303  # not found: a message, no change
    assert client.post(reverse("frontend:saved_filter_delete", args=[row.id])).status_code == 303
    assert not SavedListFilter.objects.exists()


def test_a_bad_filter_name_is_a_form_error(cast, as_user):
    client = as_user("alice")
    response = client.post(reverse("frontend:saved_filter_save"), {"name": "   "})
    assert response.status_code == 400 and "名前を入力してください。" in text(response)
    assert not SavedListFilter.objects.exists()


# --- 担当者 on the client page ------------------------------------------------------------------------------------


def test_assign_and_remove_from_the_client_page(cast, as_user):
    client = as_user("alice")
    page = text(client.get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert "担当に追加" in page and "未設定" in page
    response = client.post(reverse("frontend:assignment_add", args=[cast.client.id]), {"user": cast.users["sam"].pk})
    assert response.status_code == 303
    page = text(client.get(response["Location"]))
    assert "福祉課 Sam" in page and "Sam さんを担当者に追加しました。" in page
    # Every sharing agency sees it; the reader's own form offers only its own staff.
    partner = text(as_user("bob").get(reverse("frontend:client_detail", args=[cast.client.id])))
    assert "福祉課 Sam" in partner and f'<option value="{cast.users["bob"].pk}">' in partner
    assert f'<option value="{cast.users["sam"].pk}">' not in partner
    assignment = ClientAssignment.objects.get()
    assert (
        as_user("bob").post(reverse("frontend:assignment_remove", args=[cast.client.id, assignment.id])).status_code
        == 404
    )
    removed = client.post(reverse("frontend:assignment_remove", args=[cast.client.id, assignment.id]))
    assert removed.status_code == 303
    assert "福祉課 Sam" not in text(client.get(reverse("frontend:client_detail", args=[cast.client.id])))


def test_assigning_bad_input_and_hidden_clients(cast, as_user):
    client = as_user("alice")
    url = reverse("frontend:assignment_add", args=[cast.client.id])
    response = client.post(url, {"user": "abc"}, follow=True)
    assert response.status_code == 200 and "自機関で支援を担当する職員を選んでください" in text(response)
    hidden = as_user("charlie").post(url, {"user": cast.users["charlie"].pk})
    missing = as_user("charlie").post(
        reverse("frontend:assignment_add", args=[uuid.uuid4()]), {"user": cast.users["charlie"].pk}
    )
    assert hidden.status_code == missing.status_code == 404
    assert not ClientAssignment.objects.exists()


# --- emergency access and ended shares in the list ------------------------------------------------------------


def test_the_list_marks_emergency_access_with_its_end(cast, as_user):
    services.break_glass_open(
        actor=cast.actor("charlie"), name_kana="やまだ たろう", birth_date="1948-04-01", reason="救急搬送先からの照会"
    )
    body = text(as_user("charlie").get(LIST))  # on 自分の担当: the grant is hers while it lasts
    assert "山田 太郎" in body and re.search(r"緊急アクセス \d\d:\d\d まで", body)
    assert "緊急アクセス" not in text(as_user("sam").get(LIST)).split("search-card")[1].split("find-hint")[0]


def test_a_former_partner_sees_that_the_share_ended_but_not_the_client(cast, as_user):
    client = as_user("rick")
    body = text(client.get(LIST))
    section = body.split('id="ended-shares-title"')[1]
    assert cast.client.case_number in section and "三条市 福祉課 が共有を解除" in section
    assert "山田" not in section and "ヤマダ" not in section and str(cast.client.id) not in body
    assert "table clients" not in body  # nothing listed above it either
    event = _last("share.ended_list", "rick")
    assert event.client_ids == [str(cast.client.id)]
    # The client's own page stays "not found", like a client that does not exist.
    assert client.get(reverse("frontend:client_detail", args=[cast.client.id])).status_code == 404
    assert "共有が終了したケース" not in text(as_user("bob").get(LIST))
