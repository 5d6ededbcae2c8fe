"""The permission matrix for inquiries (照会, PRODUCT §6.1), over the services and the REST API.

One inquiry about the standing cast's client, asked by the owner agency (福祉課: alice, sam, ivan) of the appender
(包括: carol), of 高齢介護課 (erin) and of 相談支援事業所 (rick) while they all shared the client; then erin's
agency's share expired and rick's was revoked. Principals: the sender's staff, the addressee, the reader agency
that shares the client but was not asked (bob), an outsider (charlie), the addressees whose share ended (erin:
expired, rick: revoked), the privacy officer who also does casework (penny) and the one who does none (olga).

Every case runs in a savepoint that is rolled back. An allowed case leaves exactly one ``allowed`` event of its
action; a refused one exactly one ``denied`` event, and nothing of the inquiry (its subject, its body) in the
answer: 0 leaks. Lists never name the inquiry to anyone but its parties that see the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.actors import Actor
from agencies.services import apikey_issue
from audit.models import AuditEvent
from cases import inquiry_selectors, services
from cases.models import Share
from tests.matrix import events as _events
from tests.matrix import rolled_back as _rolled_back
from tests.matrix import seq as _seq
from tsunagu.errors import Forbidden, NotFound

A, NF, F = "allowed", NotFound, Forbidden
SUBJECT = "内密の照会件名"
BODY = "照会の本文（内密）"


@dataclass(frozen=True)
class Who:
    username: str
    side: str  # sender, addressee, bystander (shares the client, not asked), none (sees neither)
    writes: bool = True  # holds append (or more) on the client


PEOPLE = [
    Who("alice", "sender"),
    Who("sam", "sender"),
    Who("ivan", "sender"),  # the sender agency's integration user
    Who("carol", "addressee"),
    Who("bob", "bystander", writes=False),
    Who("charlie", "none"),
    Who("erin", "none"),  # addressed, then the share expired
    Who("rick", "none"),  # addressed, then the share was revoked
    Who("penny", "none"),
    Who("olga", "none"),
]


@dataclass
class World:
    cast: object
    users: dict
    keys: dict
    inquiry_id: str


@pytest.fixture
def world(cast) -> World:
    sam = cast.actor("sam")
    client_id = cast.client.id
    Share.objects.filter(pk=cast.shares["lapsed"].id).update(expires_at=timezone.now() + timedelta(days=1))
    rick_share = services.share_grant(
        actor=sam, client_id=client_id, agency_code="soudan", level="append", basis="consent"
    )
    inquiry = services.inquiry_create(
        actor=cast.actor("alice"),
        client_id=client_id,
        to=["houkatsu", "kaigo", "soudan"],
        subject=SUBJECT,
        body=BODY,
    )
    Share.objects.filter(pk=cast.shares["lapsed"].id).update(expires_at=timezone.now() - timedelta(minutes=1))
    services.share_revoke(actor=sam, client_id=client_id, share_id=rick_share.id)
    users = dict(cast.users)
    keys = {
        name: apikey_issue(actor=Actor.for_user(u, channel="web"), user=u, name="matrix")[1]
        for name, u in users.items()
    }
    return World(cast, users, keys, str(inquiry.id))


def _party(p: Who):
    return A if p.side in ("sender", "addressee") else NF


SERVICE_OPS = [
    ("inquiry.view", lambda w, a: inquiry_selectors.inquiry_detail(actor=a, inquiry_id=w.inquiry_id), _party),
    (
        "inquiry.reply",
        lambda w, a: services.inquiry_reply(actor=a, inquiry_id=w.inquiry_id, body="回答します。"),
        _party,
    ),
    (
        "inquiry.close",
        lambda w, a: services.inquiry_close(actor=a, inquiry_id=w.inquiry_id),
        lambda p: A if p.side == "sender" else F if p.side == "addressee" else NF,
    ),
    (
        "inquiry.create",
        lambda w, a: services.inquiry_create(
            actor=a,
            client_id=w.cast.client.id,
            to=["fukushi"] if a.agency_code != "fukushi" else ["houkatsu"],
            subject="新しい照会",
            body="教えてください。",
        ),
        lambda p: A if p.side in ("sender", "addressee") else F if p.side == "bystander" else NF,
    ),
]


@pytest.mark.permission_matrix(cases=len(SERVICE_OPS) + 2)
@pytest.mark.parametrize("who", PEOPLE, ids=lambda w: w.username)
def test_services(world, who):
    wrong = []
    for action, call, expect in SERVICE_OPS:
        expected = expect(who)

        def check(action=action, call=call, expected=expected):
            actor = Actor.for_user(world.users[who.username], channel="web")
            seq = _seq()
            try:
                result = call(world, actor)
                got = A
            except (NotFound, Forbidden) as exc:
                result, got = exc, type(exc)
            outcome = "allowed" if expected == A else "denied"
            events = _events(seq)
            if got != expected or events != [(action, outcome)]:
                return f"{action}: expected {expected} with one {outcome} event, got {got} {events}"
            if got != A and (SUBJECT in str(result) or BODY in str(result)):
                return f"{action}: the refusal tells of the inquiry: {result}"
            return None

        if problem := _rolled_back(check):
            wrong.append(problem)
    # Lists: the inquiry is listed to its parties only, in their own box, and never to anyone else.
    for box in ("received", "sent"):
        actor = Actor.for_user(world.users[who.username], channel="web")
        seq = _seq()
        listed = [str(i.id) for i in inquiry_selectors.inquiry_list(actor=actor, box=box).items]
        should = (box == "sent" and who.side == "sender") or (box == "received" and who.side == "addressee")
        if (world.inquiry_id in listed) != should:
            wrong.append(f"inquiry.list {box}: listed={world.inquiry_id in listed}, expected {should}")
        if _events(seq) != [("inquiry.list", "allowed")]:
            wrong.append(f"inquiry.list {box}: {_events(seq)}")
    count = inquiry_selectors.open_received_inquiry_count(Actor.for_user(world.users[who.username], channel="web"))
    if count != (1 if who.side == "addressee" else 0):
        wrong.append(f"open_received_inquiry_count: {count}")
    assert not wrong, "\n".join(wrong)


API_OPS = [
    (
        "inquiry.view",
        lambda c, w: c.get(f"/api/v1/inquiries/{w.inquiry_id}/"),
        lambda p: 200 if p.side in ("sender", "addressee") else 404,
    ),
    (
        "inquiry.reply",
        lambda c, w: c.post(f"/api/v1/inquiries/{w.inquiry_id}/replies/", {"body": "回答します。"}, format="json"),
        lambda p: 201 if p.side in ("sender", "addressee") else 404,
    ),
    (
        "inquiry.close",
        lambda c, w: c.post(f"/api/v1/inquiries/{w.inquiry_id}/close/"),
        lambda p: 200 if p.side == "sender" else 403 if p.side == "addressee" else 404,
    ),
    (
        "inquiry.create",
        lambda c, w: c.post(
            f"/api/v1/clients/{w.cast.client.id}/inquiries/",
            {"to": ["shakyo"], "subject": "新しい照会", "body": "教えてください。"},
            format="json",
        ),
        lambda p: 201 if p.side in ("sender", "addressee") else 403 if p.side == "bystander" else 404,
    ),
]


@pytest.mark.permission_matrix(cases=len(API_OPS) + 2)
@pytest.mark.parametrize("who", PEOPLE, ids=lambda w: w.username)
def test_api(world, who):
    from django.core.cache import cache

    cache.clear()  # throttling counts
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[who.username]}")
    wrong = []
    for action, call, expect in API_OPS:
        expected = expect(who)

        def check(action=action, call=call, expected=expected):
            seq = _seq()
            response = call(client, world)
            outcome = "allowed" if expected < 400 else "denied"
            events = _events(seq)
            if response.status_code != expected or events != [(action, outcome)]:
                return f"{action}: expected {expected} with one {outcome} event, got {response.status_code} {events}"
            content = response.content.decode()
            if expected >= 400 and (SUBJECT in content or BODY in content or world.inquiry_id in content):
                return f"{action}: the refusal tells of the inquiry"
            return None

        if problem := _rolled_back(check):
            wrong.append(problem)
    for box in ("received", "sent"):
        response = client.get(f"/api/v1/inquiries/?box={box}")
        should = (box == "sent" and who.side == "sender") or (box == "received" and who.side == "addressee")
        if response.status_code != 200 or (world.inquiry_id in response.content.decode()) != should:
            wrong.append(f"GET inquiries box={box}: {response.status_code}, expected listed={should}")
    assert not wrong, "\n".join(wrong)


def test_denied_attempts_name_their_reason(world):
    """The console shows why: not a party, the share expired, the share was revoked."""
    for username, reason in [("bob", "not_inquiry_party"), ("erin", "share_expired"), ("rick", "share_revoked")]:
        seq = _seq()
        with pytest.raises(NotFound):
            inquiry_selectors.inquiry_detail(
                actor=Actor.for_user(world.users[username], channel="web"), inquiry_id=world.inquiry_id
            )
        event = AuditEvent.objects.filter(seq__gt=seq).get()
        assert (event.action, event.outcome, event.reason) == ("inquiry.view", "denied", reason)
        assert (event.target_type, event.target_id) == ("inquiry", world.inquiry_id)
