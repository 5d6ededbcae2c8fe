"""The case list as a caseload: 自分の担当, the orders, the emergency-access marker, ended shares, saved filters."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from cases import saved_filters, selectors, services
from cases.models import SavedListFilter, Share, TimelineEntry
from tsunagu.errors import InvalidInput, NotFound


def _three(cast):
    """Three more clients: registered in the order い, う, あ; their last entries in the order う, あ, い."""
    alice = cast.actor("alice")
    made = {}
    for kana, name in (("い", "井上 一"), ("う", "上田 二"), ("あ", "青木 三")):
        made[kana] = services.client_create(actor=alice, name=name, name_kana=f"{kana}てすと", birth_date="1950-01-01")
    base = timezone.now() - timedelta(days=10)
    for days, kana in ((1, "う"), (2, "あ"), (3, "い")):
        services.timeline_append(
            actor=alice, client_id=made[kana].id, kind="call", body="電話", occurred_at=base + timedelta(days=days)
        )
    # The standing client's visit happened "now": the newest of all.
    return made


KANA_OF = {"井": "い", "上": "う", "青": "あ", "山": "山"}


def _order(page):
    return [KANA_OF[c.name[0]] for c in page.items]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["あ", "い", "う", "山"]),  # フリガナ順 by default
        ("kana", ["あ", "い", "う", "山"]),
        ("kana_desc", ["山", "う", "い", "あ"]),
        ("latest", ["山", "い", "あ", "う"]),
        ("latest_asc", ["う", "あ", "い", "山"]),
        ("created", ["あ", "う", "い", "山"]),
        ("created_asc", ["山", "い", "う", "あ"]),
    ],
)
def test_the_orders(cast, sort, expected):
    _three(cast)
    assert _order(selectors.client_list(actor=cast.actor("alice"), sort=sort)) == expected


def test_paging_keeps_the_order_and_a_cursor_belongs_to_its_order(cast):
    _three(cast)
    alice = cast.actor("alice")
    seen, cursor = [], None
    while True:
        page = selectors.client_list(actor=alice, sort="latest", limit=1, cursor=cursor)
        seen += _order(page)
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == ["山", "い", "あ", "う"]
    first = selectors.client_list(actor=alice, sort="latest", limit=1)
    with pytest.raises(InvalidInput) as error:
        selectors.client_list(actor=alice, sort="kana", limit=1, cursor=first.next_cursor)
    assert "cursor" in error.value.errors


def test_a_client_without_entries_sorts_by_its_registration(cast):
    made = services.client_create(actor=cast.actor("alice"), name="新 規", name_kana="しん き", birth_date="1950-01-01")
    assert not TimelineEntry.objects.filter(client_id=made.id, kind="visit").exists()
    page = selectors.client_list(actor=cast.actor("alice"), sort="latest")
    assert page.items[0].id in (made.id, cast.client.id)  # both "just now"; no error on a missing entry


@pytest.mark.parametrize(
    ("field", "value"),
    [("sort", "name; DROP TABLE"), ("sort", "LATEST"), ("scope", "everyone"), ("status", "open")],
)
def test_bad_conditions_are_field_errors(cast, field, value):
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    with pytest.raises(InvalidInput) as error:
        selectors.client_list(actor=cast.actor("alice"), **{field: value})
    assert list(error.value.errors) == [field]
    assert not AuditEvent.objects.filter(seq__gt=seq).exists()  # nothing was read


def test_mine_is_the_actor_s_own_assignments_within_what_the_agency_sees(cast):
    made = _three(cast)
    alice, sam = cast.actor("alice"), cast.actor("sam")
    services.assignment_add(actor=alice, client_id=made["う"].id, user_id=cast.users["alice"].pk)
    services.assignment_add(actor=alice, client_id=made["あ"].id, user_id=cast.users["sam"].pk)
    assert _order(selectors.client_list(actor=alice, scope="mine")) == ["う"]
    assert _order(selectors.client_list(actor=sam, scope="mine")) == ["あ"]
    assert len(selectors.client_list(actor=alice, scope="all").items) == 4
    # Another agency's staff are never "mine", even for a client both see.
    services.assignment_add(actor=cast.actor("bob"), client_id=cast.client.id, user_id=cast.users["bob"].pk)
    assert _order(selectors.client_list(actor=alice, scope="mine")) == ["う"]
    event = AuditEvent.objects.filter(action="client.list", actor_username="alice").latest("seq")
    assert event.client_ids == [str(made["う"].id)]
    assert event.details["filters"] == {"scope": "mine"}


def test_hidden_clients_never_appear_whatever_the_conditions(cast):
    for who in ("charlie", "erin", "rick", "olga"):
        for scope in ("mine", "all"):
            for sort in ("latest", "created_asc", "kana_desc"):
                assert selectors.client_list(actor=cast.actor(who), scope=scope, sort=sort).items == []


def test_the_emergency_marker_says_until_when(cast):
    charlie = cast.actor("charlie")
    services.break_glass_open(
        actor=charlie, name_kana="やまだ たろう", birth_date="1948-04-01", reason="救急搬送先から服薬の照会"
    )
    item = selectors.client_list(actor=charlie).items[0]
    assert item.id == cast.client.id and item.emergency_until is not None
    assert item.emergency_until > timezone.now() + timedelta(hours=3)
    assert selectors.client_list(actor=cast.actor("alice")).items[0].emergency_until is None  # through a share
    # The grant is personal: it stays on the caseworker's own tab while it lasts.
    assert [c.id for c in selectors.client_list(actor=charlie, scope="mine").items] == [cast.client.id]


# --- shares that ended -------------------------------------------------------------------------------------


def test_a_former_partner_is_told_the_case_number_the_date_and_who_ended_it(cast):
    rick = cast.actor("rick")
    ended = selectors.share_ended_list(actor=rick)
    assert [(e.case_number, e.reason, e.ended_by_agency_name) for e in ended] == [
        (cast.client.case_number, "revoked", "三条市 福祉課")
    ]
    assert not hasattr(ended[0], "name")  # no personal data beyond the case number
    event = AuditEvent.objects.filter(actor_username="rick").latest("seq")
    assert (event.action, event.outcome, event.client_ids) == (
        "share.ended_list",
        "allowed",
        [str(cast.client.id)],
    )
    # An expiry (even before the sweep has closed the share) says so, and names nobody.
    expired = selectors.share_ended_list(actor=cast.actor("erin"))
    assert [(e.case_number, e.reason, e.ended_by_agency_name) for e in expired] == [
        (cast.client.case_number, "expired", "")
    ]


def test_current_partners_and_strangers_are_told_nothing(cast):
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    for who in ("alice", "bob", "carol", "charlie", "olga"):
        assert selectors.share_ended_list(actor=cast.actor(who)) == [], who
    assert not AuditEvent.objects.filter(seq__gt=seq).exists()  # nothing read, nothing to record


def test_only_the_last_30_days_and_not_once_shared_again(cast):
    Share.objects.filter(pk=cast.shares["revoked"].id).update(revoked_at=timezone.now() - timedelta(days=31))
    assert selectors.share_ended_list(actor=cast.actor("rick")) == []
    Share.objects.filter(pk=cast.shares["revoked"].id).update(revoked_at=timezone.now() - timedelta(days=29))
    assert len(selectors.share_ended_list(actor=cast.actor("rick"))) == 1
    services.share_grant(
        actor=cast.actor("sam"), client_id=cast.client.id, agency_code="soudan", level="read", basis="consent"
    )
    assert selectors.share_ended_list(actor=cast.actor("rick")) == []


def test_a_replaced_share_did_not_end(cast):
    sam = cast.actor("sam")
    services.share_grant(actor=sam, client_id=cast.client.id, agency_code="shakyo", level="append", basis="consent")
    assert selectors.share_ended_list(actor=cast.actor("bob")) == []


# --- saved filters -----------------------------------------------------------------------------------------


def test_saved_filters_are_the_user_s_own_and_hold_no_search_term(cast):
    alice = cast.actor("alice")
    saved = saved_filters.saved_filter_save(actor=alice, name=" 要注意  高齢 ", scope="mine", tag="高齢", sort="latest")
    assert saved.name == "要注意 高齢"
    assert saved.conditions == {"q": "", "scope": "mine", "status": "", "tag": "高齢", "sort": "latest"}
    assert [f.name for f in saved_filters.saved_filter_list(actor=alice)] == ["要注意 高齢"]
    assert saved_filters.saved_filter_list(actor=cast.actor("sam")) == []
    for other in ("sam", "bob"):
        with pytest.raises(NotFound):
            saved_filters.saved_filter_get(actor=cast.actor(other), filter_id=saved.id)
        with pytest.raises(NotFound):
            saved_filters.saved_filter_delete(actor=cast.actor(other), filter_id=saved.id)
    row = SavedListFilter.objects.get()
    assert not any("山田" in str(getattr(row, f.attname)) for f in SavedListFilter._meta.fields)
    # The same name replaces it.
    saved_filters.saved_filter_save(actor=alice, name="要注意 高齢", scope="all", sort="created")
    assert [(f.scope, f.sort) for f in saved_filters.saved_filter_list(actor=alice)] == [("all", "created")]
    saved_filters.saved_filter_delete(actor=alice, filter_id=saved.id)
    assert saved_filters.saved_filter_list(actor=alice) == []
    with pytest.raises(NotFound):
        saved_filters.saved_filter_delete(actor=alice, filter_id="not-a-uuid")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 41}, "name"),
        ({"name": "a", "sort": "bogus"}, "sort"),
        ({"name": "a", "scope": "bogus"}, "scope"),
        ({"name": "a", "status": "bogus"}, "status"),
        ({"name": "a", "tag": "t" * 21}, "tag"),
    ],
)
def test_a_bad_saved_filter_is_refused_with_its_field(cast, values, field):
    with pytest.raises(InvalidInput) as error:
        saved_filters.saved_filter_save(actor=cast.actor("alice"), **values)
    assert field in error.value.errors
    assert not SavedListFilter.objects.exists()


def test_there_is_a_limit(cast):
    alice = cast.actor("alice")
    for i in range(saved_filters.MAX_SAVED_FILTERS):
        saved_filters.saved_filter_save(actor=alice, name=f"f{i}")
    with pytest.raises(InvalidInput):
        saved_filters.saved_filter_save(actor=alice, name="one more")
    saved_filters.saved_filter_save(actor=alice, name="f0", sort="latest")  # replacing one is fine
