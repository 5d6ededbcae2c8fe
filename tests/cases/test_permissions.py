"""PRODUCT §4 over the service layer, for every member of the standing cast.

Each call must be allowed, not found (indistinguishable from a missing client) or forbidden exactly as
specified, and leave exactly one audit event with the right outcome and exposed client ids.
"""

import uuid

import pytest

from audit.models import AuditEvent
from cases import selectors, services
from tsunagu.errors import Forbidden, NotFound

VISIBLE = {"alice": "manage", "sam": "manage", "ada": "manage", "bob": "read", "carol": "append"}
INVISIBLE = ["charlie", "erin", "rick", "penny"]
EVERYONE = [*VISIBLE, *INVISIBLE]


def _events_since(seq):
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def _last_seq():
    last = AuditEvent.objects.order_by("-seq").first()
    return last.seq if last else 0


def _one_event(seq, action, outcome):
    events = _events_since(seq)
    assert [(e.action, e.outcome) for e in events] == [(action, outcome)]
    return events[0]


@pytest.mark.parametrize("who", EVERYONE)
def test_list_shows_the_client_only_to_agencies_with_an_active_share(cast, who):
    seq = _last_seq()
    page = selectors.client_list(actor=cast.actor(who))
    ids = [c.id for c in page.items]
    event = _one_event(seq, "client.list", "allowed")
    if who in VISIBLE:
        assert ids == [cast.client.id]
        assert page.items[0].my_level == VISIBLE[who]
        assert event.client_ids == [str(cast.client.id)]
    else:
        assert ids == []
        assert event.client_ids == []
    assert event.actor_username == who
    assert event.actor_agency_code == cast.users[who].staff.agency.code


@pytest.mark.parametrize("who", EVERYONE)
def test_search_by_kana_name_or_case_number(cast, who):
    for term in ["ヤマダ", "やまだ", "ﾔﾏﾀﾞ", "山田", cast.client.case_number, "山田太郎"]:
        seq = _last_seq()
        page = selectors.client_list(actor=cast.actor(who), q=term)
        event = _one_event(seq, "client.search", "allowed")
        expected = [cast.client.id] if who in VISIBLE else []
        assert [c.id for c in page.items] == expected, term
        assert event.client_ids == [str(i) for i in expected]
        assert "q_hash" in event.details and term not in str(event.details)


@pytest.mark.parametrize("who", EVERYONE)
def test_view_profile(cast, who):
    seq = _last_seq()
    if who in VISIBLE:
        view = selectors.client_get(actor=cast.actor(who), client_id=cast.client.id)
        assert view.my_level == VISIBLE[who]
        event = _one_event(seq, "client.view", "allowed")
        assert event.client_ids == [str(cast.client.id)]
        assert event.authorised_by  # the share that let it happen
    else:
        with pytest.raises(NotFound):
            selectors.client_get(actor=cast.actor(who), client_id=cast.client.id)
        event = _one_event(seq, "client.view", "denied")
        assert event.client_ids == []
        assert event.target_id == str(cast.client.id)


@pytest.mark.parametrize("who", EVERYONE)
def test_timeline(cast, who):
    seq = _last_seq()
    if who in VISIBLE:
        page = selectors.timeline_list(actor=cast.actor(who), client_id=cast.client.id)
        assert cast.entry.id in [e.id for e in page.items]
        _one_event(seq, "timeline.view", "allowed")
    else:
        with pytest.raises(NotFound):
            selectors.timeline_list(actor=cast.actor(who), client_id=cast.client.id)
        _one_event(seq, "timeline.view", "denied")


@pytest.mark.parametrize("who", EVERYONE)
def test_append(cast, who):
    seq = _last_seq()
    call = dict(actor=cast.actor(who), client_id=cast.client.id, kind="call", body="電話で様子を確認。")
    if VISIBLE.get(who) in ("append", "manage"):
        entry = services.timeline_append(**call)
        event = _one_event(seq, "timeline.append", "allowed")
        assert event.target_id == str(entry.id)
        assert entry.agency_code == cast.users[who].staff.agency.code
    elif who in VISIBLE:  # read only: visible, so 403 rather than 404
        with pytest.raises(Forbidden):
            services.timeline_append(**call)
        assert _one_event(seq, "timeline.append", "denied").reason == "insufficient_level"
    else:
        with pytest.raises(NotFound):
            services.timeline_append(**call)
        _one_event(seq, "timeline.append", "denied")


