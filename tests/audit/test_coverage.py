"""Every §5 action available today writes exactly one event with the right action, outcome, actor, channel and
exposed client ids, whichever channel it comes through (services with web/cli/task actors, the web pages)."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import translation

from agencies.actors import Actor
from agencies.services import apikey_issue, apikey_revoke
from audit.models import AuditEvent, AuditExposure
from cases import selectors, services
from cases.models import Client
from tests.cast import PASSWORD
from tsunagu.errors import DomainError

CLIENT = "client"  # placeholder: the cast's shared client


def last_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def events_after(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def quietly(call):
    """Run ``call``; a refusal is expected for denied rows."""
    try:
        return call()
    except DomainError:
        return None


def _new_client(cast, actor):
    return services.client_create(
        actor=actor, name="新規 花子", name_kana="シンキ ハナコ", birth_date=date(1950, 1, 1), address="どこか"
    )


# (id, who, channel, action, outcome, exposed, call(cast, actor))
SERVICE_ROWS = [
    ("list", "alice", "web", "client.list", "allowed", [CLIENT], lambda c, a: selectors.client_list(actor=a)),
    (
        "search",
        "bob",
        "cli",
        "client.search",
        "allowed",
        [CLIENT],
        lambda c, a: selectors.client_list(actor=a, q="山田"),
    ),
    (
        "duplicates",
        "alice",
        "web",
        "client.search",
        "allowed",
        [CLIENT],
        lambda c, a: selectors.client_find_duplicates(actor=a, name_kana="やまだ たろう", birth_date=date(1948, 4, 1)),
    ),
    (
        "view",
        "bob",
        "web",
        "client.view",
        "allowed",
        [CLIENT],
        lambda c, a: selectors.client_get(actor=a, client_id=c.client.id),
    ),
    (
        "view-denied",
        "charlie",
        "web",
        "client.view",
        "denied",
        [],
        lambda c, a: selectors.client_get(actor=a, client_id=c.client.id),
    ),
    (
        "view-revoked",
        "rick",
        "task",
        "client.view",
        "denied",
        [],
        lambda c, a: selectors.client_get(actor=a, client_id=c.client.id),
    ),
    (
        "page",
        "bob",
        "web",
        "client.view",
        "allowed",
        [CLIENT],
        lambda c, a: selectors.client_page(actor=a, client_id=c.client.id, timeline=selectors.TimelineQuery.of()),
    ),
    (
        "page-denied",
        "charlie",
        "web",
        "client.view",
        "denied",
        [],
        lambda c, a: selectors.client_page(actor=a, client_id=c.client.id, timeline=selectors.TimelineQuery.of()),
    ),
    (
        "timeline",
        "carol",
        "task",
        "timeline.view",
        "allowed",
        [CLIENT],
        lambda c, a: selectors.timeline_list(actor=a, client_id=c.client.id),
    ),
    (
        "shares",
        "bob",
        "web",
        "share.list",
        "allowed",
        [CLIENT],
        lambda c, a: selectors.share_list(actor=a, client_id=c.client.id),
    ),
    (
        "append",
        "carol",
        "web",
        "timeline.append",
        "allowed",
        [CLIENT],
        lambda c, a: services.timeline_append(actor=a, client_id=c.client.id, kind="call", body="電話で確認"),
    ),
    (
        "append-denied",
        "bob",
        "cli",
        "timeline.append",
        "denied",
        [],
        lambda c, a: services.timeline_append(actor=a, client_id=c.client.id, kind="call", body="電話で確認"),
    ),
    (
        "correct",
        "alice",
        "web",
        "timeline.correct",
        "allowed",
        [CLIENT],
        lambda c, a: services.timeline_append(
            actor=a, client_id=c.client.id, kind="visit", body="訂正", corrects=c.entry.id
        ),
    ),
    ("create", "alice", "cli", "client.create", "allowed", ["new"], _new_client),
    (
        "update",
        "alice",
        "web",
        "client.update",
        "allowed",
        [CLIENT],
        lambda c, a: services.client_update(actor=a, client_id=c.client.id, changes={"phone": "0256-11-2222"}),
    ),
    (
        "grant",
        "sam",
        "web",
        "share.grant",
        "allowed",
        [CLIENT],
        lambda c, a: services.share_grant(
            actor=a, client_id=c.client.id, agency_code="shisetsu", level="read", basis="consent"
        ),
    ),
    (
        "grant-denied",
        "alice",
        "web",
        "share.grant",
        "denied",
        [],
        lambda c, a: services.share_grant(
            actor=a, client_id=c.client.id, agency_code="shisetsu", level="read", basis="consent"
        ),
    ),
    (
        "revoke",
        "sam",
        "cli",
        "share.revoke",
        "allowed",
        [CLIENT],
        lambda c, a: services.share_revoke(actor=a, client_id=c.client.id, share_id=c.shares["reader"].id),
    ),
    ("expire", None, "task", "share.expire", "allowed", [CLIENT], lambda c, a: services.share_expire_sweep(actor=a)),
    (
        "break-glass",
        "charlie",
        "web",
        "break_glass",
        "allowed",
        [CLIENT],
        lambda c, a: services.break_glass_open(
            actor=a, name_kana="やまだ たろう", birth_date=date(1948, 4, 1), reason="本人が倒れ救急搬送、服薬情報の確認"
        ),
    ),
    (
        "break-glass-denied",
        "charlie",
        "web",
        "break_glass",
        "denied",
        [],
        lambda c, a: services.break_glass_open(
            actor=a, name_kana="だれでもない", birth_date=date(1948, 4, 1), reason="本人が倒れ救急搬送、服薬情報の確認"
        ),
    ),
    (
        "apikey-issue",
        "ada",
        "web",
        "apikey.issue",
        "allowed",
        [],
        lambda c, a: apikey_issue(actor=a, user=c.users["ivan"], name="連携"),
    ),
    (
        "apikey-revoke",
        "alice",
        "cli",
        "apikey.revoke",
        "allowed",
        [],
        lambda c, a: apikey_revoke(actor=a, key_id=apikey_issue(actor=a, user=c.users["alice"], name="x")[0].pk),
    ),
]


@pytest.mark.parametrize(
    ("who", "channel", "action", "outcome", "exposed", "call"),
    [row[1:] for row in SERVICE_ROWS],
    ids=[row[0] for row in SERVICE_ROWS],
)
def test_each_service_action_writes_exactly_one_event(cast, who, channel, action, outcome, exposed, call):
    actor = cast.actor(who, channel) if who else Actor.system(channel=channel)
    # Setup events of the call itself (e.g. the key issued before it is revoked) are not the action under test.
    before = last_seq()
    result = quietly(lambda: call(cast, actor))
    mine = [e for e in events_after(before) if e.action == action]
    assert len(mine) == 1, [(e.action, e.outcome) for e in events_after(before)]
    event = mine[0]
    new_ids = {str(c.pk) for c in Client.objects.exclude(pk=cast.client.id)}
    expected_ids = [
        str(cast.client.id) if x == CLIENT else str(result.id) if x == "new" and result else x for x in exposed
    ]
    assert (event.action, event.outcome, event.channel) == (action, outcome, channel)
    assert event.actor_username == (who or "system")
    assert event.actor_agency_code == (cast.agencies[_agency_role(who)].code if who else "")
    assert event.client_ids == expected_ids, new_ids
    exposures = {str(x.client_id): x.exposed for x in AuditExposure.objects.filter(event=event)}
    assert {k for k, v in exposures.items() if v} == set(expected_ids)
    if outcome == "denied" and event.target_type == "client":
        assert exposures == {event.target_id: False}


def _agency_role(username: str) -> str:
    from tests.cast import PEOPLE

    return PEOPLE[username][0]


def login(client, username, password=PASSWORD):
    return client.post(reverse("frontend:login"), {"username": username, "password": password})


def test_web_pages_are_audited_once_per_access(cast, client):
    before = last_seq()
    login(client, "bob", "wrong-password-here")
    assert [(e.action, e.outcome, e.channel) for e in events_after(before)] == [("auth.login_failed", "denied", "web")]

    before = last_seq()
    assert login(client, "bob").status_code == 302
    assert [(e.action, e.actor_username, e.channel) for e in events_after(before)] == [("auth.login", "bob", "web")]

    cid = str(cast.client.id)
    assert client.get(reverse("frontend:client_list"), {"scope": "all"}).status_code == 303  # the tab: no read
    before = last_seq()
    assert client.get(reverse("frontend:client_list")).status_code == 200
    events = events_after(before)
    assert [(e.action, e.client_ids, e.channel, e.ip) for e in events] == [("client.list", [cid], "web", "127.0.0.1")]

    before = last_seq()
    assert client.post(reverse("frontend:client_list"), {"q": "やまだ"}, follow=True).status_code == 200
    assert [(e.action, e.client_ids) for e in events_after(before)] == [("client.search", [cid])]  # POST, then "/"

    before = last_seq()
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "results"}
    assert client.post(reverse("frontend:client_list"), {"q": "やまだ"}, **htmx).status_code == 200
    assert [(e.action, e.client_ids) for e in events_after(before)] == [("client.search", [cid])]

    before = last_seq()
    assert client.get(reverse("frontend:client_detail", args=[cid])).status_code == 200
    events = events_after(before)
    # The page is one audited read, naming the parts it read: the profile, the shares and the timeline.
    assert [(e.action, e.details["parts"]) for e in events] == [("client.view", ["profile", "shares", "timeline"])]
    assert all(e.client_ids == [cid] and e.actor_username == "bob" and e.channel == "web" for e in events)

    before = last_seq()
    client.post(reverse("frontend:logout"))
    assert [(e.action, e.actor_username) for e in events_after(before)] == [("auth.logout", "bob")]


def test_a_hidden_client_page_is_one_denied_event(cast, client):
    login(client, "charlie")
    before = last_seq()
    assert client.get(reverse("frontend:client_detail", args=[cast.client.id])).status_code == 404
    events = events_after(before)
    assert [(e.action, e.outcome, e.client_ids, e.target_id) for e in events] == [
        ("client.view", "denied", [], str(cast.client.id))
    ]


def test_a_combined_read_counts_as_a_read_of_the_records():
    """The audit layer's vocabulary for a combined read (the client page): an event whose parts name the timeline
    is a read of the records wherever a ``timeline.view`` is, and its label names the parts (unknown parts are
    ignored, and a read without parts keeps its plain label)."""
    from audit import actions

    page = {"parts": ["profile", "shares", "timeline"], "timeline": {"count": 3, "filters": {}}}
    assert actions.reads_records("client.view", page)
    assert actions.reads_records("timeline.view", {})
    assert not actions.reads_records("client.view", {"parts": ["profile", "shares"]})
    assert not actions.reads_records("client.view", None)
    assert actions.read_parts({"parts": ["timeline", "bogus", "profile"]}) == ["profile", "timeline"]
    with translation.override("ja"):
        assert actions.event_label("client.view", page) == "基本情報の閲覧（基本情報、共有先、支援記録）"
        assert actions.event_label("client.view", {}) == "基本情報の閲覧"
    with translation.override("en"):
        assert actions.event_label("client.view", page) == "Profile viewed (Profile, Shared with, Support records)"
