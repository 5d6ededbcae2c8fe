"""The flags the read models carry (what the viewer may do) say exactly what the services allow.

For every role at every share level (and under a break-glass grant), the flags of ``client_get`` and
``timeline_list`` are compared with the outcome of the service calls they stand for, each tried in a savepoint
that is rolled back: ``can_append`` with ``timeline_append``, ``can_manage_shares`` with the sharing page's read
(``share_list(for_management=True)``), ``can_edit`` with ``client_update`` and ``client_status_change`` (``manage``
in any role), ``can_correct`` with a correction of each entry on the timeline. The table
states the rules once more, so that a change to them is a visible change here too.
"""

from datetime import date

import pytest
from django.db import transaction

from agencies import selectors as agency_selectors
from agencies.actors import Actor
from agencies.models import Role
from agencies.services import staff_create
from cases import selectors, services
from tsunagu.errors import Forbidden, InvalidInput, NotFound

SYSTEM = Actor.system(channel="cli")
ROLES = [Role.CASEWORKER, Role.SUPERVISOR, Role.AGENCY_ADMIN, Role.INTEGRATION]
# The cast's agencies by the level of their share of the client; "break_glass": an outsider with a grant.
LEVELS = {"manage": "owner", "append": "appender", "read": "reader", "break_glass": "outsider"}

# level → role → (can_append, can_manage_shares). Correcting: can_append, and only the agency's own entries.
EXPECTED = {
    "manage": {
        Role.CASEWORKER: (True, False),
        Role.SUPERVISOR: (True, True),
        Role.AGENCY_ADMIN: (True, True),
        Role.INTEGRATION: (True, False),
    },
    "append": {role: (True, False) for role in ROLES},
    "read": {role: (False, False) for role in ROLES},
    "break_glass": {role: (False, False) for role in ROLES},
}


class Refused(Exception):
    pass


def _allowed(call) -> bool:
    """Whether the service call succeeds; its effects are rolled back either way."""
    try:
        with transaction.atomic():
            call()
            raise Refused  # allowed: undo it
    except Refused:
        return True
    except (Forbidden, InvalidInput):
        return False


def _person(cast, level: str, role: str) -> Actor:
    agency = cast.agencies[LEVELS[level]]
    username = f"{level}-{role}".replace("_", "-")
    staff = staff_create(actor=SYSTEM, username=username, agency_code=agency.code, role=role, password=None)
    actor = Actor.for_user(staff.user, channel="web")
    if level == "break_glass":
        services.break_glass_open(
            actor=actor, name_kana="やまだ たろう", birth_date=date(1948, 4, 1), reason="安否確認のため"
        )
    return actor


@pytest.fixture
def world(cast):
    # An entry of the appender's own, beside the owner's entry and the system entries of the share changes.
    services.timeline_append(actor=cast.actor("carol"), client_id=cast.client.id, kind="call", body="包括から電話")
    return cast


# Break-glass is for people, never for integration users: that pair is not a case of the table.
@pytest.mark.parametrize(
    ("level", "role"),
    [(level, role) for level in LEVELS for role in ROLES if not (level == "break_glass" and role == Role.INTEGRATION)],
)
def test_flags_match_what_the_services_allow(world, level, role):
    actor = _person(world, level, role)
    client_id = world.client.id
    client = selectors.client_get(actor=actor, client_id=client_id)
    entries = selectors.timeline_list(actor=actor, client_id=client_id, limit=50).items

    assert (client.can_append, client.can_manage_shares) == EXPECTED[level][role]
    may_append = _allowed(
        lambda: services.timeline_append(actor=actor, client_id=client_id, kind="note", body="追記できるか")
    )
    may_manage = _allowed(lambda: selectors.share_list(actor=actor, client_id=client_id, for_management=True))
    assert (client.can_append, client.can_manage_shares) == (may_append, may_manage)
    may_edit = _allowed(
        lambda: services.client_update(actor=actor, client_id=client_id, changes={"phone": "0256-99-9999"})
    )
    may_change_status = _allowed(
        lambda: services.client_status_change(actor=actor, client_id=client_id, status="paused", reason="入院のため")
    )
    assert client.can_edit is may_edit is may_change_status is (level == "manage")

    own = [e for e in entries if e.agency_code == actor.agency_code and not e.is_system]
    assert bool(own) is (level in ("manage", "append"))  # the table covers an own entry wherever one can exist
    for entry in entries:
        may_correct = _allowed(
            lambda entry=entry: services.timeline_append(
                actor=actor, client_id=client_id, kind="note", body="訂正できるか", corrects=entry.id
            )
        )
        assert entry.can_correct is may_correct, (entry.kind, entry.agency_code)
        assert entry.can_correct is (client.can_append and entry in own)


@pytest.mark.parametrize("name", ["alice", "sam", "ada", "bob", "ivan", "otis", "olga", "penny"])
def test_the_agency_admin_flag_matches_the_agency_pages(cast, name):
    actor = cast.actor(name)
    me = agency_selectors.profile_get(actor=actor)
    try:
        agency_selectors.staff_of_agency(actor=actor)
        agency_selectors.apikey_list(actor=actor)
    except Forbidden:
        allowed = False
    else:
        allowed = True
    assert me.can_administer_agency is allowed is (name in ("ada", "otis", "olga"))


def test_a_hidden_client_has_no_flags_to_show(cast):
    with pytest.raises(NotFound):
        selectors.client_get(actor=cast.actor("charlie"), client_id=cast.client.id)
