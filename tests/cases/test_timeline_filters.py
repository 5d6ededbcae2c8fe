"""Filtering and searching one client's timeline: kind, agency, text (as loosely as the client search), period;
the filters change what is shown, never who may see it, and the read stays one audited ``timeline.view``."""

from datetime import UTC, date, datetime

import pytest
from django.db.models import Value

from agencies.models import Agency
from audit.models import AuditEvent
from audit.services import terms_hash
from cases import selectors, services
from cases.models import EntryKind
from cases.text import Normalized, normalize
from tsunagu.errors import InvalidInput, NotFound


def jst(y, m, d, h=12):
    return datetime(y, m, d, h - 9, tzinfo=UTC)  # noon in Tokyo


@pytest.fixture
def entries(cast):
    alice, carol = cast.actor("alice"), cast.actor("carol")
    cid = cast.client.id
    services.timeline_append(
        actor=carol, client_id=cid, kind="call", body="ｹｱﾏﾈ より電話。ＡＤＬ低下", occurred_at=jst(2026, 11, 1)
    )
    services.timeline_append(
        actor=alice,
        client_id=cid,
        kind="visit",
        body="ケアマネと 同行訪問。\n長男不在。",
        occurred_at=jst(2026, 11, 10),
    )
    services.timeline_append(
        actor=alice, client_id=cid, kind="note", body="サービス担当者会議の日程調整", occurred_at=jst(2026, 11, 20, 23)
    )
    return cast


def bodies(page) -> list[str]:
    return [e.body for e in page.items]


def read(cast, who="alice", **filters):
    return selectors.timeline_list(actor=cast.actor(who), client_id=cast.client.id, **filters)


@pytest.mark.parametrize("q", ["けあまね", "ケアマネ", "ｹｱﾏﾈ", "ケア マネ", "けあ"])
def test_text_search_ignores_script_width_and_spaces(entries, q):
    found = bodies(read(entries, q=q))
    assert sorted(found) == ["ケアマネと 同行訪問。\n長男不在。", "ｹｱﾏﾈ より電話。ＡＤＬ低下"]


@pytest.mark.parametrize("q", ["adl", "ＡＤＬ", "Adl"])
def test_text_search_ignores_case_and_full_width_letters(entries, q):
    assert bodies(read(entries, q=q)) == ["ｹｱﾏﾈ より電話。ＡＤＬ低下"]


def test_text_search_spans_line_breaks_and_misses_what_is_not_there(entries):
    assert bodies(read(entries, q="訪問。長男")) == ["ケアマネと 同行訪問。\n長男不在。"]
    assert bodies(read(entries, q="入院")) == []
    assert bodies(read(entries, q="100%")) == []  # LIKE wildcards are literal


def test_kind_one_or_several_including_system_kinds(entries):
    assert {e.kind for e in read(entries, kind="call").items} == {"call"}
    assert {e.kind for e in read(entries, kind=["call", "note"]).items} == {"call", "note"}
    system = read(entries, kind=[EntryKind.SHARE_CHANGE]).items
    assert system and all(e.is_system for e in system)


def test_agency_and_period_in_japanese_days(entries):
    assert {e.agency_code for e in read(entries, agency_code="houkatsu").items} == {"houkatsu"}
    # 11月20日 23時 (JST) is 14時 UTC: still the 20th for the person asking.
    assert bodies(read(entries, since=date(2026, 11, 20), until=date(2026, 11, 20))) == ["サービス担当者会議の日程調整"]
    assert bodies(read(entries, since=date(2026, 11, 2), until=date(2026, 11, 19))) == [
        "ケアマネと 同行訪問。\n長男不在。"
    ]
    assert bodies(read(entries, until=date(2026, 11, 1))) == ["ｹｱﾏﾈ より電話。ＡＤＬ低下"]


def test_filters_combine(entries):
    assert bodies(read(entries, q="けあまね", agency_code="fukushi", since=date(2026, 11, 5))) == [
        "ケアマネと 同行訪問。\n長男不在。"
    ]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"kind": "gossip"}, "kind"),
        ({"kind": ["call", "gossip"]}, "kind"),
        ({"q": "あ" * 101}, "q"),
        ({"since": date(1899, 12, 31)}, "since"),
        ({"until": date(3000, 1, 1)}, "until"),
        ({"since": date(2026, 11, 2), "until": date(2026, 11, 1)}, "until"),
    ],
)
def test_bad_filters_are_bad_input_and_read_nothing(entries, filters, field):
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as raised:
        read(entries, **filters)
    assert field in raised.value.errors
    assert AuditEvent.objects.count() == before


def test_a_filtered_read_is_one_timeline_view_with_its_filters_and_only_a_hash_of_the_text(entries):
    read(
        entries,
        who="bob",
        kind="call",
        agency_code="houkatsu",
        q="ケアマネ",
        since=date(2026, 11, 1),
        until=date(2026, 11, 30),
    )
    event = AuditEvent.objects.filter(actor_username="bob").latest("seq")
    assert event.action == "timeline.view" and event.outcome == "allowed"
    assert event.client_ids == [str(entries.client.id)]
    assert event.details["filters"] == {
        "kind": "call",
        "agency": "houkatsu",
        "since": "2026-11-01",
        "until": "2026-11-30",
    }
    assert event.details["q_hash"] == terms_hash(normalize("けあまね")) and "ケアマネ" not in str(event.details)
    assert event.details["count"] == 1


@pytest.mark.parametrize("who", ["charlie", "erin", "rick", "penny"])
def test_filters_do_not_open_a_hidden_timeline(entries, who):
    with pytest.raises(NotFound):
        read(entries, who=who, q="ケアマネ", kind="call")
    denied = AuditEvent.objects.filter(actor_username=who).latest("seq")
    assert denied.action == "timeline.view" and denied.outcome == "denied"


def test_paging_keeps_the_filters_and_a_cursor_from_another_filter_is_refused(entries):
    alice = entries.actor("alice")
    for i in range(5):
        services.timeline_append(actor=alice, client_id=entries.client.id, kind="call", body=f"電話 {i}")
    first = read(entries, kind="call", limit=3)
    second = read(entries, kind="call", limit=3, cursor=first.next_cursor)
    seen = [*first.items, *second.items]
    assert len(seen) == 6 and {e.kind for e in seen} == {"call"} and second.next_cursor is None
    # The first page's last entry is a call: as the boundary of a "visit" list it is no boundary at all.
    with pytest.raises(InvalidInput) as raised:
        read(entries, kind="visit", limit=3, cursor=first.next_cursor)
    assert "cursor" in raised.value.errors


@pytest.mark.parametrize(
    "sample",
    ["やまだ タロウ", "ﾔﾏﾀﾞ", "ＡＢＣ１２３", "Ab\tc\nD", "ゝゞヽ", "ｶﾞｷﾞ・ー", "㈱ ① ㍻", "", "abc%_\\"],
)
def test_the_database_normalises_as_python_does(cast, sample):
    found = Agency.objects.annotate(key=Normalized(Value(sample))).values_list("key", flat=True).first()
    assert found == normalize(sample)