@pytest.mark.parametrize("who", EVERYONE)
def test_correct_own_agency_entry_only(cast, who):
    seq = _last_seq()
    call = dict(actor=cast.actor(who), client_id=cast.client.id, kind="visit", body="訂正: 体調は不安定。")
    if who in ("alice", "sam", "ada"):  # alice's agency wrote the entry
        correction = services.timeline_append(**call, corrects=cast.entry.id)
        assert correction.corrects == cast.entry.id
        _one_event(seq, "timeline.correct", "allowed")
        page = selectors.timeline_list(actor=cast.actor("bob"), client_id=cast.client.id)
        original = next(e for e in page.items if e.id == cast.entry.id)
        assert original.corrected_by == [correction.id]
    elif who in VISIBLE:  # another agency's entry, or read only
        with pytest.raises(Forbidden):
            services.timeline_append(**call, corrects=cast.entry.id)
        _one_event(seq, "timeline.correct", "denied")
    else:
        with pytest.raises(NotFound):
            services.timeline_append(**call, corrects=cast.entry.id)
        _one_event(seq, "timeline.correct", "denied")


@pytest.mark.parametrize("who", EVERYONE)
def test_share_management_needs_manage_and_a_supervisor_role(cast, who):
    seq = _last_seq()
    call = dict(actor=cast.actor(who), client_id=cast.client.id, agency_code="shisetsu", level="read", basis="consent")
    if who in ("sam", "ada"):
        share = services.share_grant(**call)
        _one_event(seq, "share.grant", "allowed")
        seq = _last_seq()
        services.share_revoke(actor=cast.actor(who), client_id=cast.client.id, share_id=share.id)
        _one_event(seq, "share.revoke", "allowed")
    elif who in VISIBLE:  # alice (caseworker at the owner), bob, carol: visible but not allowed
        with pytest.raises(Forbidden):
            services.share_grant(**call)
        _one_event(seq, "share.grant", "denied")
    else:
        with pytest.raises(NotFound):
            services.share_grant(**call)
        _one_event(seq, "share.grant", "denied")


@pytest.mark.parametrize("who", EVERYONE)
def test_share_list(cast, who):
    seq = _last_seq()
    if who in VISIBLE:
        shares = selectors.share_list(actor=cast.actor(who), client_id=cast.client.id)
        by_agency = {(s.agency_code, s.revoked_at is None) for s in shares}
        assert ("fukushi", True) in by_agency and ("soudan", False) in by_agency
        _one_event(seq, "share.list", "allowed")
    else:
        with pytest.raises(NotFound):
            selectors.share_list(actor=cast.actor(who), client_id=cast.client.id)
        _one_event(seq, "share.list", "denied")


@pytest.mark.parametrize("who", ["bob", "charlie"])
def test_missing_and_hidden_clients_are_indistinguishable(cast, who):
    actor = cast.actor(who)
    errors = []
    for client_id in (uuid.uuid4(), "not-a-uuid", cast.client.id):
        try:
            selectors.client_get(actor=actor, client_id=client_id)
        except NotFound as exc:
            errors.append((type(exc), exc.message))
    if who == "charlie":
        assert len(set(errors)) == 1 and len(errors) == 3
    else:
        assert len(errors) == 2  # bob sees the real one


def test_owner_share_cannot_be_revoked(cast):
    from tsunagu.errors import InvalidInput

    shares = selectors.share_list(actor=cast.actor("sam"), client_id=cast.client.id)
    owner = next(s for s in shares if s.is_owner)
    with pytest.raises(InvalidInput):
        services.share_revoke(actor=cast.actor("sam"), client_id=cast.client.id, share_id=owner.id)
    assert selectors.client_get(actor=cast.actor("alice"), client_id=cast.client.id).my_level == "manage"


def test_revocation_takes_effect_on_the_next_request(cast):
    bob = cast.actor("bob")
    assert selectors.client_get(actor=bob, client_id=cast.client.id)
    services.share_revoke(actor=cast.actor("sam"), client_id=cast.client.id, share_id=cast.shares["reader"].id)
    with pytest.raises(NotFound):
        selectors.client_get(actor=bob, client_id=cast.client.id)
    assert AuditEvent.objects.filter(action="client.view", outcome="denied").first().reason == "share_revoked"


def test_expired_share_is_refused_before_any_sweep(cast):
    """erin's agency still holds its guardian permissions; the expiry alone must keep it out."""
    from guardian.shortcuts import get_group_perms

    from cases.models import Client

    group = cast.agencies["lapsed"].group
    assert "view_client" in set(get_group_perms(group, Client.objects.get(pk=cast.client.id)))
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("erin"), client_id=cast.client.id)
    assert AuditEvent.objects.filter(action="client.view", outcome="denied").first().reason == "share_expired"


def test_expiry_sweep_closes_expired_shares_only(cast):
    from agencies.actors import Actor
    from cases.models import Share

    swept = services.share_expire_sweep(actor=Actor.system(channel="task"))
    assert swept == 1
    assert Share.objects.get(pk=cast.shares["lapsed"].id).revoke_reason == "expired"
    assert Share.objects.get(pk=cast.shares["reader"].id).revoked_at is None
    event = AuditEvent.objects.filter(action="share.expire").get()
    assert event.channel == "task" and event.actor_username == "system"
    assert services.share_expire_sweep(actor=Actor.system(channel="task")) == 0


