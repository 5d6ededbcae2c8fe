"""The client list, the client page, appending and correcting entries, and the new-entry cue, for the whole cast."""

import re
import uuid
from datetime import date
from urllib.parse import quote

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from cases import services
from cases.models import TimelineEntry
from tests.frontend.conftest import strip_tokens, text

SEES = ["alice", "sam", "ada", "bob", "carol"]
HIDDEN_FROM = ["charlie", "erin", "rick", "penny"]


def search(client, **filters):
    """Search the client list as the browser does: POST the form, follow the redirect back to "/"."""
    response = client.post(reverse("frontend:client_list"), filters)
    assert response.status_code == 303 and response["Location"] == reverse("frontend:client_list")
    return client.get(response["Location"])


def detail_url(cast, **query) -> str:
    url = reverse("frontend:client_detail", args=[cast.client.id])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


# --- list ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", SEES + HIDDEN_FROM)
def test_list_shows_exactly_the_visible_clients_with_level_and_latest_entry(cast, as_user, who):
    client = as_user(who)
    client.get(reverse("frontend:client_list"), {"scope": "all"})  # a caseworker starts on 自分の担当
    response = client.get(reverse("frontend:client_list"))
    body = text(response)
    assert response.status_code == 200
    assert ("山田 太郎" in body) is (who in SEES)
    if who in SEES:
        level = {"alice": "manage", "sam": "manage", "ada": "manage", "bob": "read", "carol": "append"}[who]
        assert f'<span class="badge level-{level}">' in body
        assert "最終記録" in body and "年" in body  # the latest entry's date, 2026年…


@pytest.mark.parametrize("q", ["やまだ", "ヤマダ", "ﾔﾏﾀﾞ", "山田", "sj-", "SJ-"])
def test_search_by_kana_in_either_script_name_and_case_number(cast, as_user, q):
    response = search(as_user("bob"), q=q)
    assert response.status_code == 200 and "山田 太郎" in text(response)
    event = AuditEvent.objects.filter(action="client.search").latest("seq")
    assert event.client_ids == [str(cast.client.id)] and q not in str(event.details)


def test_search_misses_and_filters(cast, as_user):
    client = as_user("sam")  # a supervisor starts on すべて
    assert "山田 太郎" not in text(search(client, q="すずき"))
    assert "山田 太郎" in text(search(client, tag="8050"))
    assert "山田 太郎" not in text(search(client, tag="子ども"))
    assert "山田 太郎" in text(search(client, status="active"))
    assert "山田 太郎" not in text(search(client, status="closed"))


