"""担当者: who may assign whom, what every sharing agency sees, and that every refusal is audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.actors import Actor
from agencies.services import staff_create
from audit.models import AuditEvent
from cases import selectors, services
from cases.models import BreakGlassGrant, ClientAssignment
from tests.cast import PASSWORD
from tsunagu.errors import Forbidden, InvalidInput, NotFound


def _seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def _events(seq: int) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(seq__gt=seq).order_by("seq").values_list("action", "outcome", "actor_username")
    )


def _staff(cast, username, display_name, role="caseworker", agency="fukushi"):
    system = Actor.system(channel="cli")
    return staff_create(
        actor=system,
        username=username,
        agency_code=agency,
        role=role,
        display_name=display_name,
        password=PASSWORD,
    ).user


def test_a_caseworker_assigns_a_colleague_and_every_sharing_agency_sees_it(cast):
    tanaka = _staff(cast, "tanaka", "田中 一郎")
    seq = _seq()
    assignees = services.assignment_add(actor=cast.actor("alice"), client_id=cast.client.id, user_id=tanaka.pk)
    assert [a.label for a in assignees] == ["福祉課 田中"]  # the agency's short name and the family name
    assert _events(seq) == [("assignment.add", "allowed", "alice")]
    event = AuditEvent.objects.get(seq__gt=seq)
    assert event.client_ids == [str(cast.client.id)] and event.details == {"assignee": "tanaka"}
    # The reader sees it on the client (its own agency's first, none here) and in the list.
    bob = cast.actor("bob")
    seen = selectors.client_get(actor=bob, client_id=cast.client.id)
    assert [(a.label, a.own_agency) for a in seen.assignees] == [("福祉課 田中", False)]
    assert not seen.own_assignees
    listed = selectors.client_list(actor=bob).items
    assert [a.label for a in listed[0].assignees] == ["福祉課 田中"]


def test_a_partner_with_read_only_assigns_its_own_staff(cast):
    """Assigning organises the agency's own work: any share level will do."""
    bob = cast.actor("bob")
    assignees = services.assignment_add(actor=bob, client_id=cast.client.id, user_id=cast.users["bob"].pk)
    assert [(a.agency_code, a.own_agency) for a in assignees] == [("shakyo", True)]
    # 「三条市社会福祉協議会」 has no space: the whole name is its short name; Bob has no family name: all of it.
    assert assignees[0].label == "三条市社会福祉協議会 Bob"
    assert selectors.client_get(actor=bob, client_id=cast.client.id).can_assign


@pytest.mark.parametrize(
    ("assignee", "why"),
    [
        ("bob", "another agency's staff"),
        ("ivan", "an integration user"),
        ("olga", "another agency's officer"),
    ],
)
def test_only_the_agency_s_own_case_staff_can_be_assigned(cast, assignee, why):
    seq = _seq()
    with pytest.raises(InvalidInput) as error:
        services.assignment_add(actor=cast.actor("alice"), client_id=cast.client.id, user_id=cast.users[assignee].pk)
    assert "user" in error.value.errors, why
    assert not ClientAssignment.objects.exists()
    assert _events(seq) == []  # bad input, nothing read or written


def test_an_officer_who_does_no_casework_and_a_deactivated_colleague_cannot_be_assigned(cast):
    office_officer = _staff(cast, "oscar", "小山 修", role="agency_admin", agency="soumu")
    gone = _staff(cast, "gone", "去 太郎")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    for user, actor in ((gone, "alice"), (office_officer, "alice")):
        with pytest.raises(InvalidInput):
            services.assignment_add(actor=cast.actor(actor), client_id=cast.client.id, user_id=user.pk)
    # An agency administrator who does casework may be assigned (a small agency).
    services.assignment_add(actor=cast.actor("alice"), client_id=cast.client.id, user_id=cast.users["ada"].pk)


def test_twice_is_bad_input_and_bad_ids_change_nothing(cast):
    alice = cast.actor("alice")
    services.assignment_add(actor=alice, client_id=cast.client.id, user_id=cast.users["alice"].pk)
    for user_id in (cast.users["alice"].pk, "x", None, "1; DROP"):
        with pytest.raises(InvalidInput):
            services.assignment_add(actor=alice, client_id=cast.client.id, user_id=user_id)
    assert ClientAssignment.objects.count() == 1


