"""The permission matrix over the principals of the security review (issue 10), on three surfaces.

Principals: the standing cast's caseworkers and supervisor, the agency administrator of every agency, the privacy
officer who also does casework (penny, with and without a break-glass grant in her name), the officer who does no
casework (olga), an integration user (ivan), a deactivated user (dora), and for the API a revoked and an expired
key. Surfaces: the services (with their role checks), the REST API and the browser pages, including the key,
webhook and flag endpoints.

Every expectation is derived from the principal's facts (agency share level, role, officer, active) by the rules
of PRODUCT §4 and issue 10, so a new principal is one line. Each case runs in a savepoint that is rolled back, so
one cast per principal and surface serves every operation. A refused case leaves exactly one ``denied`` event;
an allowed one exactly one event of its action. The number of cases is printed at the end of the run
(``pytest_terminal_summary`` in ``tests/conftest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.test import Client as BrowserClient
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agencies import selectors as agency_selectors
from agencies.actors import Actor
from agencies.models import ApiKey, Role
from agencies.services import apikey_issue, apikey_revoke, staff_create
from audit import anomalies, review
from audit.flag_summaries import SummaryCode
from audit.models import AnomalyFlag, AnomalyRule
from cases import review as client_review
from cases import selectors, services
from cases.models import BreakGlassGrant
from cases.webhooks import webhook_register
from tests.cast import AGENCIES, PASSWORD
from tests.matrix import events as _events
from tests.matrix import rolled_back as _rolled_back
from tests.matrix import seq as _seq
from tests.mfa import sign_in
from tsunagu.errors import Forbidden, NotFound

SHARES = {"owner": "manage", "reader": "read", "appender": "append"}  # the cast's active shares
CASEWORK = {Role.CASEWORKER, Role.SUPERVISOR}
A, NF, F = "allowed", NotFound, Forbidden


@dataclass(frozen=True)
class Who:
    name: str  # the case id
    username: str
    agency: str  # the cast's agency role
    role: str
    officer: bool = False
    active: bool = True
    key: str = "valid"  # the API key presented: valid, revoked, expired
    break_glass: bool = False  # an (old) break-glass grant in their name

    @property
    def level(self) -> str | None:
        if not self.active or (self.officer and self.role not in CASEWORK):
            return None
        return SHARES.get(self.agency)

    @property
    def admin(self) -> bool:
        return self.active and self.role == Role.AGENCY_ADMIN

    @property
    def reviewer(self) -> bool:
        return self.active and self.officer

    @property
    def may_break_glass(self) -> bool:
        return self.active and not self.officer and self.role != Role.INTEGRATION

    def issues_for(self, holder: str, holder_agency: str) -> object:
        """apikey.issue for ``holder``, an integration user (ivan) or a person (sam, penny)."""
        if self.username == holder and self.active:
            return A
        if not self.admin:
            return F
        if self.agency != holder_agency:
            return NF  # another agency's staff: not found, like a missing user
        return A if holder == "ivan" else F


EXTRA_ADMINS = {role: f"admin-{code}" for role, (code, _, _) in AGENCIES.items() if role not in ("owner", "office")}

PEOPLE = [
    Who("alice", "alice", "owner", Role.CASEWORKER),
    Who("sam", "sam", "owner", Role.SUPERVISOR),
    Who("bob", "bob", "reader", Role.CASEWORKER),
    Who("carol", "carol", "appender", Role.CASEWORKER),
    Who("charlie", "charlie", "outsider", Role.CASEWORKER),
    Who("ada", "ada", "owner", Role.AGENCY_ADMIN),
    *[Who(username, username, role, Role.AGENCY_ADMIN) for role, username in EXTRA_ADMINS.items()],
    Who("otis", "otis", "office", Role.AGENCY_ADMIN),
    Who("penny", "penny", "office", Role.CASEWORKER, officer=True),
    Who("penny+break-glass", "penny", "office", Role.CASEWORKER, officer=True, break_glass=True),
    Who("olga", "olga", "office", Role.AGENCY_ADMIN, officer=True),
    Who("ivan", "ivan", "owner", Role.INTEGRATION),
    Who("dora-deactivated", "dora", "owner", Role.CASEWORKER, active=False),
]
BAD_KEYS = [
    Who("alice-revoked-key", "alice", "owner", Role.CASEWORKER, key="revoked"),
    Who("alice-expired-key", "alice", "owner", Role.CASEWORKER, key="expired"),
]
SIGNS_IN = [w for w in PEOPLE if w.role != Role.INTEGRATION]  # integration users have no password


@dataclass
class World:
    cast: object
    users: dict
    keys: dict
    flag: AnomalyFlag  # a flag about penny
    ivan_key: ApiKey


@pytest.fixture
def world(cast) -> World:
    system = Actor.system(channel="cli")
    users = dict(cast.users)
    for role, username in EXTRA_ADMINS.items():
        users[username] = staff_create(
            actor=system, username=username, agency_code=AGENCIES[role][0], role="agency_admin", password=PASSWORD
        ).user
    users["dora"] = staff_create(
        actor=system, username="dora", agency_code="fukushi", role="caseworker", password=PASSWORD
    ).user
    keys = {
        name: apikey_issue(actor=Actor.for_user(u, channel="web"), user=u, name="matrix")[1]
        for name, u in users.items()
    }
    alice = Actor.for_user(users["alice"], channel="web")
    revoked, keys["alice:revoked"] = apikey_issue(actor=alice, user=users["alice"], name="revoked")
    apikey_revoke(actor=alice, key_id=revoked.pk)
    expired, keys["alice:expired"] = apikey_issue(actor=alice, user=users["alice"], name="expired", expires_in_days=1)
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    users["dora"].is_active = False
    users["dora"].save(update_fields=["is_active"])
    now = timezone.now()
    anomalies.raise_flag(
        rule=AnomalyRule.AFTER_HOURS,
        subject_key="user:penny",
        username="penny",
        agency="soumu",
        window_start=now - timedelta(hours=1),
        window_end=now,
        seqs=[],
        summary=SummaryCode.AFTER_HOURS,
        params={"user": "penny", "agency": "soumu", "day": "2026-11-24", "start": 8, "end": 19},
    )
    ivan_key = ApiKey.objects.filter(user=users["ivan"]).get()
    return World(cast, users, keys, AnomalyFlag.objects.get(subject_key="user:penny"), ivan_key)


def _prepare(world: World, who: Who) -> None:
    if who.break_glass:
        BreakGlassGrant.objects.create(
            client_id=world.cast.client.id,
            user=world.users[who.username],
            agency=world.cast.agencies[who.agency],
            reason="規則の導入前に開かれた緊急アクセス",
            expires_at=timezone.now() + timedelta(hours=4),
        )


# --- the services ---------------------------------------------------------------------------------------------

BG = {"name_kana": "ヤマダ タロウ", "birth_date": date(1948, 4, 1), "reason": "救急搬送先から服薬の照会があったため"}

SERVICE_OPS = [
    # (action, call, expected outcome for a principal)
    (
        "client.create",
        lambda w, a: services.client_create(
            actor=a, name="新規 花子", name_kana="しんき はなこ", birth_date="1990-01-01"
        ),
        lambda p: A if p.active and (not p.officer or p.role in CASEWORK) else F,
    ),
    (
        "client.view",
        lambda w, a: selectors.client_get(actor=a, client_id=w.cast.client.id),
        lambda p: A if p.level else NF,
    ),
    (
        "timeline.view",
        lambda w, a: selectors.timeline_list(actor=a, client_id=w.cast.client.id),
        lambda p: A if p.level else NF,
    ),
    (
        "timeline.append",
        lambda w, a: services.timeline_append(actor=a, client_id=w.cast.client.id, kind="call", body="電話で確認。"),
        lambda p: A if p.level in ("append", "manage") else F if p.level else NF,
    ),
    (
        "share.grant",
        lambda w, a: services.share_grant(
            actor=a, client_id=w.cast.client.id, agency_code="shisetsu", level="read", basis="consent"
        ),
        lambda p: A if p.level == "manage" and p.role in (Role.SUPERVISOR, Role.AGENCY_ADMIN) else F if p.level else NF,
    ),
    (
        "assignment.add",  # the principal assigns themselves (any level; not an integration; not by break-glass)
        lambda w, a: services.assignment_add(actor=a, client_id=w.cast.client.id, user_id=w.users[a.username].pk),
        lambda p: A if p.level and p.role != Role.INTEGRATION else F if p.level else NF,
    ),
    ("break_glass", lambda w, a: services.break_glass_open(actor=a, **BG), lambda p: A if p.may_break_glass else F),
    (
        "apikey.issue",  # for the owner's integration user
        lambda w, a: apikey_issue(actor=a, user=w.users["ivan"], name="連携"),
        lambda p: p.issues_for("ivan", "owner"),
    ),
    (
        "apikey.issue",  # for a supervisor: acting as another person
        lambda w, a: apikey_issue(actor=a, user=w.users["sam"], name="連携"),
        lambda p: p.issues_for("sam", "owner"),
    ),
    (
        "apikey.issue",  # for the privacy officer
        lambda w, a: apikey_issue(actor=a, user=w.users["penny"], name="監査"),
        lambda p: p.issues_for("penny", "office"),
    ),
    (
        "apikey.revoke",
        lambda w, a: apikey_revoke(actor=a, key_id=w.ivan_key.pk),
        lambda p: A if p.username in ("ada", "ivan") else NF,
    ),
    (
        "webhook.register",
        lambda w, a: webhook_register(actor=a, url="https://partner.example/other"),
        lambda p: A if p.admin else F,
    ),
    ("staff.list", lambda w, a: agency_selectors.staff_of_agency(actor=a), lambda p: A if p.admin else F),
    ("audit.view", lambda w, a: review.review_events(actor=a), lambda p: A if p.reviewer else F),
    (
        "audit.flag_review",  # a flag about penny: another officer reviews it
        lambda w, a: review.flag_add_note(actor=a, flag_id=w.flag.pk, note="確認しました"),
        lambda p: A if p.reviewer and p.username != "penny" else F,
    ),
    (
        "audit.client_lookup",
        lambda w, a: client_review.client_lookup(actor=a, q="山田"),
        lambda p: A if p.reviewer else F,
    ),
]


@pytest.mark.permission_matrix(cases=len(SERVICE_OPS))
@pytest.mark.parametrize("who", PEOPLE, ids=lambda w: w.name)
def test_services(world, who):
    _prepare(world, who)
    wrong = []
    for action, call, expect in SERVICE_OPS:
        expected = expect(who)

        def check(action=action, call=call, expected=expected):
            actor = Actor.for_user(world.users[who.username], channel="web")
            seq = _seq()
            try:
                call(world, actor)
                got = A
            except (NotFound, Forbidden) as exc:
                got = type(exc)
            outcome = "allowed" if expected == A else "denied"
            events = _events(seq)
            if got != expected or events != [(action, outcome)]:
                return f"{action}: expected {_name(expected)} with one {outcome} event, got {_name(got)} {events}"
            return None

        if problem := _rolled_back(check):
            wrong.append(problem)
    assert not wrong, "\n".join(wrong)


# --- the REST API ---------------------------------------------------------------------------------------------


API_OPS = [
    # (action, request, expected status)
    (
        "client.view",
        lambda c, w: c.get(f"/api/v1/clients/{w.cast.client.id}/"),
        lambda p: 200 if p.level else 404,
    ),
    (
        "timeline.append",
        lambda c, w: c.post(f"/api/v1/clients/{w.cast.client.id}/timeline/", {"kind": "call", "body": "電話。"}),
        lambda p: 201 if p.level in ("append", "manage") else 403 if p.level else 404,
    ),
    (
        "share.grant",
        lambda c, w: c.post(
            f"/api/v1/clients/{w.cast.client.id}/shares/", {"agency": "shisetsu", "level": "read", "basis": "consent"}
        ),
        lambda p: (
            201 if p.level == "manage" and p.role in (Role.SUPERVISOR, Role.AGENCY_ADMIN) else 403 if p.level else 404
        ),
    ),
    ("audit.view", lambda c, w: c.get("/api/v1/audit/events/"), lambda p: 200 if p.reviewer else 403),
]


@pytest.mark.permission_matrix(cases=len(API_OPS))
@pytest.mark.parametrize("who", [*PEOPLE, *BAD_KEYS], ids=lambda w: w.name)
def test_api(world, who):
    from django.core.cache import cache

    cache.clear()  # throttling counts
    _prepare(world, who)
    client = APIClient()
    key = world.keys[who.username if who.key == "valid" else f"{who.username}:{who.key}"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    rejected = who.key != "valid" or not who.active  # a revoked or expired key, or a deactivated user's key
    wrong = []
    for action, call, expect in API_OPS:
        expected = 401 if rejected else expect(who)

        def check(action=action, call=call, expected=expected):
            seq = _seq()
            response = call(client, world)
            outcome = "allowed" if expected < 400 else "denied"
            want = [("auth.api_key", "denied")] if rejected else [(action, outcome)]
            events = _events(seq)
            if response.status_code != expected or events != want:
                return f"{action}: expected {expected} with {want}, got {response.status_code} {events}"
            return None

        if problem := _rolled_back(check):
            wrong.append(problem)
    assert not wrong, "\n".join(wrong)


# --- the browser ----------------------------------------------------------------------------------------------


def _key_form(holder: str, holder_agency: str):
    def expect(p: Who) -> int:
        result = p.issues_for(holder, holder_agency)
        return 200 if result == A else 400 if result == NF else 403  # another agency's staff: "not found" on the form

    return expect


BROWSER_OPS = [
    # (request, expected status, audited action)
    (
        lambda c, w: c.get(reverse("frontend:client_detail", args=[w.cast.client.id])),
        lambda p: 200 if p.level else 404,
    ),
    (lambda c, w: c.get(reverse("frontend:agency_admin")), lambda p: 200 if p.admin else 403),
    (
        lambda c, w: c.post(reverse("frontend:apikey_issue"), {"user": w.users["ivan"].pk, "name": "連携"}),
        _key_form("ivan", "owner"),
    ),
    (
        lambda c, w: c.post(reverse("frontend:apikey_issue"), {"user": w.users["penny"].pk, "name": "監査"}),
        _key_form("penny", "office"),
    ),
    (lambda c, w: c.get(reverse("frontend:privacy_dashboard")), lambda p: 200 if p.reviewer else 403),
    (
        lambda c, w: c.post(reverse("frontend:privacy_flag_note", args=[w.flag.pk]), {"note": "確認しました"}),
        lambda p: 302 if p.reviewer and p.username != "penny" else 403,
    ),
    (
        lambda c, w: c.post(reverse("frontend:break_glass"), {**BG, "birth_date": "1948-04-01"}),
        lambda p: 302 if p.may_break_glass else 403,
    ),
]


@pytest.mark.permission_matrix(cases=len(BROWSER_OPS))
@pytest.mark.parametrize("who", SIGNS_IN, ids=lambda w: w.name)
def test_browser(world, who):
    _prepare(world, who)
    client = sign_in(BrowserClient(), world.users[who.username])
    wrong = []
    for number, (call, expect) in enumerate(BROWSER_OPS):
        # A deactivated user's session is worth nothing: every page sends them to the login page.
        expected = expect(who) if who.active else 302

        def check(call=call, expected=expected, number=number):
            seq = _seq()
            response = call(client, world)
            denied = [e for e in _events(seq) if e[1] == "denied"]
            refused = expected in (400, 403, 404)
            status_ok = response.status_code == expected
            if expected == 302 and not who.active:
                status_ok = status_ok and response["Location"].startswith(reverse("frontend:login"))
            if not status_ok or len(denied) != (1 if refused else 0):
                return (
                    f"page {number}: expected {expected} ({int(refused)} denied), got {response.status_code} {denied}"
                )
            return None

        if problem := _rolled_back(check):
            wrong.append(problem)
    assert not wrong, "\n".join(wrong)


def _name(value) -> str:
    return value if isinstance(value, str) else value.__name__
