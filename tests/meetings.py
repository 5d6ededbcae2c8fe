"""A 支援会議 on the standing cast, for the meeting tests (services, API, permission matrix).

福祉課 (owner) convenes it about the cast's client and a second client of its own (佐藤 花子), with two attendees:
さくら園 (``outsider``: no share yet, so a pending meeting share of each client) and 社協 (``reader``: it already
reads the cast's client, so a pending share of the second client only). さくら園 gets a supervisor, sue, who may
confirm 守秘義務; charlie is its caseworker. bea is 社協's supervisor.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from agencies.actors import Actor
from agencies.services import staff_create
from cases import services
from cases.models import Meeting, Share

from .cast import PASSWORD, Cast


@dataclass
class Convened:
    meeting: object  # MeetingView as the convener saw it
    client2: object  # ClientView of the second client
    cast: Cast

    @property
    def id(self):
        return self.meeting.id

    def actor(self, name: str, channel: str = "web") -> Actor:
        return self.cast.actor(name, channel)


def add_staff(cast: Cast, username: str, agency_role: str, role: str) -> None:
    staff = staff_create(
        actor=Actor.system(channel="cli"),
        username=username,
        agency_code=cast.agencies[agency_role].code,
        role=role,
        display_name=username.capitalize(),
        password=PASSWORD,
    )
    cast.users[username] = staff.user


def convene(cast: Cast, *, share_days: int = 30, held_on: date | None = None) -> Convened:
    add_staff(cast, "sue", "outsider", "supervisor")
    add_staff(cast, "bea", "reader", "supervisor")
    client2 = services.client_create(
        actor=cast.actor("alice"), name="佐藤 花子", name_kana="さとう はなこ", birth_date=date(1975, 6, 2)
    )
    meeting = services.meeting_create(
        actor=cast.actor("sam"),
        title="山田さん世帯の支援会議",
        held_on=held_on or timezone.localdate(),
        clients=[cast.client.id, client2.id],
        attendees=["shisetsu", "shakyo"],
        share_level="append",
        share_days=share_days,
    )
    return Convened(meeting=meeting, client2=client2, cast=cast)


def expire_meeting_shares(convened: Convened) -> None:
    """The meeting's shares ended (as if its days had passed), without the sweep."""
    past = timezone.now() - timedelta(minutes=1)
    Share.objects.filter(meeting_id=convened.id).update(expires_at=past)
    Meeting.objects.filter(pk=convened.id).update(share_expires_at=past)
