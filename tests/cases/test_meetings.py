"""Support meetings (支援会議) and action items: the services and selectors (PRODUCT §6.1, issue 14)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import get_group_perms

from agencies.actors import Actor
from audit.models import AuditEvent
from cases import meeting_selectors, selectors, services
from cases.models import (
    ActionItem,
    Client,
    EntryKind,
    MeetingMinutes,
    OutboxMessage,
    Share,
    SystemEvent,
    TimelineEntry,
)
from tests.meetings import convene, expire_meeting_shares
from tsunagu.errors import Forbidden, InvalidInput, NotFound


def _denied(action):
    return list(AuditEvent.objects.filter(action=action, outcome="denied").order_by("seq"))


def _minutes(c, **kwargs):
    cast = c.cast
    args = {
        "summary": "本人の体調と家計の状況を共有した。",
        "decisions": "社協が家計相談、さくら園が短期入所を調整する。",
        "action_items": [
            {"agency": "shisetsu", "client": str(cast.client.id), "task": "短期入所の空きを確認", "due_on": None},
            {
                "agency": "shakyo",
                "client": str(c.client2.id),
                "task": "家計相談の予約",
                "due_on": (timezone.localdate() - timedelta(days=2)).isoformat(),
            },
            {"agency": "fukushi", "client": str(cast.client.id), "task": "次回会議の日程調整"},
        ],
    }
    args.update(kwargs)
    return services.meeting_minutes_record(actor=cast.actor("sam"), meeting_id=c.id, **args)


# --- create -------------------------------------------------------------------------------------------------


def test_convening_creates_pending_shares_for_attendees_without_one(cast):
    c = convene(cast)
    m = c.meeting
    assert m.convened_by_code == "fukushi" and m.share_level == "append" and m.minutes is None
    assert [a.agency_code for a in m.attendees] == ["shakyo", "shisetsu"]
    assert all(a.confirmed_at is None for a in m.attendees)
    assert {x.id for x in m.clients} == {cast.client.id, c.client2.id} and all(x.visible for x in m.clients)
    pending = Share.objects.filter(meeting_id=m.id)
    # さくら園 for both clients, 社協 only for the second (its consent share of the first continues).
    assert sorted((s.agency.code, s.client_id == cast.client.id) for s in pending) == [
        ("shakyo", False),
        ("shisetsu", False),
        ("shisetsu", True),
    ]
    for share in pending:
        assert share.pending and share.basis == "support_meeting" and share.level == "append"
        assert "山田さん世帯の支援会議" in share.basis_note and share.granted_by == cast.users["sam"]
        assert share.expires_at == m.share_expires_at
        assert not get_group_perms(share.agency.group, share.client)  # nothing granted before confirmation
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    assert m.share_expires_at == start + timedelta(days=30)
    assert Share.objects.get(pk=cast.shares["reader"].id).revoked_at is None
    event = AuditEvent.objects.get(action="meeting.create")
    assert set(event.client_ids) == {str(cast.client.id), str(c.client2.id)}
    assert event.target_type == "meeting" and event.target_id == str(m.id)
    assert "山田" not in str(event.details) and "支援会議" not in str(event.details)
    notice = OutboxMessage.objects.get(topic="meeting.create")
    assert notice.payload["meeting_id"] == str(m.id)
    assert sorted(notice.payload["agency_ids"]) == sorted([cast.agencies["outsider"].pk, cast.agencies["reader"].pk])


def test_attendee_before_confirming_still_cannot_see_the_client(cast):
    convene(cast)
    for call in (
        lambda a: selectors.client_get(actor=a, client_id=cast.client.id),
        lambda a: selectors.timeline_list(actor=a, client_id=cast.client.id),
    ):
        with pytest.raises(NotFound):
            call(cast.actor("charlie"))
    assert {e.reason for e in AuditEvent.objects.filter(outcome="denied")} == {"share_pending"}
    assert selectors.client_list(actor=cast.actor("charlie")).items == []


def test_convening_closes_an_expired_share_that_was_not_swept(cast):
    # the cast's lapsed share: 高齢介護課, expired, still open
    services.meeting_create(
        actor=cast.actor("sam"),
        title="会議",
        held_on=timezone.localdate(),
        clients=[cast.client.id],
        attendees=["kaigo"],
        share_level="read",
        share_days=7,
    )
    old = Share.objects.get(pk=cast.shares["lapsed"].id)
    assert old.revoke_reason == "expired" and old.revoked_at is not None
    assert not get_group_perms(cast.agencies["lapsed"].group, Client.objects.get(pk=cast.client.id))
    new = Share.objects.get(agency=cast.agencies["lapsed"], revoked_at=None)
    assert new.pending and new.level == "read"


@pytest.mark.parametrize(
    ("who", "error", "reason"),
    [
        ("alice", Forbidden, "role"),  # manage, but a caseworker
        ("ivan", Forbidden, "role"),  # integration
        ("charlie", NotFound, "no_share"),
        ("erin", NotFound, "share_expired"),
        ("penny", NotFound, "no_share"),
        ("olga", NotFound, "privacy_officer"),
    ],
)
def test_who_may_not_convene(cast, who, error, reason):
    with pytest.raises(error):
        services.meeting_create(
            actor=cast.actor(who),
            title="会議",
            held_on=timezone.localdate(),
            clients=[cast.client.id],
            attendees=["soudan"],
            share_level="read",
            share_days=7,
        )
    (event,) = _denied("meeting.create")
    assert event.reason == reason and event.target_type == "client" and event.target_id == str(cast.client.id)
    assert not Share.objects.filter(pending=True).exists()


def test_a_reader_supervisor_is_refused_for_level(cast):
    from tests.meetings import add_staff

    add_staff(cast, "bea", "reader", "supervisor")
    with pytest.raises(Forbidden):
        services.meeting_create(
            actor=cast.actor("bea"),
            title="会議",
            held_on=timezone.localdate(),
            clients=[cast.client.id],
            attendees=["shisetsu"],
            share_level="read",
            share_days=7,
        )
    assert _denied("meeting.create")[0].reason == "insufficient_level"


def test_a_hidden_client_is_refused_like_a_missing_one(cast):
    from tests.meetings import add_staff

    add_staff(cast, "sue", "outsider", "supervisor")
    own = services.client_create(
        actor=cast.actor("charlie"), name="鈴木 一郎", name_kana="すずき いちろう", birth_date="1960-01-01"
    )
    messages = []
    for hidden in (cast.client.id, "00000000-0000-0000-0000-000000000001"):
        with pytest.raises(NotFound) as caught:
            services.meeting_create(
                actor=cast.actor("sue"),
                title="会議",
                held_on=timezone.localdate(),
                clients=[own.id, hidden],
                attendees=["fukushi"],
                share_level="read",
                share_days=7,
            )
        messages.append(caught.value.message)
    assert messages[0] == messages[1]
    assert [e.reason for e in _denied("meeting.create")] == ["no_share", "not_found"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "x" * 201),
        ("held_on", "2026-13-01"),
        ("share_level", "manage"),
        ("share_days", 0),
        ("share_days", 366),
        ("share_days", True),
        ("attendees", []),
        ("attendees", ["nope"]),
        ("attendees", ["fukushi"]),
        ("clients", []),
        ("clients", ["not-an-id"]),
    ],
)
def test_invalid_input(cast, field, value):
    args = {
        "title": "会議",
        "held_on": timezone.localdate(),
        "clients": [cast.client.id],
        "attendees": ["shisetsu"],
        "share_level": "read",
        "share_days": 7,
        field: value,
    }
    with pytest.raises(InvalidInput) as caught:
        services.meeting_create(actor=cast.actor("sam"), **args)
    assert field in caught.value.errors
    assert not AuditEvent.objects.filter(action="meeting.create").exists()


# --- confirm ------------------------------------------------------------------------------------------------


def test_confirming_starts_the_agencys_meeting_shares(cast):
    c = convene(cast)
    view = services.meeting_confirm(actor=cast.actor("sue"), meeting_id=c.id)
    assert {a.agency_code: bool(a.confirmed_at) for a in view.attendees} == {"shisetsu": True, "shakyo": False}
    assert not view.can_confirm and not view.awaiting_my_confirmation
    for share in Share.objects.filter(meeting_id=c.id, agency__code="shisetsu"):
        assert not share.pending
        assert set(get_group_perms(share.agency.group, share.client)) == {"view_client", "append_client"}
    assert Share.objects.filter(meeting_id=c.id, agency__code="shakyo", pending=True).count() == 1
    assert selectors.client_get(actor=cast.actor("charlie"), client_id=cast.client.id).my_level == "append"
    entries = TimelineEntry.objects.filter(event=SystemEvent.MEETING_SHARE_CONFIRMED)
    assert {e.client_id for e in entries} == {cast.client.id, c.client2.id}
    assert "守秘義務" in selectors.timeline_list(actor=cast.actor("alice"), client_id=c.client2.id).items[0].body
    event = AuditEvent.objects.get(action="meeting.confirm")
    assert set(event.client_ids) == {str(cast.client.id), str(c.client2.id)}
    # Once per meeting: a second confirmation is a clear 400 and changes nothing.
    with pytest.raises(InvalidInput):
        services.meeting_confirm(actor=cast.actor("sue"), meeting_id=c.id)
    assert AuditEvent.objects.filter(action="meeting.confirm").count() == 1


@pytest.mark.parametrize(
    ("who", "error", "reason"),
    [
        ("charlie", Forbidden, "role"),  # the attendee's caseworker
        ("sam", Forbidden, "not_attendee"),  # the convener
        ("carol", NotFound, "not_found"),  # shares the client, not invited
        ("rick", NotFound, "not_found"),
        ("olga", NotFound, "privacy_officer"),
    ],
)
def test_who_may_not_confirm(cast, who, error, reason):
    c = convene(cast)
    with pytest.raises(error):
        services.meeting_confirm(actor=cast.actor(who), meeting_id=c.id)
    (event,) = _denied("meeting.confirm")
    assert event.reason == reason and event.target_id == str(c.id)
    assert Share.objects.filter(meeting_id=c.id, pending=True).count() == 3


def test_confirming_after_the_meeting_shares_ended_is_not_found(cast):
    c = convene(cast)
    expire_meeting_shares(c)
    with pytest.raises(NotFound):
        services.meeting_confirm(actor=cast.actor("sue"), meeting_id=c.id)
    assert Share.objects.filter(meeting_id=c.id, pending=True).count() == 3


# --- visibility ---------------------------------------------------------------------------------------------


def test_an_attendee_before_confirming_sees_the_meeting_without_names_or_minutes(cast):
    c = convene(cast)
    _minutes(c)
    view = meeting_selectors.meeting_detail(actor=cast.actor("charlie"), meeting_id=c.id)
    assert view.awaiting_my_confirmation and not view.can_confirm  # a caseworker: their supervisor confirms
    assert meeting_selectors.meeting_detail(actor=cast.actor("sue"), meeting_id=c.id).can_confirm
    assert all(not x.visible and x.name is None and x.case_number is None for x in view.clients)
    assert view.minutes is None and view.action_items == ()
    event = AuditEvent.objects.filter(action="meeting.view").order_by("seq").last()
    assert event.client_ids == [] and event.target_id == str(c.id)
    # 社協 reads the first client already: named, the second not; minutes hidden until it confirms.
    view = meeting_selectors.meeting_detail(actor=cast.actor("bob"), meeting_id=c.id)
    assert {x.id: x.visible for x in view.clients} == {cast.client.id: True, c.client2.id: False}
    assert view.minutes is None
    assert AuditEvent.objects.filter(action="meeting.view").order_by("seq").last().client_ids == [str(cast.client.id)]


def test_after_confirming_names_minutes_and_own_items(cast):
    c = convene(cast)
    _minutes(c)
    services.meeting_confirm(actor=cast.actor("sue"), meeting_id=c.id)
    view = meeting_selectors.meeting_detail(actor=cast.actor("charlie"), meeting_id=c.id)
    assert all(x.visible for x in view.clients) and view.minutes.version == 1
    assert {i.task for i in view.action_items} == {"短期入所の空きを確認", "家計相談の予約", "次回会議の日程調整"}


def test_who_cannot_see_a_meeting(cast):
    c = convene(cast)
    for who in ("carol", "rick", "erin", "penny", "olga"):
        with pytest.raises(NotFound):
            meeting_selectors.meeting_detail(actor=cast.actor(who), meeting_id=c.id)
        assert meeting_selectors.meeting_list(actor=cast.actor(who)).items == []
    with pytest.raises(NotFound):
        meeting_selectors.meeting_detail(actor=cast.actor("sam"), meeting_id="nonsense")
    assert len(_denied("meeting.view")) == 6


def test_after_the_meeting_shares_expired_the_meeting_is_gone_for_the_attendee(cast):
    c = convene(cast)
    services.meeting_confirm(actor=cast.actor("sue"), meeting_id=c.id)
    expire_meeting_shares(c)
    with pytest.raises(NotFound):
        meeting_selectors.meeting_detail(actor=cast.actor("charlie"), meeting_id=c.id)
    assert meeting_selectors.meeting_list(actor=cast.actor("charlie")).items == []
    assert _denied("meeting.view")[0].reason == "not_found"
    # 社協 still reads the first client through its own share: it keeps the meeting, with that client only.
    view = meeting_selectors.meeting_detail(actor=cast.actor("bob"), meeting_id=c.id)
    assert [x.id for x in view.clients if x.visible] == [cast.client.id]


def test_meeting_list_is_newest_first_and_audited(cast):
    c = convene(cast)
    older = services.meeting_create(
        actor=cast.actor("sam"),
        title="前回の会議",
        held_on=timezone.localdate() - timedelta(days=10),
        clients=[cast.client.id],
        attendees=["houkatsu"],
        share_level="read",
        share_days=30,
    )
    page = meeting_selectors.meeting_list(actor=cast.actor("alice"))
    assert [m.id for m in page.items] == [c.id, older.id]
    event = AuditEvent.objects.filter(action="meeting.list").order_by("seq").last()
    assert set(event.client_ids) == {str(cast.client.id), str(c.client2.id)}
    assert [m.id for m in meeting_selectors.meeting_list(actor=cast.actor("carol")).items] == [older.id]
    assert [m.id for m in meeting_selectors.pending_confirmations(actor=cast.actor("sue"))] == [c.id]
    assert meeting_selectors.pending_confirmations(actor=cast.actor("alice")) == []


# --- minutes ------------------------------------------------------------------------------------------------


def test_minutes_go_onto_each_clients_timeline_with_that_clients_items_only(cast):
    c = convene(cast)
    view = _minutes(c)
    assert view.minutes.version == 1 and len(view.action_items) == 3
    entries = {e.client_id: e for e in TimelineEntry.objects.filter(event=SystemEvent.MEETING_MINUTES)}
    assert set(entries) == {cast.client.id, c.client2.id}
    first, second = entries[cast.client.id], entries[c.client2.id]
    assert first.kind == EntryKind.MEETING
    assert "短期入所の空きを確認" in first.body and "家計相談の予約" not in first.body
    assert "家計相談の予約" in second.body and "短期入所の空き" not in second.body
    assert "本人の体調" in first.body and "社協が家計相談" in second.body
    assert first.event_params == {"meeting": str(c.id), "minutes": str(view.minutes.id), "version": 1}
    shown = selectors.timeline_list(actor=cast.actor("alice"), client_id=cast.client.id).items[0]
    assert shown.body.startswith("支援会議の記録（第1版）") and not shown.can_correct
    with pytest.raises(InvalidInput):
        services.timeline_append(
            actor=cast.actor("alice"), client_id=cast.client.id, kind="meeting", body="x", corrects=first.pk
        )
    event = AuditEvent.objects.get(action="meeting.minutes")
    assert set(event.client_ids) == {str(cast.client.id), str(c.client2.id)}
    assert "本人" not in str(event.details) and "短期入所" not in str(event.details)
    assert OutboxMessage.objects.filter(topic="meeting.minutes").count() == 2


def test_a_new_version_supersedes_the_open_items_never_overwrites(cast):
    c = convene(cast)
    _minutes(c)
    services.meeting_confirm(actor=cast.actor("sue"), meeting_id=c.id)
    (done,) = [t for t in meeting_selectors.task_list(actor=cast.actor("charlie")).items]
    services.task_done(actor=cast.actor("charlie"), task_id=done.id)
    view = _minutes(c, summary="訂正: 体調は改善している。", action_items=[])
    assert view.minutes.version == 2 and view.minutes.summary.startswith("訂正")
    assert MeetingMinutes.objects.filter(meeting_id=c.id).count() == 2
    items = ActionItem.objects.filter(meeting_id=c.id)
    assert {(i.task, i.status, i.superseded_at is not None) for i in items} == {
        ("短期入所の空きを確認", "done", False),
        ("家計相談の予約", "open", True),
        ("次回会議の日程調整", "open", True),
    }
    assert [i.task for i in view.action_items] == ["短期入所の空きを確認"]


@pytest.mark.parametrize(
    ("who", "error", "reason"),
    [
        ("sue", Forbidden, "not_convener"),
        ("carol", NotFound, "not_found"),
        ("olga", NotFound, "privacy_officer"),
    ],
)
def test_who_may_not_record_minutes(cast, who, error, reason):
    c = convene(cast)
    with pytest.raises(error):
        services.meeting_minutes_record(actor=cast.actor(who), meeting_id=c.id, summary="x")
    assert _denied("meeting.minutes")[0].reason == reason
    assert not MeetingMinutes.objects.exists()


def test_minutes_items_must_name_a_party_and_a_meeting_client(cast):
    c = convene(cast)
    for item in (
        {"agency": "houkatsu", "client": str(cast.client.id), "task": "x"},
        {"agency": "shakyo", "client": "00000000-0000-0000-0000-000000000001", "task": "x"},
        {"agency": "shakyo", "client": str(cast.client.id), "task": ""},
        {"agency": "shakyo", "client": str(cast.client.id), "task": "x", "due_on": "tomorrow"},
    ):
        with pytest.raises(InvalidInput) as caught:
            _minutes(c, action_items=[item])
        assert {"action_items", "action_items.0"} & set(caught.value.errors)
    with pytest.raises(InvalidInput):
        _minutes(c, summary=" ")
    assert not MeetingMinutes.objects.exists()


# --- tasks --------------------------------------------------------------------------------------------------


def test_tasks_are_the_agencys_own_for_clients_it_sees(cast):
    c = convene(cast)
    _minutes(c)
    # 社協 has not confirmed: its item is about the second client, which it cannot see yet.
    assert meeting_selectors.task_list(actor=cast.actor("bob")).items == []
    assert meeting_selectors.task_list(actor=cast.actor("charlie")).items == []
    services.meeting_confirm(actor=cast.actor("bea"), meeting_id=c.id)
    (task,) = meeting_selectors.task_list(actor=cast.actor("bob")).items
    assert task.task == "家計相談の予約" and task.overdue and task.client_name == "佐藤 花子"
    assert task.can_mark_done and task.meeting_id == c.id
    event = AuditEvent.objects.filter(action="task.list").order_by("seq").last()
    assert event.client_ids == [str(c.client2.id)]
    overdue = meeting_selectors.overdue_tasks_for_convener(actor=cast.actor("alice"))
    assert [t.id for t in overdue] == [task.id]
    assert meeting_selectors.overdue_tasks_for_convener(actor=cast.actor("bob")) == []
    own = meeting_selectors.task_list(actor=cast.actor("alice")).items
    assert [t.task for t in own] == ["次回会議の日程調整"]


def test_marking_done_records_it_on_the_timeline(cast):
    c = convene(cast)
    _minutes(c)
    services.meeting_confirm(actor=cast.actor("bea"), meeting_id=c.id)
    (task,) = meeting_selectors.task_list(actor=cast.actor("bob")).items
    with pytest.raises(Forbidden):
        services.task_done(actor=cast.actor("alice"), task_id=task.id)  # the convener: not the assignee
    with pytest.raises(NotFound):
        services.task_done(actor=cast.actor("charlie"), task_id=task.id)  # cannot see the client
    done = services.task_done(actor=cast.actor("bob"), task_id=task.id)
    assert done.status == "done" and done.done_at is not None and not done.can_mark_done
    entry = TimelineEntry.objects.get(event=SystemEvent.ACTION_ITEM_DONE)
    assert entry.client_id == c.client2.id and entry.agency.code == "shakyo"
    assert AuditEvent.objects.get(action="task.done", outcome="allowed").client_ids == [str(c.client2.id)]
    with pytest.raises(InvalidInput):
        services.task_done(actor=cast.actor("bob"), task_id=task.id)
    assert [t.id for t in meeting_selectors.task_list(actor=cast.actor("bob"), status="done").items] == [task.id]
    assert meeting_selectors.task_list(actor=cast.actor("bob")).items == []
    assert [e.reason for e in _denied("task.done")] == ["not_assignee", "share_pending"]
    with pytest.raises(InvalidInput):
        meeting_selectors.task_list(actor=cast.actor("bob"), status="all")


def test_tasks_vanish_with_the_client(cast):
    c = convene(cast)
    _minutes(c)
    services.meeting_confirm(actor=cast.actor("sue"), meeting_id=c.id)
    (task,) = meeting_selectors.task_list(actor=cast.actor("charlie")).items
    expire_meeting_shares(c)
    assert meeting_selectors.task_list(actor=cast.actor("charlie")).items == []
    with pytest.raises(NotFound):
        services.task_done(actor=cast.actor("charlie"), task_id=task.id)


# --- expiry -------------------------------------------------------------------------------------------------


def test_the_sweep_closes_pending_meeting_shares_without_granting_anything(cast):
    c = convene(cast)
    services.meeting_confirm(actor=cast.actor("bea"), meeting_id=c.id)
    expire_meeting_shares(c)
    before = TimelineEntry.objects.count()
    swept = services.share_expire_sweep(actor=Actor.system(channel="task"))
    assert swept == 4  # the cast's lapsed share, さくら園's two pending ones, 社協's confirmed one
    for share in Share.objects.filter(meeting_id=c.id):
        assert share.revoked_at is not None and share.revoke_reason == "expired"
        assert not get_group_perms(share.agency.group, share.client)
    # Timeline entries only for the shares that had started (社協's, and the cast's lapsed one).
    assert TimelineEntry.objects.count() == before + 2
    pending_events = AuditEvent.objects.filter(action="share.expire", details__pending=True)
    assert pending_events.count() == 2
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("charlie"), client_id=cast.client.id)


def test_lists_read_a_bounded_number_of_statements(cast):
    """The meeting and task lists cost the same with one meeting as with several (no query per row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = convene(cast)
    _minutes(c)

    def counted():
        with CaptureQueriesContext(connection) as meetings:
            meeting_selectors.meeting_list(actor=cast.actor("alice"))
        with CaptureQueriesContext(connection) as tasks:
            meeting_selectors.task_list(actor=cast.actor("alice"))
        return len(meetings), len(tasks)

    one = counted()
    for days_ago in (3, 6):
        other = services.meeting_create(
            actor=cast.actor("sam"),
            title="会議",
            held_on=timezone.localdate() - timedelta(days=days_ago),
            clients=[cast.client.id, c.client2.id],
            attendees=["houkatsu", "shakyo"],
            share_level="read",
            share_days=30,
        )
        services.meeting_minutes_record(
            actor=cast.actor("sam"),
            meeting_id=other.id,
            summary="概要",
            action_items=[{"agency": "fukushi", "client": str(c.client2.id), "task": "確認"}],
        )
    assert counted() == one


def test_an_unconfirmed_meeting_share_is_never_told_as_ended(cast):
    """さくら園 never saw the clients (it did not confirm): when its pending meeting shares lapse, and after the
    sweep closes them, its 共有が終了したケース list names none of them."""
    c = convene(cast)
    expire_meeting_shares(c)
    ended = lambda: {e.client_id for e in selectors.share_ended_list(actor=cast.actor("charlie"))}  # noqa: E731
    assert cast.client.id not in ended() and c.client2.id not in ended()
    services.share_expire_sweep(actor=Actor.system(channel="task"))
    assert cast.client.id not in ended() and c.client2.id not in ended()


def test_the_sharing_page_shows_a_pending_meeting_share_as_awaiting_confirmation(cast):
    c = convene(cast)
    views = {s.agency_code: s for s in selectors.share_list(actor=cast.actor("sam"), client_id=c.client2.id)}
    pending = views["shisetsu"]
    assert pending.pending and not pending.is_active and pending.revoked_at is None
    assert not views["fukushi"].pending