def test_search_as_you_type_answers_with_the_results_fragment(cast, as_user):
    response = as_user("alice").post(
        reverse("frontend:client_list"), {"q": "やまだ"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    body = text(response)
    assert response.status_code == 200 and body.startswith('<section id="results"') and "山田 太郎" in body
    assert "<html" not in body
    assert not any(h.lower().startswith("hx-") for h in response.headers)  # no URL pushed or replaced


@pytest.mark.parametrize(
    ("params", "message"), [({"status": "bogus"}, "状態が不正です"), ({"cursor": "x!"}, "カーソル")]
)
def test_bad_list_input_is_a_400_with_the_message(cast, as_user, params, message):
    client = as_user("alice")
    if "cursor" in params:
        response = client.get(reverse("frontend:client_list"), params)
    else:
        response = client.get(client.post(reverse("frontend:client_list"), params)["Location"])
    assert response.status_code == 400 and message in text(response)
    assert client.get(reverse("frontend:client_list")).status_code == 200  # the bad search is not kept


def test_list_is_keyset_paged(cast, as_user, settings):
    alice = cast.actor("alice")
    for i in range(3):
        services.client_create(
            actor=alice, name=f"佐藤 {i}", name_kana=f"さとう {'あいう'[i]}", birth_date=date(1960, 1, 1)
        )
    settings.CLIENT_PAGE_SIZE = 2
    client = as_user("sam")  # a supervisor starts on すべて
    seen = []
    response = client.get(reverse("frontend:client_list"))
    while True:
        body = text(response)
        seen += re.findall(r'<td class="name"><a href="/clients/([0-9a-f-]+)/">', body)
        more = re.search(r'href="\?cursor=([^"]+)">次へ', body)
        if not more:
            break
        response = client.get(reverse("frontend:client_list"), {"cursor": more.group(1)})
    assert len(seen) == len(set(seen)) == 4


# --- client page -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", SEES)
def test_client_page_for_every_member_who_may_see_it(cast, as_user, who):
    browser = as_user(who)
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    response = browser.get(detail_url(cast))
    body = text(response)
    assert response.status_code == 200
    assert "山田 太郎" in body and "自宅を訪問" in body
    assert "三条市社会福祉協議会" in body and "本人同意" in body  # shared with, and on which basis
    assert ("記録を追加" in body) is (who != "bob")  # bob's agency reads only
    assert ("共有設定を開く" in body) is (who in ("sam", "ada"))  # managers of the managing agency
    assert ("この記録を訂正" in body) is (who in ("alice", "sam", "ada"))  # their agency's own entry
    reads = AuditEvent.objects.filter(seq__gt=before).exclude(client_ids=[])
    # One audited read of the page, about this client, naming every part it showed.
    assert [(e.action, e.outcome, e.actor_username, e.client_ids, e.details.get("parts")) for e in reads] == [
        ("client.view", "allowed", who, [str(cast.client.id)], ["profile", "shares", "timeline"])
    ]


@pytest.mark.parametrize("who", HIDDEN_FROM)
def test_hidden_client_is_the_not_found_page(cast, as_user, who):
    client = as_user(who)
    hidden = client.get(detail_url(cast))
    missing = client.get(reverse("frontend:client_detail", args=[uuid.uuid4()]))
    assert hidden.status_code == missing.status_code == 404
    assert strip_tokens(hidden.content) == strip_tokens(missing.content)
    assert "山田" not in text(hidden)
    for name in ("timeline", "share_page"):
        assert client.get(reverse(f"frontend:{name}", args=[cast.client.id]), HTTP_HX_REQUEST="true").status_code == 404


def test_confidential_address_is_masked_for_other_agencies(cast, as_user):
    alice, sam = cast.actor("alice"), cast.actor("sam")
    hidden = services.client_create(
        actor=alice,
        name="秘匿 花子",
        name_kana="ひとく はなこ",
        birth_date=date(1990, 5, 5),
        address="新潟県三条市どこか1-1",
        address_confidential=True,
    )
    services.share_grant(actor=sam, client_id=hidden.id, agency_code="shakyo", level="read", basis="consent")
    url = reverse("frontend:client_detail", args=[hidden.id])
    assert "新潟県三条市どこか1-1" in text(as_user("alice").get(url))
    bob_page = text(as_user("bob").get(url))
    assert "新潟県三条市どこか1-1" not in bob_page and "秘匿（登録機関のみ閲覧可）" in bob_page


def test_timeline_filters_by_kind_and_agency(cast, as_user):
    services.timeline_append(actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="包括から電話")
    client = as_user("bob")
    calls = text(client.get(detail_url(cast, f_kind="call")))
    assert "包括から電話" in calls and "自宅を訪問" not in calls
    owner_only = text(client.get(detail_url(cast, f_agency="fukushi")))
    assert "自宅を訪問" in owner_only and "包括から電話" not in owner_only
    fragment = client.get(
        reverse("frontend:timeline", args=[cast.client.id]), {"f_kind": "visit"}, HTTP_HX_REQUEST="true"
    )
    assert fragment.status_code == 200 and text(fragment).startswith('<section id="timeline"')
    assert "自宅を訪問" in text(fragment) and "包括から電話" not in text(fragment)
    bad = client.get(detail_url(cast, f_kind="bogus"))
    assert bad.status_code == 400 and "記録の種類が不正です" in text(bad)


def test_timeline_fragment_without_htmx_redirects_to_the_page(cast, as_user):
    response = as_user("bob").get(reverse("frontend:timeline", args=[cast.client.id]), {"f_kind": "visit"})
    assert response.status_code == 302 and response["Location"].endswith(f"/clients/{cast.client.id}/?f_kind=visit")


# --- appending ---------------------------------------------------------------------------------------------


def entry_count(cast) -> int:
    return TimelineEntry.objects.filter(client_id=cast.client.id).count()


def post_entry(client, cast, htmx=False, **data):
    payload = {"kind": "call", "occurred_at": "2026-11-01T10:30", "body": "電話で近況を確認した。", **data}
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("frontend:entry_append", args=[cast.client.id]), payload, **extra)


def test_append_without_js_redirects_back_with_a_message(cast, as_user):
    client = as_user("carol")
    response = post_entry(client, cast)
    assert response.status_code == 302
    page = text(client.get(response["Location"]))
    assert "支援記録を追加しました。" in page and "電話で近況を確認した。" in page
    assert "2026年11月1日 10:30" in page  # JST, the Japanese way
    entry = TimelineEntry.objects.get(body="電話で近況を確認した。")
    assert entry.agency.code == "houkatsu" and entry.occurred_at.isoformat() == "2026-11-01T01:30:00+00:00"


def test_append_with_htmx_answers_the_fresh_form_and_the_timeline(cast, as_user):
    response = post_entry(as_user("carol"), cast, htmx=True)
    body = text(response)
    assert response.status_code == 200
    assert body.startswith('<section id="entry-form-wrap"') and "支援記録を追加しました。" in body
    assert 'id="timeline" class="card" aria-labelledby="timeline-title" hx-swap-oob="outerHTML"' in body
    assert "電話で近況を確認した。" in body and "entry-new" in body


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("data", "field_message"),
    [
        ({"body": "   "}, "内容を入力してください。"),
        ({"kind": "share_change"}, "選択してください"),
        ({"occurred_at": "きのう"}, "日時は「2026-11-23 14:05」の形式で入力してください。"),
        ({"occurred_at": "2099-01-01T00:00"}, "未来の日時は指定できません。"),
        ({"corrects": "not-an-id"}, "訂正対象の記録が見つかりません。"),
    ],
)
def test_bad_entry_input_shows_field_errors_and_changes_nothing(cast, as_user, htmx, data, field_message):
    before, events = entry_count(cast), AuditEvent.objects.filter(action__startswith="timeline.a").count()
    response = post_entry(as_user("carol"), cast, htmx=htmx, **data)
    assert response.status_code == (422 if htmx else 400)
    assert field_message in text(response)
    assert 'aria-invalid="true"' in text(response) or "nonfield" in text(response)
    assert entry_count(cast) == before
    assert AuditEvent.objects.filter(action__startswith="timeline.a").count() == events


