"""Visible-client lists: constant query count, keyset paging, filters."""

import pytest

from audit.models import AuditEvent
from cases import selectors, services
from tsunagu.errors import InvalidInput


def _register(cast, n, **extra):
    alice = cast.actor("alice")
    return [
        services.client_create(
            actor=alice,
            name=f"試験 {i:03d}",
            name_kana=f"シケン {chr(0x30A2 + i % 40)}",
            birth_date="1950-01-01",
            **extra,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [1, 40])
def test_list_query_count_does_not_grow_with_visible_clients(cast, n, django_assert_max_num_queries):
    _register(cast, n)
    actor = cast.actor("alice")
    # savepoint, clients page, the page's 担当者, audit event (+ the transaction id on PostgreSQL), its exposure
    # rows, release
    with django_assert_max_num_queries(7):
        page = selectors.client_list(actor=actor, limit=200)
    assert len(page.items) == n + 1


def test_timeline_query_count_does_not_grow_with_entries(cast, django_assert_max_num_queries):
    alice = cast.actor("alice")
    for i in range(30):
        services.timeline_append(actor=alice, client_id=cast.client.id, kind="note", body=f"メモ {i}")
    with django_assert_max_num_queries(12):
        page = selectors.timeline_list(actor=alice, client_id=cast.client.id, limit=200)
    assert len(page.items) >= 31


def test_keyset_paging_walks_every_client_once_in_both_directions(cast):
    _register(cast, 23)
    actor = cast.actor("alice")
    seen, cursor, pages = [], None, []
    while True:
        page = selectors.client_list(actor=actor, limit=5, cursor=cursor)
        pages.append(page)
        seen += [c.id for c in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 24
    kana = [c.name_kana for p in pages for c in p.items]
    assert kana == sorted(kana)
    # and back again from the last page
    back = selectors.client_list(actor=actor, limit=5, cursor=pages[-1].prev_cursor)
    assert [c.id for c in back.items] == [c.id for c in pages[-2].items]
    # every page's exposure is what that page showed
    listed = [e.client_ids for e in AuditEvent.objects.filter(action="client.list").order_by("seq")][-len(pages) - 1 :]
    assert listed[0] == [str(c.id) for c in pages[0].items]


def test_appends_between_pages_do_not_shift_the_timeline(cast):
    alice = cast.actor("alice")
    for i in range(6):
        services.timeline_append(actor=alice, client_id=cast.client.id, kind="note", body=f"メモ {i}")
    first = selectors.timeline_list(actor=alice, client_id=cast.client.id, limit=3)
    services.timeline_append(actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="新着")
    second = selectors.timeline_list(actor=alice, client_id=cast.client.id, limit=3, cursor=first.next_cursor)
    assert not {e.id for e in first.items} & {e.id for e in second.items}
    assert max(e.occurred_at for e in second.items) <= min(e.occurred_at for e in first.items)


@pytest.mark.parametrize("cursor", ["garbage", "eyJkIjoibiJ9", "eyJkIjoibiIsImsiOlsiYSIsImIiXX0"])
def test_bad_cursor_is_bad_input(cast, cursor):
    with pytest.raises(InvalidInput) as info:
        selectors.client_list(actor=cast.actor("alice"), cursor=cursor)
    assert "cursor" in info.value.errors


def test_filters_by_status_and_tag(cast):
    _register(cast, 2, tags=["障がい"])
    actor = cast.actor("alice")
    assert len(selectors.client_list(actor=actor, tag="障がい").items) == 2
    assert [c.id for c in selectors.client_list(actor=actor, tag="高齢").items] == [cast.client.id]
    assert selectors.client_list(actor=actor, tag="高").items == []  # whole tags only
    assert selectors.client_list(actor=actor, status="closed").items == []
    with pytest.raises(InvalidInput):
        selectors.client_list(actor=actor, status="deleted")


def test_timeline_filters_by_kind_and_agency(cast):
    services.timeline_append(actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="包括から電話")
    alice = cast.actor("alice")
    calls = selectors.timeline_list(actor=alice, client_id=cast.client.id, kind="call").items
    assert [e.agency_code for e in calls] == ["houkatsu"]
    mine = selectors.timeline_list(actor=alice, client_id=cast.client.id, agency_code="fukushi").items
    assert {e.agency_code for e in mine} == {"fukushi"}
    with pytest.raises(InvalidInput):
        selectors.timeline_list(actor=alice, client_id=cast.client.id, kind="gossip")