@pytest.mark.parametrize(
    ("who", "error", "reason"),
    [
        ("charlie", NotFound, "no_share"),  # the outsider: the client does not exist for them
        ("erin", NotFound, "share_expired"),
        ("rick", NotFound, "share_revoked"),
        ("olga", NotFound, "privacy_officer"),
        ("ivan", Forbidden, "role"),  # an integration user does not organise the agency's casework
    ],
)
def test_refusals_are_audited_once(cast, who, error, reason):
    seq = _seq()
    with pytest.raises(error):
        services.assignment_add(actor=cast.actor(who), client_id=cast.client.id, user_id=cast.users[who].pk)
    events = AuditEvent.objects.filter(seq__gt=seq)
    assert [(e.action, e.outcome, e.reason) for e in events] == [("assignment.add", "denied", reason)]
    assert not ClientAssignment.objects.exists()


def test_emergency_access_does_not_make_the_client_the_agency_s_case(cast):
    BreakGlassGrant.objects.create(
        client_id=cast.client.id,
        user=cast.users["charlie"],
        agency=cast.agencies["outsider"],
        reason="救急搬送先からの照会のため",
        expires_at=timezone.now() + timedelta(hours=4),
    )
    charlie = cast.actor("charlie")
    assert not selectors.client_get(actor=charlie, client_id=cast.client.id).can_assign
    seq = _seq()
    with pytest.raises(Forbidden):
        services.assignment_add(actor=charlie, client_id=cast.client.id, user_id=cast.users["charlie"].pk)
    assert [(e.action, e.outcome, e.reason) for e in AuditEvent.objects.filter(seq__gt=seq)] == [
        ("assignment.add", "denied", "break_glass_read_only")
    ]


def test_each_agency_removes_only_its_own(cast):
    alice, bob = cast.actor("alice"), cast.actor("bob")
    mine = services.assignment_add(actor=alice, client_id=cast.client.id, user_id=cast.users["alice"].pk)[0]
    services.assignment_add(actor=bob, client_id=cast.client.id, user_id=cast.users["bob"].pk)
    with pytest.raises(NotFound):  # another agency's assignment is not bob's to end
        services.assignment_remove(actor=bob, client_id=cast.client.id, assignment_id=mine.id)
    seq = _seq()
    left = services.assignment_remove(actor=cast.actor("sam"), client_id=cast.client.id, assignment_id=mine.id)
    assert [a.agency_code for a in left] == ["shakyo"]
    assert _events(seq) == [("assignment.remove", "allowed", "sam")]
    row = ClientAssignment.objects.get(pk=mine.id)
    assert row.ended_at is not None and row.ended_by == cast.users["sam"]  # kept, ended: the history stays
    with pytest.raises(NotFound):  # already ended
        services.assignment_remove(actor=alice, client_id=cast.client.id, assignment_id=mine.id)
    # Ended, the person can be assigned again.
    services.assignment_add(actor=alice, client_id=cast.client.id, user_id=cast.users["alice"].pk)


def test_a_share_that_ends_hides_the_client_from_the_caseload(cast):
    bob = cast.actor("bob")
    services.assignment_add(actor=bob, client_id=cast.client.id, user_id=cast.users["bob"].pk)
    assert [c.id for c in selectors.client_list(actor=bob, scope="mine").items] == [cast.client.id]
    services.share_revoke(actor=cast.actor("sam"), client_id=cast.client.id, share_id=cast.shares["reader"].id)
    assert selectors.client_list(actor=bob, scope="mine").items == []
    assert selectors.client_list(actor=bob, scope="all").items == []
    # The other agencies no longer see bob as assigned: his agency does not see the client any more.
    assert selectors.client_list(actor=cast.actor("sam")).items[0].assignees == ()


def test_whom_to_assign_is_the_agency_s_case_staff(cast):
    names = [c.display_name for c in selectors.assignment_candidates(actor=cast.actor("alice"))]
    assert names == sorted(["Alice", "Sam", "Ada"])  # not ivan (integration)
    assert selectors.assignment_candidates(actor=cast.actor("ivan")) == []
    assert selectors.assignment_candidates(actor=cast.actor("olga")) == []


def test_has_caseload(cast):
    ada = cast.actor("ada")
    assert not selectors.has_caseload(actor=ada)
    services.assignment_add(actor=ada, client_id=cast.client.id, user_id=cast.users["ada"].pk)
    assert selectors.has_caseload(actor=ada)
