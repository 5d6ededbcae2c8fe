"""The client page's timeline: long entries folded (続きを読む, no script needed), and the filters (kind, agency,
text, period) in the browser — bookmarkable in the URL except the search text, which stays out of it."""

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import AuditEvent
from audit.services import terms_hash
from cases import services
from cases.text import normalize
from tests.frontend.conftest import text

HTMX = {"HTTP_HX_REQUEST": "true"}
LONG = "本人宅を訪問し、長男と面談した。" * 30 + "\n最後の段落：次回は十二月に再訪する。"


def detail(cast) -> str:
    return reverse("frontend:client_detail", args=[cast.client.id])


def search_url(cast) -> str:
    return reverse("frontend:timeline_search", args=[cast.client.id])


def entry_bodies(html: str) -> str:
    """The timeline list alone (the filter form echoes the search text)."""
    return html[html.index('id="timeline-list"') :]


@pytest.fixture
def entries(cast):
    alice, carol = cast.actor("alice"), cast.actor("carol")
    cid = cast.client.id
    services.timeline_append(
        actor=carol, client_id=cid, kind="call", body="ｹｱﾏﾈより電話。", occurred_at=datetime(2026, 11, 2, 3, tzinfo=UTC)
    )
    services.timeline_append(
        actor=alice, client_id=cid, kind="note", body=LONG, occurred_at=datetime(2026, 11, 12, 3, tzinfo=UTC)
    )
    return cast


# --- folding ----------------------------------------------------------------------------------------------------


def test_a_long_entry_is_folded_to_its_lead_with_a_summary_to_read_on(entries, as_user):
    html = entry_bodies(text(as_user("bob").get(detail(entries))))
    fold = html[html.index('<div class="entry-body fold">') :]
    fold = fold[: fold.index("</details>")]
    lead = re.search(r'<p class="fold-lead">(.*?)</p>', fold, re.S).group(1)
    assert len(re.sub(r"<[^>]+>", "", lead)) < 220 and "最後の段落" not in lead
    assert "<summary>" in fold and "続きを読む" in fold and "閉じる" in fold
    assert f"（全{len(LONG)}文字）" in fold  # what a screen reader hears on the control
    assert "最後の段落：次回は十二月に再訪する。" in fold  # the whole text, inside the <details>
    # A short entry is not folded.
    short = html[html.index("自宅を訪問。体調は安定している。") - 200 :][:400]
    assert "fold" not in short


# --- filters through the URL -------------------------------------------------------------------------------


def test_kind_groups_and_system_kinds_filter_the_page(entries, as_user):
    bob = as_user("bob")
    system = entry_bodies(text(bob.get(detail(entries), {"f_kind": "system"})))
    assert "共有" in system and "ｹｱﾏﾈより電話。" not in system
    records = entry_bodies(text(bob.get(detail(entries), {"f_kind": "records"})))
    assert "ｹｱﾏﾈより電話。" in records and "entry-system" not in records
    share_changes = entry_bodies(text(bob.get(detail(entries), {"f_kind": "share_change"})))
    assert "entry-system" in share_changes and "ｹｱﾏﾈ" not in share_changes


def test_period_filters_by_the_day_in_japan(entries, as_user):
    html = entry_bodies(text(as_user("bob").get(detail(entries), {"f_from": "2026-11-01", "f_to": "2026-11-05"})))
    assert "ｹｱﾏﾈより電話。" in html and "本人宅を訪問" not in html and "自宅を訪問" not in html
    event = AuditEvent.objects.filter(action="client.view", actor_username="bob").latest("seq")  # the page's one read
    assert event.details["timeline"]["filters"] == {"since": "2026-11-01", "until": "2026-11-05"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"f_from": "2026-13-01"}, "年-月-日で入力してください"),
        ({"f_to": "きのう"}, "年-月-日で入力してください"),
        ({"f_from": "2026-11-05", "f_to": "2026-11-01"}, "期間の終わりは始まり以降の日付にしてください。"),
        ({"f_from": "0001-01-01"}, "1900年1月1日から2999年12月31日"),
        ({"f_kind": "gossip"}, "記録の種類が不正です"),
    ],
)
def test_bad_filters_are_a_form_error_and_read_no_timeline(entries, as_user, query, message):
    bob = as_user("bob")
    before = AuditEvent.objects.filter(action="timeline.view").count()
    page = bob.get(detail(entries), query)
    assert page.status_code == 400 and message in text(page)
    assert 'aria-invalid="true"' in text(page)
    fragment = bob.get(reverse("frontend:timeline", args=[entries.client.id]), query, **HTMX)
    assert fragment.status_code == 422 and message in text(fragment)
    assert AuditEvent.objects.filter(action="timeline.view").count() == before


# --- the search text: POSTed, kept in the session, never in a URL ----------------------------------------------


def test_searching_without_script_redirects_to_a_url_without_the_text(entries, as_user):
    bob = as_user("bob")
    response = bob.post(search_url(entries), {"f_q": "けあまね", "f_kind": "call", "f_agency": "", "f_from": ""})
    assert response.status_code == 303
    location = response["Location"]
    assert "けあまね" not in location and "%E3%81%91" not in location
    assert parse_qs(urlsplit(location).query) == {"f_kind": ["call"], "f_text": ["1"]}
    html = text(bob.get(location))
    assert "ｹｱﾏﾈより電話。" in entry_bodies(html) and "自宅を訪問" not in entry_bodies(html)
    assert 'value="けあまね"' in html  # the field shows what is searched
    event = AuditEvent.objects.filter(action="client.view", actor_username="bob").latest("seq")  # the page's one read
    timeline = event.details["timeline"]
    assert timeline["q_hash"] == terms_hash(normalize("けあまね")) and "けあまね" not in str(event.details)
    assert timeline["filters"] == {"kind": "call"}