def test_reader_may_not_append_and_outsider_gets_not_found(cast, as_user):
    before = entry_count(cast)
    assert post_entry(as_user("bob"), cast).status_code == 403
    assert post_entry(as_user("charlie"), cast).status_code == 404
    assert post_entry(as_user("erin"), cast, htmx=True).status_code == 404
    assert entry_count(cast) == before


def test_correction_link_prefills_and_the_correction_shows_beneath_the_original(cast, as_user):
    client = as_user("alice")
    prefilled = text(client.get(detail_url(cast, correct=cast.entry.id)))
    assert "記録を訂正" in prefilled and f'value="{cast.entry.id}"' in prefilled
    assert "自宅を訪問。体調は安定している。</textarea>" in prefilled
    response = post_entry(client, cast, kind="visit", body="訂正: 体調はやや不安定。", corrects=str(cast.entry.id))
    assert response.status_code == 302
    page = text(client.get(detail_url(cast)))
    original = page.index(f'id="entry-{cast.entry.id}"')
    correction = page.index("訂正: 体調はやや不安定。")
    assert original < correction and "訂正あり" in page and "訂正記録" in page
    assert page.index('class="corrections"', original) < correction  # nested beneath the original
    assert AuditEvent.objects.filter(action="timeline.correct", outcome="allowed").count() == 1


def test_another_agency_may_not_correct_an_entry_it_did_not_write(cast, as_user):
    client = as_user("carol")
    page = text(client.get(detail_url(cast, correct=cast.entry.id)))
    assert f'name="corrects" value="{cast.entry.id}"' not in page  # no prefill for someone else's entry
    before = entry_count(cast)
    response = post_entry(client, cast, corrects=str(cast.entry.id))
    assert response.status_code == 403 and "自機関の記録のみ訂正できます。" in text(response)
    assert entry_count(cast) == before


# --- the new-entry cue ---------------------------------------------------------------------------------------


