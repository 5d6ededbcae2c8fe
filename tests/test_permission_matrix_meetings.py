"""The permission matrix of support meetings (支援会議) and action items (issue 14), on the services and the API.

Principals, each in a state of the meeting (``tests.meetings.convene``: 福祉課 convenes about the cast's
client and 佐藤 花子, with さくら園 and 社協 attending; minutes give さくら園 an item about 佐藤 花子 and
福祉課 one about the cast's client): the convener's supervisor and caseworker; the attendee's supervisor
and caseworker before confirming, after confirming, and after its meeting shares expired; a non-attending
agency that shares the cast's client (carol); an outsider (rick); the privacy officer who does no casework
(olga) and the one who does casework elsewhere (penny).

Operations: the second client itself (profile and timeline: a pending share grants nothing), the meeting (view,
list, confirm, minutes) and the action items (list, done). Expectations follow from the principal's facts; each
case runs in a savepoint that is rolled back. A refused case leaves exactly one ``denied`` event of its action, an
allowed one exactly one event of its action, an invalid one (a second confirmation) none. Lists are checked for
leaks: nothing about a meeting or client the principal may not see, and only clients it sees named or exposed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from agencies.actors import Actor
from audit.models import AuditEvent
from cases import meeting_selectors, selectors, services
from cases.access import actor_visible_clients
from cases.models import ActionItem
from tests.api.conftest import issue_key
from tests.matrix import events as _events
from tests.matrix import rolled_back as _rolled_back
from tests.matrix import seq as _seq
from tests.meetings import convene, expire_meeting_shares
from tsunagu.errors import Forbidden, InvalidInput, NotFound

A, NF, F, BAD = "allowed", NotFound, Forbidden, InvalidInput


@dataclass(frozen=True)
class Who:
    name: str
    username: str
    party: str  # convener, attendee, sharer (shares the cast's client, not invited), none, officer
    state: str = "after"  # the attendee's state: before (confirming), after, expired

    @property
    def supervisor(self) -> bool:
        return self.username in ("sam", "sue")

    @property
    def attendee_state(self) -> str | None:
        return self.state if self.party == "attendee" else None

    @property
    def sees_client2(self) -> bool:
        return self.party == "convener" or self.attendee_state == "after"

    @property
    def sees_meeting(self) -> bool:
        return self.party == "convener" or self.attendee_state in ("before", "after")

    @property
    def reads_minutes(self) -> bool:
        return self.party == "convener" or self.attendee_state == "after"

    # --- expectations ---------------------------------------------------------------------------------

    def client(self):
        return A if self.sees_client2 else NF

    def confirm(self):
        if self.party == "convener":
            return F  # not an attendee
        if self.attendee_state == "before":
            return A if self.supervisor else F
        if self.attendee_state == "after":
            return BAD if self.supervisor else F  # once per meeting (a caseworker may not confirm at all)
        return NF

    def minutes(self):
        if self.party == "convener":
            return A
        if self.attendee_state in ("before", "after"):
            return F  # not the convener
        return NF

    def done(self):
        if self.attendee_state == "after":
            return A
        if self.party == "convener":
            return F  # a party to the meeting, not the assignee
        return NF


PEOPLE = [
    Who("convener supervisor", "sam", "convener"),
    Who("convener caseworker", "alice", "convener"),
    Who("attendee supervisor before confirming", "sue", "attendee", "before"),
    Who("attendee caseworker before confirming", "charlie", "attendee", "before"),
    Who("attendee supervisor after confirming", "sue", "attendee", "after"),
    Who("attendee caseworker after confirming", "charlie", "attendee", "after"),
    Who("attendee supervisor after its meeting share expired", "sue", "attendee", "expired"),
    Who("attendee caseworker after its meeting share expired", "charlie", "attendee", "expired"),
    Who("non-attendee sharing agency", "carol", "sharer"),
    Who("outsider", "rick", "none"),
    Who("privacy officer", "olga", "officer"),
    Who("privacy officer doing casework elsewhere", "penny", "none"),
]


@dataclass
class World:
    convened: object
    task_id: object  # さくら園's item about 佐藤 花子
    own_task_id: object  # 福祉課's item about the cast's client

    @property
    def cast(self):
        return self.convened.cast

    @property
    def meeting_id(self):
        return self.convened.id

    @property
    def client2(self):
        return self.convened.client2.id


def _world(cast, who: Who) -> World:
    c = convene(cast)
    services.meeting_minutes_record(
        actor=cast.actor("sam"),
        meeting_id=c.id,
        summary="概要",
        action_items=[
            {"agency": "shisetsu", "client": str(c.client2.id), "task": "短期入所の調整"},
            {"agency": "fukushi", "client": str(cast.client.id), "task": "次回の日程調整"},
        ],
    )
    if who.state in ("after", "expired"):
        services.meeting_confirm(actor=cast.actor("sue"), meeting_id=c.id)
    if who.state == "expired":
        expire_meeting_shares(c)
    task = ActionItem.objects.get(meeting_id=c.id, agency__code="shisetsu")
    own = ActionItem.objects.get(meeting_id=c.id, agency__code="fukushi")
    return World(convened=c, task_id=task.pk, own_task_id=own.pk)


def _name(value) -> str:
    return value if isinstance(value, str) else value.__name__


# --- the services ---------------------------------------------------------------------------------------------


SERVICE_OPS = [
    ("client.view", lambda w, a: selectors.client_get(actor=a, client_id=w.client2), Who.client),
    ("timeline.view", lambda w, a: selectors.timeline_list(actor=a, client_id=w.client2), Who.client),
    (
        "meeting.view",
        lambda w, a: meeting_selectors.meeting_detail(actor=a, meeting_id=w.meeting_id),
        lambda p: A if p.sees_meeting else NF,
    ),
    ("meeting.confirm", lambda w, a: services.meeting_confirm(actor=a, meeting_id=w.meeting_id), Who.confirm),
    (
        "meeting.minutes",
        lambda w, a: services.meeting_minutes_record(actor=a, meeting_id=w.meeting_id, summary="第2版"),
        Who.minutes,
    ),
    ("task.done", lambda w, a: services.task_done(actor=a, task_id=w.task_id), Who.done),
    ("meeting.list", lambda w, a: meeting_selectors.meeting_list(actor=a), lambda p: A),
    ("task.list", lambda w, a: meeting_selectors.task_list(actor=a), lambda p: A),
]


def _leaks(world: World, who: Who, actor: Actor) -> list[str]:
    """What the lists show that the principal may not see."""
    problems = []
    seen = set(actor_visible_clients(actor).values_list("pk", flat=True))
    meetings = meeting_selectors.meeting_list(actor=actor).items
    listed = [m.id for m in meetings]
    if (world.meeting_id in listed) != who.sees_meeting:
        problems.append(f"meeting.list lists the meeting: {world.meeting_id in listed}")
    for m in meetings:
        named = {c.id for c in m.clients if c.visible or c.name is not None}
        if not named <= seen:
            problems.append(f"meeting.list names clients it cannot see: {named - seen}")
        if m.minutes is not None and not who.reads_minutes:
            problems.append("meeting.list shows minutes before confirmation")
        if {t.client_id for t in m.action_items} - seen:
            problems.append("meeting.list shows action items of clients it cannot see")
    tasks = meeting_selectors.task_list(actor=actor).items
    ids = {t.id for t in tasks}
    if (world.task_id in ids) != (who.done() == A):
        problems.append(f"task.list lists さくら園's item: {world.task_id in ids}")
    if (world.own_task_id in ids) != (who.party == "convener"):
        problems.append(f"task.list lists 福祉課's item: {world.own_task_id in ids}")
    if {t.client_id for t in tasks} - seen:
        problems.append("task.list names clients it cannot see")
    for event in AuditEvent.objects.filter(action__in=["meeting.list", "task.list", "meeting.view"]):
        exposed = {str(cid) for cid in event.client_ids}
        if event.actor_username == who.username and exposed - {str(cid) for cid in seen}:
            problems.append(f"{event.action} records clients it cannot see as exposed")
    for meeting in meeting_selectors.pending_confirmations(actor=actor):
        if who.attendee_state != "before":
            problems.append(f"pending_confirmations lists {meeting.id}")
    overdue = meeting_selectors.overdue_tasks_for_convener(actor=actor)
    if {t.client_id for t in overdue} - seen:
        problems.append("overdue_tasks_for_convener names clients it cannot see")
    return problems


@pytest.mark.permission_matrix(cases=len(SERVICE_OPS) + 1)
@pytest.mark.parametrize("who", PEOPLE, ids=lambda w: w.name)
def test_services(cast, who):
    world = _world(cast, who)
    wrong = []
    for action, call, expect in SERVICE_OPS:
        expected = expect(who)

        def check(action=action, call=call, expected=expected):
            actor = Actor.for_user(cast.users[who.username], channel="web")
            seq = _seq()
            try:
                call(world, actor)
                got = A
            except (NotFound, Forbidden, InvalidInput) as exc:
                got = type(exc)
            want = {A: [(action, "allowed")], BAD: []}.get(expected, [(action, "denied")])
            events = _events(seq)
            if got != expected or events != want:
                return f"{action}: expected {_name(expected)} with {want}, got {_name(got)} {events}"
            return None

        if problem := _rolled_back(check):
            wrong.append(problem)
    wrong += _rolled_back(lambda: _leaks(world, who, Actor.for_user(cast.users[who.username], channel="web")))
    assert not wrong, "\n".join(wrong)


# --- the REST API ---------------------------------------------------------------------------------------------

STATUS = {A: None, NF: 404, F: 403, BAD: 400}

API_OPS = [
    ("client.view", lambda c, w: c.get(f"/api/v1/clients/{w.client2}/"), Who.client, 200),
    ("timeline.view", lambda c, w: c.get(f"/api/v1/clients/{w.client2}/timeline/"), Who.client, 200),
    (
        "meeting.view",
        lambda c, w: c.get(f"/api/v1/meetings/{w.meeting_id}/"),
        lambda p: A if p.sees_meeting else NF,
        200,
    ),
    ("meeting.confirm", lambda c, w: c.post(f"/api/v1/meetings/{w.meeting_id}/confirm/"), Who.confirm, 200),
    (
        "meeting.minutes",
        lambda c, w: c.post(f"/api/v1/meetings/{w.meeting_id}/minutes/", {"summary": "第2版"}, format="json"),
        Who.minutes,
        201,
    ),
    ("task.done", lambda c, w: c.post(f"/api/v1/tasks/{w.task_id}/done/"), Who.done, 200),
    ("meeting.list", lambda c, w: c.get("/api/v1/meetings/"), lambda p: A, 200),
    ("task.list", lambda c, w: c.get("/api/v1/tasks/"), lambda p: A, 200),
]


@pytest.mark.permission_matrix(cases=len(API_OPS))
@pytest.mark.parametrize("who", PEOPLE, ids=lambda w: w.name)
def test_api(cast, who, settings):
    settings.API_THROTTLE_RATE = "1000000/min"
    world = _world(cast, who)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(cast.users[who.username])[1]}")
    wrong = []
    for action, call, expect, ok in API_OPS:
        expected = expect(who)
        status = STATUS[expected] or ok

        def check(action=action, call=call, expected=expected, status=status):
            seq = _seq()
            response = call(client, world)
            want = {A: [(action, "allowed")], BAD: []}.get(expected, [(action, "denied")])
            events = _events(seq)
            if response.status_code != status or events != want:
                return f"{action}: expected {status} with {want}, got {response.status_code} {events}"
            body = response.json()
            if action == "meeting.list":
                listed = {m["id"] for m in body["results"]}
                if (str(world.meeting_id) in listed) != who.sees_meeting:
                    return "meeting.list: the meeting is listed for the wrong principals"
                for m in body["results"]:
                    if m["minutes"] is not None and not who.reads_minutes:
                        return "meeting.list: minutes shown before confirmation"
            if action == "task.list":
                ids = {t["id"] for t in body["results"]}
                if (str(world.task_id) in ids) != (who.done() == A):
                    return "task.list: さくら園's item listed for the wrong principals"
            if action == "meeting.view" and status == 200 and (body["minutes"] is not None) != who.reads_minutes:
                return "meeting.view: minutes shown to the wrong principals"
            return None

        if problem := _rolled_back(check):
            wrong.append(problem)
    assert not wrong, "\n".join(wrong)