def test_confidential_address_is_masked_for_every_agency_but_the_owner(cast):
    services.client_update(actor=cast.actor("sam"), client_id=cast.client.id, changes={"address_confidential": True})
    assert selectors.client_get(actor=cast.actor("alice"), client_id=cast.client.id).address.startswith("新潟県")
    for who in ("bob", "carol"):
        view = selectors.client_get(actor=cast.actor(who), client_id=cast.client.id)
        assert view.address is None and view.address_masked
        listed = selectors.client_list(actor=cast.actor(who)).items[0]
        assert listed.address is None


def test_privacy_officer_needs_a_share_like_anyone_else(cast):
    assert cast.users["penny"].staff.is_privacy_officer
    assert selectors.client_list(actor=cast.actor("penny")).items == []
    with pytest.raises(NotFound):
        selectors.timeline_list(actor=cast.actor("penny"), client_id=cast.client.id)


def test_share_grant_writes_a_system_entry_and_upgrades_in_place(cast):
    sam = cast.actor("sam")
    services.share_grant(actor=sam, client_id=cast.client.id, agency_code="shakyo", level="append", basis="consent")
    assert selectors.client_get(actor=cast.actor("bob"), client_id=cast.client.id).my_level == "append"
    shares = [s for s in selectors.share_list(actor=sam, client_id=cast.client.id) if s.agency_code == "shakyo"]
    assert sorted(s.is_active for s in shares) == [False, True]  # the read share was replaced, not edited
    kinds = [e.kind for e in selectors.timeline_list(actor=sam, client_id=cast.client.id).items]
    assert kinds.count("share_change") >= 5


def test_downgrade_removes_the_append_permission(cast):
    sam = cast.actor("sam")
    services.share_grant(actor=sam, client_id=cast.client.id, agency_code="houkatsu", level="read", basis="consent")
    with pytest.raises(Forbidden):
        services.timeline_append(actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="x")


def test_status_change_needs_manage_and_is_recorded_on_the_timeline(cast):
    with pytest.raises(Forbidden):
        services.client_update(actor=cast.actor("carol"), client_id=cast.client.id, changes={"status": "closed"})
    view = services.client_update(actor=cast.actor("alice"), client_id=cast.client.id, changes={"status": "closed"})
    assert view.status == "closed"
    latest = selectors.timeline_list(actor=cast.actor("alice"), client_id=cast.client.id).items[0]
    assert latest.kind == "status_change"
    event = AuditEvent.objects.filter(action="client.update", outcome="allowed").get()
    assert event.details == {"fields": ["status"]}


@pytest.mark.parametrize("garbage", ["\x00", "abc\x00def", "x" * 500, "../../etc/passwd", "٣"])
def test_any_client_id_is_just_not_found(cast, garbage):
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("alice"), client_id=garbage)
    event = AuditEvent.objects.filter(action="client.view").latest("seq")
    assert event.outcome == "denied" and "\x00" not in event.target_id and len(event.target_id) <= 64


SHARE_MANAGERS_ONLY = "共有設定は、この支援対象者を管理する機関の管理職・主任または機関管理者のみが行えます。"


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])  # the role falls short (alice), the level (bob, carol)
def test_a_refused_share_change_says_who_may_manage_shares(cast, who):
    """The sharing page's list, a grant and a revoke refuse with one message whichever fell short, so that the
    browser and the API say the same."""
    actor, client_id = cast.actor(who), cast.client.id
    calls = {
        "share.manage": lambda: selectors.share_list(actor=actor, client_id=client_id, for_management=True),
        "share.grant": lambda: services.share_grant(
            actor=actor, client_id=client_id, agency_code="shisetsu", level="read", basis="consent"
        ),
        "share.revoke": lambda: services.share_revoke(
            actor=actor, client_id=client_id, share_id=cast.shares["reader"].id
        ),
    }
    for action, call in calls.items():
        seq = _last_seq()
        with pytest.raises(Forbidden) as refused:
            call()
        assert refused.value.message == SHARE_MANAGERS_ONLY
        _one_event(seq, action, "denied")


@pytest.mark.parametrize("who", EVERYONE)
def test_share_list_for_management_needs_manage_and_a_supervisor_role(cast, who):
    seq = _last_seq()
    call = dict(actor=cast.actor(who), client_id=cast.client.id, for_management=True)
    if who in ("sam", "ada"):
        assert selectors.share_list(**call)
        _one_event(seq, "share.manage", "allowed")
    elif who in VISIBLE:  # alice manages but is a caseworker; bob and carol lack manage
        with pytest.raises(Forbidden):
            selectors.share_list(**call)
        expected = "role" if who == "alice" else "insufficient_level"
        assert _one_event(seq, "share.manage", "denied").reason == expected
    else:
        with pytest.raises(NotFound):
            selectors.share_list(**call)
        _one_event(seq, "share.manage", "denied")