def test_cue_appears_when_another_agency_appends_and_clears_when_the_timeline_is_read(
    settled, as_user, django_capture_on_commit_callbacks
):
    cast = settled
    bob = as_user("bob")
    poll = reverse("frontend:timeline_poll", args=[cast.client.id])
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    assert bob.get(detail_url(cast)).status_code == 200
    assert bob.get(poll, HTTP_HX_REQUEST="true").status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        services.timeline_append(actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="包括から電話")
    audited = AuditEvent.objects.count()
    cue = bob.get(poll, HTTP_HX_REQUEST="true")
    assert cue.status_code == 200 and "新しい記録があります" in text(cue)
    assert AuditEvent.objects.count() == audited  # the poll reads no case data
    fragment = bob.get(reverse("frontend:timeline", args=[cast.client.id]), HTTP_HX_REQUEST="true")
    assert "包括から電話" in text(fragment)
    # The page's one read named the timeline; the fragment's reload is its own timeline read.
    reads = AuditEvent.objects.filter(
        seq__gt=before, actor_username="bob", action__in=["client.view", "timeline.view"]
    ).order_by("seq")
    assert [(e.action, (e.details or {}).get("parts")) for e in reads] == [
        ("client.view", ["profile", "shares", "timeline"]),  # the page
        ("client.view", None),  # the fragment's own reads
        ("timeline.view", None),
    ]
    assert bob.get(poll, HTTP_HX_REQUEST="true").status_code == 204


def test_own_agency_appends_raise_no_cue(settled, as_user, django_capture_on_commit_callbacks):
    cast = settled
    carol = as_user("carol")
    carol.get(detail_url(cast))
    with django_capture_on_commit_callbacks(execute=True):
        post_entry(carol, cast)
    assert (
        carol.get(reverse("frontend:timeline_poll", args=[cast.client.id]), HTTP_HX_REQUEST="true").status_code == 204
    )


# --- names stay out of URLs ------------------------------------------------------------------------------------

URL_ATTRIBUTES = re.compile(r'(?:href|action|src|hx-get|hx-post|hx-push-url|hx-replace-url)="([^"]*)"')


def assert_no_name_in_urls(response, *names):
    urls = URL_ATTRIBUTES.findall(text(response)) + [
        response.headers.get(h, "") for h in ("Location", "HX-Push-Url", "HX-Replace-Url", "HX-Location")
    ]
    for url in urls:
        for name in names:
            assert name not in url and quote(name) not in url, (name, url)


def test_the_search_form_posts_and_pushes_no_url(cast, as_user):
    body = text(as_user("alice").get(reverse("frontend:client_list")))
    form = re.search(r'<form class="card search-card"[^>]*>', body).group(0)
    assert 'method="post"' in form and "hx-post=" in form
    assert "hx-get" not in form and "hx-push-url" not in form


def test_a_search_keeps_the_name_out_of_every_url_and_survives_paging(cast, as_user, settings):
    alice = cast.actor("alice")
    for i in range(3):
        services.client_create(
            actor=alice, name=f"山田 {i}子", name_kana=f"やまだ {'あいう'[i]}こ", birth_date=date(1960, 1, 1)
        )
    services.client_create(actor=alice, name="佐藤 一", name_kana="さとう はじめ", birth_date=date(1960, 1, 1))
    settings.CLIENT_PAGE_SIZE = 2
    client = as_user("alice")
    posted = client.post(reverse("frontend:client_list"), {"q": "やまだ"})
    assert posted.status_code == 303 and posted["Location"] == reverse("frontend:client_list")
    response = client.get("/")
    seen = []
    while True:
        assert_no_name_in_urls(response, "やまだ", "ヤマダ", "山田")
        body = text(response)
        assert 'value="やまだ"' in body  # the term stays in the form
        seen += re.findall(r'<td class="name"><a href="/clients/([0-9a-f-]+)/">', body)
        more = re.search(r'href="(\?cursor=[^"]+)">次へ', body)
        if not more:
            break
        response = client.get("/" + more.group(1).replace("&amp;", "&"))
    assert len(seen) == len(set(seen)) == 4  # every 山田 and not 佐藤
    htmx = client.post("/", {"q": "やまだ"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    assert_no_name_in_urls(htmx, "やまだ", "ヤマダ", "山田")


def test_an_old_link_with_the_name_is_moved_out_of_the_url(cast, as_user):
    client = as_user("bob")
    response = client.get(reverse("frontend:client_list"), {"q": "やまだ"})
    assert response.status_code == 303 and response["Location"] == reverse("frontend:client_list")
    assert "山田 太郎" in text(client.get("/"))
    events = AuditEvent.objects.filter(action="client.search", actor_username="bob")
    assert events.count() == 1  # searched once, at "/"


def test_clearing_the_search_forgets_it(cast, as_user):
    client = as_user("alice")
    search(client, q="すずき")
    assert 'value="すずき"' in text(client.get("/"))
    cleared = client.post("/", {"clear": "1"})
    assert cleared.status_code == 303
    body = text(client.get(reverse("frontend:client_list"), {"scope": "all"}, follow=True))
    assert "すずき" not in body and "山田 太郎" in body
