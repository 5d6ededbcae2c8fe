"""The standing cast, built through the real services.

Agencies: ``owner`` (三条市 福祉課, registers and manages the client), ``reader`` (社会福祉協議会, share ``read``),
``appender`` (地域包括支援センター, share ``append``), ``outsider`` (障がい者施設, no share), ``lapsed``
(高齢介護課, a share that has expired — its guardian permissions are still in place, so only the check-time expiry
stands between it and the client), ``revoked`` (相談支援事業所, a revoked share), ``office`` (総務課, home of the
privacy officer, no share).

People: alice (owner caseworker), sam (owner supervisor), ada (owner agency admin), bob (reader caseworker),
carol (appender caseworker), charlie (outsider caseworker), erin (lapsed caseworker), rick (revoked caseworker),
penny (privacy officer at the office who also does casework there, no share), ivan (the owner's integration user:
a partner system's service account, no password), otis (agency admin of the office, not an officer), olga
(privacy officer whose staff role is agency admin of the office: no casework, so no case reads at all).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from agencies.actors import Actor
from agencies.services import agency_create, staff_create
from cases import services
from cases.models import Share

PASSWORD = "correct-horse-battery-staple"

AGENCIES = {
    "owner": ("fukushi", "三条市 福祉課", "city_division"),
    "reader": ("shakyo", "三条市社会福祉協議会", "welfare_council"),
    "appender": ("houkatsu", "地域包括支援センター嵐南", "support_center"),
    "outsider": ("shisetsu", "障がい者支援施設 さくら園", "facility"),
    "lapsed": ("kaigo", "三条市 高齢介護課", "city_division"),
    "revoked": ("soudan", "相談支援事業所 ひまわり", "support_center"),
    "office": ("soumu", "三条市 総務課", "other"),
}

PEOPLE = {
    "alice": ("owner", "caseworker", False),
    "sam": ("owner", "supervisor", False),
    "ada": ("owner", "agency_admin", False),
    "bob": ("reader", "caseworker", False),
    "carol": ("appender", "caseworker", False),
    "charlie": ("outsider", "caseworker", False),
    "erin": ("lapsed", "caseworker", False),
    "rick": ("revoked", "caseworker", False),
    "penny": ("office", "caseworker", True),
    "ivan": ("owner", "integration", False),
    "otis": ("office", "agency_admin", False),
    "olga": ("office", "agency_admin", True),
}
NO_PASSWORD = frozenset({"ivan"})  # integration users use API keys only


@dataclass
class Cast:
    agencies: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    client: object = None  # ClientView of the shared client
    shares: dict = field(default_factory=dict)  # agency role → ShareView
    entry: object = None  # alice's first entry

    def actor(self, name: str, channel: str = "web") -> Actor:
        return Actor.for_user(self.users[name], channel=channel)


def build_cast() -> Cast:
    cast = Cast()
    system = Actor.system(channel="cli")
    for role, (code, name, kind) in AGENCIES.items():
        cast.agencies[role] = agency_create(actor=system, code=code, name=name, kind=kind)
    for username, (agency_role, role, officer) in PEOPLE.items():
        staff = staff_create(
            actor=system,
            username=username,
            agency_code=cast.agencies[agency_role].code,
            role=role,
            display_name=username.capitalize(),
            password=None if username in NO_PASSWORD else PASSWORD,
            is_privacy_officer=officer,
        )
        cast.users[username] = staff.user
    sam = cast.actor("sam")
    cast.client = services.client_create(
        actor=cast.actor("alice"),
        name="山田 太郎",
        name_kana="やまだ たろう",
        birth_date=date(1948, 4, 1),
        address="新潟県三条市旭町2丁目3-1",
        phone="0256-00-0000",
        tags=["高齢", "8050"],
    )
    cid = cast.client.id
    grant = services.share_grant
    cast.shares["reader"] = grant(actor=sam, client_id=cid, agency_code="shakyo", level="read", basis="consent")
    cast.shares["appender"] = grant(
        actor=sam, client_id=cid, agency_code="houkatsu", level="append", basis="support_meeting"
    )
    cast.shares["lapsed"] = grant(
        actor=sam,
        client_id=cid,
        agency_code="kaigo",
        level="append",
        basis="statutory",
        expires_at=timezone.now() + timedelta(days=1),
    )
    # Let the share lapse without the sweep running: only the check-time expiry protects the client now.
    Share.objects.filter(pk=cast.shares["lapsed"].id).update(expires_at=timezone.now() - timedelta(minutes=1))
    cast.shares["revoked"] = grant(actor=sam, client_id=cid, agency_code="soudan", level="append", basis="consent")
    services.share_revoke(actor=sam, client_id=cid, share_id=cast.shares["revoked"].id)
    cast.entry = services.timeline_append(
        actor=cast.actor("alice"), client_id=cid, kind="visit", body="自宅を訪問。体調は安定している。"
    )
    return cast
