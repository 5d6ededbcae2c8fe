"""Who may issue an API key for whom (issue 10, finding 1).

A key acts as its user, so issuing one for somebody else is acting as them. The rule: an agency administrator
issues keys only for integration users of the own agency; a person may issue a key for themselves; nobody issues
a key for a privacy officer but that officer. The operator's command (system actor) provisions integration users
only. Every refusal leaves one ``apikey.issue`` denied event and no key.
"""

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from agencies.actors import Actor
from agencies.models import ApiKey
from agencies.services import apikey_issue
from audit.models import AuditEvent
from tests.mfa import sign_in
from tsunagu.errors import Forbidden, NotFound


@pytest.fixture
def as_user(cast):
    def make(name: str) -> Client:
        return sign_in(Client(), cast.users[name])

    return make


# (issuer, holder, expected): None = issued; otherwise the error and the recorded reason.
RULES = [
    ("ada", "ivan", None),  # the owner's admin, for the owner's integration user
    ("ada", "ada", None),  # oneself
    ("alice", "alice", None),
    ("ivan", "ivan", None),
    ("penny", "penny", None),  # an officer, for herself
    ("olga", "olga", None),
    ("ada", "sam", (Forbidden, "not_integration")),  # 福祉課's admin acting as a supervisor
    ("ada", "alice", (Forbidden, "not_integration")),
    ("otis", "penny", (Forbidden, "privacy_officer")),  # the office's admin acting as the privacy officer
    ("otis", "olga", (Forbidden, "privacy_officer")),
    ("olga", "penny", (Forbidden, "privacy_officer")),  # not even another officer
    ("ada", "bob", (NotFound, "other_agency")),  # another agency's staff: not found, like a missing user
    ("otis", "ivan", (NotFound, "other_agency")),
    ("alice", "ivan", (Forbidden, "not_agency_admin")),  # only administrators issue for somebody else
    ("sam", "alice", (Forbidden, "not_agency_admin")),
    ("penny", "olga", (Forbidden, "not_agency_admin")),
]


@pytest.mark.parametrize(("issuer", "holder", "expected"), RULES, ids=[f"{i}-for-{h}" for i, h, _ in RULES])
def test_who_may_issue_a_key_for_whom(cast, issuer, holder, expected):
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    call = dict(actor=cast.actor(issuer), user=cast.users[holder], name="連携")
    if expected is None:
        key, plain = apikey_issue(**call)
        assert key.user == cast.users[holder] and plain.startswith("tsg_")
        outcome, reason = "allowed", ""
    else:
        error, reason = expected
        with pytest.raises(error) as raised:
            apikey_issue(**call)
        assert type(raised.value) is error
        assert not ApiKey.objects.filter(user=cast.users[holder]).exists()
        outcome = "denied"
    [event] = AuditEvent.objects.filter(seq__gt=seq)
    assert (event.action, event.outcome, event.reason, event.actor_username) == (
        "apikey.issue",
        outcome,
        reason,
        issuer,
    )


@pytest.mark.parametrize(
    ("holder", "expected"),
    [("ivan", None), ("penny", "privacy_officer"), ("alice", "not_integration"), ("olga", "privacy_officer")],
)
def test_the_operators_command_provisions_integration_users_only(cast, holder, expected):
    if expected is None:
        call_command("issue_api_key", holder, "--name", "連携", stdout=__import__("io").StringIO())
        assert ApiKey.objects.filter(user=cast.users[holder]).count() == 1
        return
    with pytest.raises(CommandError):
        call_command("issue_api_key", holder, "--name", "連携")
    assert not ApiKey.objects.exists()
    event = AuditEvent.objects.get(action="apikey.issue")
    assert (event.outcome, event.reason, event.channel, event.actor_username) == ("denied", expected, "cli", "system")


def test_a_deactivated_user_gets_no_key_and_issues_none(cast):
    ivan = cast.users["ivan"]
    ivan.is_active = False
    ivan.save(update_fields=["is_active"])
    with pytest.raises(Forbidden):
        apikey_issue(actor=Actor.system(channel="cli"), user=ivan, name="連携")
    with pytest.raises(Forbidden):
        apikey_issue(actor=Actor.for_user(ivan, channel="web"), user=ivan, name="連携")
    assert not ApiKey.objects.exists()
    assert list(AuditEvent.objects.filter(action="apikey.issue").order_by("seq").values_list("outcome", "reason")) == [
        ("denied", "inactive_user"),
        ("denied", "no_role"),
    ]


def test_the_browser_form_offers_only_allowed_holders(cast, as_user):
    page = as_user("ada").get(reverse("frontend:apikey_issue")).content.decode()
    offered = {name for name in cast.users if f"（{name}・" in page}
    assert offered == {"ada", "ivan"}
    page = as_user("otis").get(reverse("frontend:apikey_issue")).content.decode()
    assert {name for name in cast.users if f"（{name}・" in page} == {"otis"}


def test_an_officer_issues_her_own_key_in_the_browser(cast, as_user):
    penny = as_user("penny")
    dashboard = penny.get(reverse("frontend:privacy_dashboard")).content.decode()
    assert reverse("frontend:apikey_issue") in dashboard  # where she finds it
    page = penny.get(reverse("frontend:apikey_issue")).content.decode()
    assert {name for name in cast.users if f"（{name}・" in page} == {"penny"}
    response = penny.post(reverse("frontend:apikey_issue"), {"user": cast.users["penny"].pk, "name": "監査連携"})
    assert response.status_code == 200 and "tsg_" in response.content.decode()
    assert ApiKey.objects.get().user == cast.users["penny"]


def test_a_forged_browser_request_is_refused_and_audited(cast, as_user):
    response = as_user("otis").post(reverse("frontend:apikey_issue"), {"user": cast.users["penny"].pk, "name": "x"})
    assert response.status_code == 403
    assert not ApiKey.objects.exists()
    event = AuditEvent.objects.get(action="apikey.issue")
    assert (event.outcome, event.reason, event.channel) == ("denied", "privacy_officer", "web")
