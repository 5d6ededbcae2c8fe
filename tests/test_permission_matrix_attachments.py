"""The permission matrix for attachments: every principal of the standing cast against an attachment id.

Two attachments, both images (so they have thumbnails), both added by carol (地域包括支援センター, ``append``): one
on the cast's client, one on a second client of 福祉課 whose address is confidential (DV等), shared the same way. A
third id exists nowhere. Who sees the entry sees its file; a hidden attachment is "not found" exactly like the missing
one (same status, same body); on the confidential client only the owner agency and the uploader's agency get the
file, the others that see the entry are refused (403) and never told its name.

Every case runs in a savepoint that is rolled back. An allowed case leaves exactly one ``allowed`` event of its
action; a refused one exactly one ``denied`` event, and the refusal names neither the file nor its hash.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from PIL import Image
from rest_framework.test import APIClient

from agencies.actors import Actor
from agencies.services import apikey_issue
from cases import attachment_selectors, services
from cases.attachments import Incoming
from tests.matrix import events as _events
from tests.matrix import rolled_back as _rolled_back
from tests.matrix import seq as _seq
from tsunagu.errors import Forbidden, NotFound

A, NF, F = "allowed", NotFound, Forbidden
FILENAME = "自宅の様子_秘.png"

# Who sees the clients (both are shared alike): the owner 福祉課 (alice, sam, ada, ivan), 社協 (bob, read) and
# 包括 (carol, append, the uploader). Nobody else.
SEES = {"alice", "sam", "ada", "ivan", "bob", "carol"}
# On the confidential client, the file goes to the owner agency and the uploader's agency only.
GETS_CONFIDENTIAL = {"alice", "sam", "ada", "ivan", "carol"}
EVERYONE = ["alice", "sam", "ada", "bob", "carol", "charlie", "erin", "rick", "penny", "ivan", "otis", "olga"]


def png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class World:
    users: dict
    keys: dict
    plain: str  # the attachment on the cast's client
    confidential: str  # the attachment on the client whose address is confidential
    missing: str
    content: bytes


def _attach(actor: Actor, client_id, data: bytes) -> str:
    entry = services.timeline_append(
        actor=actor,
        client_id=client_id,
        kind="visit",
        body="自宅の様子を撮影した。",
        files=[Incoming(name=FILENAME, file=io.BytesIO(data), size=len(data))],
    )
    return str(entry.attachments[0].id)


@pytest.fixture
def world(cast) -> World:
    alice, sam, carol = cast.actor("alice"), cast.actor("sam"), cast.actor("carol")
    data = png("teal")
    plain = _attach(carol, cast.client.id, data)
    hidden = services.client_create(
        actor=alice,
        name="秘匿 花子",
        name_kana="ひとく はなこ",
        birth_date=date(1985, 6, 1),
        address="（秘匿）",
        address_confidential=True,
    )
    services.share_grant(actor=sam, client_id=hidden.id, agency_code="shakyo", level="read", basis="consent")
    services.share_grant(actor=sam, client_id=hidden.id, agency_code="houkatsu", level="append", basis="consent")
    confidential = _attach(carol, hidden.id, data)
    users = dict(cast.users)
    keys = {
        name: apikey_issue(actor=Actor.for_user(u, channel="web"), user=u, name="matrix")[1]
        for name, u in users.items()
    }
    return World(users, keys, plain, confidential, str(uuid.uuid4()), data)


def _expected(username: str, which: str):
    if which == "missing" or username not in SEES:
        return NF
    if which == "confidential" and username not in GETS_CONFIDENTIAL:
        return F
    return A


SERVICE_OPS = [
    ("attachment.download", lambda a, i: attachment_selectors.attachment_download(actor=a, attachment_id=i)),
    ("attachment.thumbnail", lambda a, i: attachment_selectors.attachment_thumbnail(actor=a, attachment_id=i)),
]
WHICH = ("plain", "confidential", "missing")


@pytest.mark.permission_matrix(cases=len(SERVICE_OPS) * len(WHICH))
@pytest.mark.parametrize("username", EVERYONE)
def test_services(world, username):
    wrong = []
    for action, call in SERVICE_OPS:
        for which in WHICH:
            expected = _expected(username, which)
            attachment_id = getattr(world, which)

            def check(action=action, call=call, expected=expected, attachment_id=attachment_id, which=which):
                actor = Actor.for_user(world.users[username], channel="web")
                seq = _seq()
                content = b""
                try:
                    result = call(actor, attachment_id)
                    content = b"".join(result.chunks)
                    got = A
                except (NotFound, Forbidden) as exc:
                    result, got = exc, type(exc)
                outcome = "allowed" if expected == A else "denied"
                events = _events(seq)
                if got != expected or events != [(action, outcome)]:
                    return f"{action} {which}: expected {expected} with one {outcome} event, got {got} {events}"
                if got == A and action == "attachment.download" and content != world.content:
                    return f"{action} {which}: the content differs from what was uploaded"
                if got != A and FILENAME in str(result):
                    return f"{action} {which}: the refusal names the file"
                return None

            if problem := _rolled_back(check):
                wrong.append(problem)
    assert not wrong, "\n".join(wrong)


@pytest.mark.permission_matrix(cases=len(WHICH) + 1)
@pytest.mark.parametrize("username", EVERYONE)
def test_api(world, username):
    from django.core.cache import cache

    cache.clear()  # throttling counts
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[username]}")
    wrong = []
    bodies = {}
    for which in WHICH:
        expected = {A: 200, NF: 404, F: 403}[_expected(username, which)]

        def check(expected=expected, which=which):
            seq = _seq()
            response = client.get(f"/api/v1/attachments/{getattr(world, which)}/")
            outcome = "allowed" if expected == 200 else "denied"
            events = _events(seq)
            if response.status_code != expected or events != [("attachment.download", outcome)]:
                return f"GET {which}: expected {expected} with one {outcome} event, got {response.status_code} {events}"
            content = b"".join(response.streaming_content) if response.streaming else response.content
            bodies[which] = content
            if expected == 200 and content != world.content:
                return f"GET {which}: the content differs from what was uploaded"
            if expected != 200 and (FILENAME.encode() in content or getattr(world, which).encode() in content):
                return f"GET {which}: the refusal tells of the file"
            return None

        if problem := _rolled_back(check):
            wrong.append(problem)
    # Hidden is indistinguishable from missing: the same body, byte for byte.
    if username not in SEES and bodies.get("plain") != bodies.get("missing"):
        wrong.append(f"a hidden attachment answers differently from a missing one: {bodies}")
    # The timeline lists the file to whoever sees the entry; masked on the confidential client for bob.
    if username in SEES:
        listed = client.get(f"/api/v1/clients/{_client_of(world, 'plain')}/timeline/").json()["results"]
        files = [f for e in listed for f in e["attachments"]]
        if [f["id"] for f in files] != [world.plain] or files[0]["filename"] != FILENAME:
            wrong.append(f"timeline attachments: {files}")
    assert not wrong, "\n".join(wrong)


def _client_of(world: World, which: str) -> str:
    from cases.models import Attachment

    return str(Attachment.objects.get(pk=getattr(world, which)).client_id)


def test_masked_listing_names_nothing(world):
    """bob's agency sees the confidential client's entry but not its file: listed without name or thumbnail."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys['bob']}")
    response = client.get(f"/api/v1/clients/{_client_of(world, 'confidential')}/timeline/")
    assert response.status_code == 200
    (attachment,) = [f for e in response.json()["results"] for f in e["attachments"]]
    assert attachment["id"] == world.confidential
    assert attachment["masked"] is True and attachment["filename"] == ""
    assert FILENAME not in response.content.decode()
    # The uploader's own agency gets the name.
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys['carol']}")
    listed = client.get(f"/api/v1/clients/{_client_of(world, 'confidential')}/timeline/").json()["results"]
    assert [f["filename"] for e in listed for f in e["attachments"]] == [FILENAME]


def test_denied_attempts_name_their_reason(world):
    from audit.models import AuditEvent

    for username, which, reason in [
        ("bob", "confidential", "address_confidential"),
        ("charlie", "plain", "no_share"),
        ("erin", "plain", "share_expired"),
        ("rick", "plain", "share_revoked"),
        ("alice", "missing", "not_found"),
    ]:
        seq = _seq()
        with pytest.raises((NotFound, Forbidden)):
            attachment_selectors.attachment_download(
                actor=Actor.for_user(world.users[username], channel="web"), attachment_id=getattr(world, which)
            )
        event = AuditEvent.objects.filter(seq__gt=seq).get()
        assert (event.action, event.outcome, event.reason) == ("attachment.download", "denied", reason), username
        assert (event.target_type, event.target_id) == ("attachment", getattr(world, which))