def test_searching_with_htmx_answers_the_timeline_and_pushes_the_bookmarkable_url(entries, as_user):
    bob = as_user("bob")
    response = bob.post(search_url(entries), {"f_q": "再訪", "f_kind": ""}, **HTMX)
    assert response.status_code == 200 and text(response).startswith('<section id="timeline"')
    assert "本人宅を訪問" in entry_bodies(text(response)) and "ｹｱﾏﾈ" not in entry_bodies(text(response))
    assert response["HX-Push-Url"] == detail(entries) + "?f_text=1"


def test_the_kept_text_applies_only_with_the_mark_and_only_to_that_client(entries, as_user):
    bob = as_user("bob")
    bob.post(search_url(entries), {"f_q": "再訪"})
    assert "ｹｱﾏﾈ" not in entry_bodies(text(bob.get(detail(entries), {"f_text": "1"})))
    # Opened again without the mark (from the list, say): the whole timeline, and the text is forgotten.
    assert "ｹｱﾏﾈ" in entry_bodies(text(bob.get(detail(entries))))
    assert "ｹｱﾏﾈ" in entry_bodies(text(bob.get(detail(entries), {"f_text": "1"})))


def test_a_search_text_typed_into_the_url_is_moved_out_of_it(entries, as_user):
    bob = as_user("bob")
    response = bob.get(detail(entries), {"f_q": "再訪", "f_agency": "fukushi"})
    assert response.status_code == 303 and "f_q" not in response["Location"]
    assert parse_qs(urlsplit(response["Location"]).query) == {"f_agency": ["fukushi"], "f_text": ["1"]}


def test_a_too_long_search_text_is_a_form_error(entries, as_user):
    bob = as_user("bob")
    response = bob.post(search_url(entries), {"f_q": "あ" * 500}, **HTMX)
    assert response.status_code == 422 and "検索語は100文字以内で入力してください。" in text(response)
    assert "HX-Push-Url" not in response


def test_paging_keeps_the_filters(entries, as_user):
    alice = entries.actor("alice")
    for i in range(33):
        services.timeline_append(actor=alice, client_id=entries.client.id, kind="call", body=f"定期電話 {i}")
    bob = as_user("bob")
    bob.post(search_url(entries), {"f_q": "定期", "f_kind": "call"})
    first = text(bob.get(detail(entries), {"f_kind": "call", "f_text": "1"}))
    nxt = re.search(r'<a class="btn" href="([^"]+)"[^>]*>過去の記録', first).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(nxt).query)
    assert query["f_kind"] == ["call"] and query["f_text"] == ["1"] and "cursor" in query and "f_q" not in query
    second = entry_bodies(text(bob.get(nxt)))
    assert second.count("定期電話") == 3 and "ｹｱﾏﾈ" not in second


@pytest.mark.parametrize("who", ["charlie", "rick", "penny"])
def test_a_hidden_client_stays_not_found_whatever_the_filters(entries, as_user, who):
    client = as_user(who)
    assert client.get(detail(entries), {"f_kind": "call", "f_from": "2026-11-01"}).status_code == 404
    assert client.post(search_url(entries), {"f_q": "けあまね"}, **HTMX).status_code == 404
    assert client.post(search_url(entries), {"f_q": "けあまね"}).status_code == 303  # then the same 404 page


values = st.one_of(
    st.just(""),
    st.sampled_from(["call", "system", "records", "share_change", "fukushi", "2026-11-01", "2026/11/1", "１"]),
    st.text(max_size=30),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=values, agency=values, since=values, until=values, cursor=values)
def test_no_query_string_makes_the_page_fail(entries, as_user, kind, agency, since, until, cursor):
    bob = as_user("bob")
    query = {"f_kind": kind, "f_agency": agency, "f_from": since, "f_to": until, "cursor": cursor}
    response = bob.get(detail(entries), query)
    if any("\x00" in v for v in query.values()):
        assert response.status_code == 400
    else:
        assert response.status_code in (200, 400), (query, response.status_code)


def test_filters_and_search_cost_no_more_queries_than_the_plain_timeline(entries, as_user):
    bob = as_user("bob")
    fragment = reverse("frontend:timeline", args=[entries.client.id])
    bob.get(fragment, **HTMX)  # warm-up: first-request work of the session

    def count(send) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert send().status_code == 200
        return len(queries.captured_queries)

    plain = count(lambda: bob.get(fragment, **HTMX))
    filtered = count(
        lambda: bob.get(fragment, {"f_kind": "records", "f_agency": "fukushi", "f_from": "2026-01-01"}, **HTMX)
    )
    searched = count(lambda: bob.post(search_url(entries), {"f_q": "けあまね", "f_to": "2026-12-31"}, **HTMX))
    assert filtered == plain and searched <= plain + 1  # + the session, saved with the kept text


def test_a_forged_cursor_is_a_form_error_and_the_page_one_read_without_the_timeline(entries, as_user):
    bob = as_user("bob")
    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    page = bob.get(detail(entries), {"cursor": "not-a-cursor"})
    assert page.status_code == 400 and "山田 太郎" in text(page)
    reads = AuditEvent.objects.filter(seq__gt=before, actor_username="bob").exclude(client_ids=[])
    assert [(e.action, e.details["parts"]) for e in reads] == [("client.view", ["profile", "shares"])]
