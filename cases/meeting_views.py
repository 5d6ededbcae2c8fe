"""Support meetings (支援会議) as a reader sees them: which meetings an agency may see, and their read models.

Unaudited building blocks shared by ``cases.services.meetings`` and ``cases.meeting_selectors``, which check access
and record the audit event; adapters use those, never this module's queries.

Who sees a meeting: the convening agency and the attendee agencies, while they see at least one of its clients
(an agency whose shares ended loses the meeting with its clients, PRODUCT §6.1); an attendee that has not confirmed
守秘義務 yet also sees it until its meeting shares would end, so that it can confirm. A client the reader's agency
cannot see is given by id only, without name (PRODUCT §4.7); the minutes and action items are shown to the
convener and to attendees that confirmed, and action items only for clients the reader sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.people import person_name
from tsunagu.errors import NotFound
from tsunagu.ids import parse_uuid

from .access import Denied, actor_visible_clients
from .models import ActionItem, ActionItemStatus, Meeting, MeetingAttendee, MeetingClient, MeetingMinutes


@dataclass(frozen=True)
class MeetingClientView:
    """A client discussed at the meeting: named only while the reader's agency sees it."""

    id: UUID
    visible: bool
    name: str | None = None
    name_kana: str | None = None
    case_number: str | None = None


@dataclass(frozen=True)
class AttendeeView:
    agency_code: str
    agency_name: str
    confirmed_at: datetime | None
    confirmed_by: str  # the user name of who confirmed (empty until then)
    confirmed_by_name: str

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


@dataclass(frozen=True)
class MinutesView:
    id: UUID
    version: int
    summary: str
    decisions: str
    recorded_at: datetime
    recorded_by: str  # user name
    recorded_by_name: str


@dataclass(frozen=True)
class TaskView:
    """An action item (役割分担). ``client_name`` / ``client_case_number`` only while the reader sees the client."""

    id: UUID
    meeting_id: UUID
    meeting_title: str
    meeting_held_on: date
    client_id: UUID
    client_visible: bool
    client_name: str | None
    client_case_number: str | None
    agency_code: str
    agency_name: str
    task: str
    due_on: date | None
    status: str
    done_at: datetime | None
    overdue: bool  # open and past its due date (Japan time)
    can_mark_done: bool  # the reader may mark it done (``task_done``)

    @property
    def meeting(self) -> UUID:
        return self.meeting_id

    @property
    def client_label(self) -> str | None:
        """The client's name while the reader's agency sees it; None: "a client no longer shared with your agency"."""
        return self.client_name if self.client_visible else None

    @property
    def client(self) -> UUID:
        return self.client_id


@dataclass(frozen=True)
class MeetingView:
    id: UUID
    title: str
    held_on: date
    convened_by_code: str
    convened_by_name: str
    created_at: datetime
    clients: tuple[MeetingClientView, ...]
    attendees: tuple[AttendeeView, ...]
    share_level: str
    share_days: int
    share_expires_at: datetime
    minutes: MinutesView | None  # the latest version, when the reader may read it
    action_items: tuple[TaskView, ...]  # current items (not superseded), for clients the reader sees
    is_convener: bool  # the reader's agency convened it
    awaiting_my_confirmation: bool  # the reader's agency attends and has not confirmed 守秘義務
    can_confirm: bool  # the reader may confirm for their agency (``meeting_confirm``)
    can_record_minutes: bool  # the reader may record (a new version of) the minutes

    @property
    def convened_by(self) -> str:
        """The convening agency's code (the API's field)."""
        return self.convened_by_code

    @property
    def client_ids(self) -> list[UUID]:
        return [c.id for c in self.clients]

    @property
    def exposed_client_ids(self) -> list[UUID]:
        """The clients this view names (an exposure for the audit)."""
        return [c.id for c in self.clients if c.visible]


# --- rules -------------------------------------------------------------------------------------------------


def may_confirm(actor: Actor, *, awaiting: bool, share_expires_at: datetime) -> bool:
    """What ``meeting_confirm`` checks: a supervisor or agency administrator of an attendee agency that has not
    confirmed, before the meeting's shares would end."""
    return awaiting and actor.can_manage_shares and share_expires_at > actor.now()


def may_record_minutes(actor: Actor, *, is_convener: bool) -> bool:
    """What ``meeting_minutes_record`` checks: staff (any staff role) of the convening agency."""
    return is_convener and actor.has_staff_role


def is_overdue(item: ActionItem, today: date) -> bool:
    return item.status == ActionItemStatus.OPEN and item.due_on is not None and item.due_on < today


def today_for(actor: Actor) -> date:
    return timezone.localdate(actor.now())


# --- which meetings ----------------------------------------------------------------------------------------


def visible_meetings(actor: Actor) -> QuerySet[Meeting]:
    """The meetings the actor's agency may see (module docstring). None without an agency or casework."""
    if actor.agency is None or not actor.reads_cases:
        return Meeting.objects.none()
    agency = actor.agency
    seen = actor_visible_clients(actor).values("pk")
    sees_a_client = Exists(MeetingClient.objects.filter(meeting=OuterRef("pk"), client__in=seen))
    attends = Exists(MeetingAttendee.objects.filter(meeting=OuterRef("pk"), agency=agency))
    awaiting = Exists(MeetingAttendee.objects.filter(meeting=OuterRef("pk"), agency=agency, confirmed_at=None)) & Q(
        share_expires_at__gt=actor.now()
    )
    return Meeting.objects.filter(Q(convened_by=agency) | attends).filter(sees_a_client | awaiting)


def meeting_visible_to(actor: Actor, meeting_id: object, *, lock: bool = False) -> Meeting:
    """The meeting (row-locked with ``lock``) if the actor's agency may see it, else ``Denied`` (not found, like
    a missing one)."""
    if actor.agency is None:
        raise Denied("no_agency", NotFound())
    if not actor.reads_cases:
        raise Denied("privacy_officer", NotFound())
    pk = parse_uuid(meeting_id)
    meeting = visible_meetings(actor).filter(pk=pk).select_related("convened_by").first() if pk else None
    if meeting is None:
        raise Denied("not_found", NotFound(gettext("支援会議が見つかりません。")))
    if lock:
        meeting = Meeting.objects.select_for_update(of=("self",)).select_related("convened_by").get(pk=meeting.pk)
    return meeting


# --- read models -------------------------------------------------------------------------------------------


def task_views(actor: Actor, items: Iterable[ActionItem], *, visible: set[UUID]) -> list[TaskView]:
    """Items with ``meeting``, ``agency`` and ``client`` loaded; ``visible``: the client ids the reader sees."""
    today = today_for(actor)
    agency_id = actor.agency.pk if actor.agency is not None else None
    views = []
    for item in items:
        seen = item.client_id in visible
        views.append(
            TaskView(
                id=item.pk,
                meeting_id=item.meeting_id,
                meeting_title=item.meeting.title,
                meeting_held_on=item.meeting.held_on,
                client_id=item.client_id,
                client_visible=seen,
                client_name=item.client.name if seen else None,
                client_case_number=item.client.case_number if seen else None,
                agency_code=item.agency.code,
                agency_name=item.agency.name,
                task=item.task,
                due_on=item.due_on,
                status=item.status,
                done_at=item.done_at,
                overdue=is_overdue(item, today),
                can_mark_done=(
                    seen
                    and item.status == ActionItemStatus.OPEN
                    and item.superseded_at is None
                    and item.agency_id == agency_id
                    and actor.has_staff_role
                ),
            )
        )
    return views


def visible_client_ids(actor: Actor, client_ids: Iterable[UUID]) -> set[UUID]:
    ids = list(set(client_ids))
    if not ids:
        return set()
    return set(actor_visible_clients(actor).filter(pk__in=ids).values_list("pk", flat=True))


def meeting_views(actor: Actor, meetings: list[Meeting]) -> list[MeetingView]:
    """The read models of ``meetings`` (already known visible to the actor), in a bounded number of queries."""
    if not meetings:
        return []
    ids = [m.pk for m in meetings]
    agency_id = actor.agency.pk if actor.agency is not None else None
    links = list(MeetingClient.objects.filter(meeting_id__in=ids).select_related("client").order_by("id"))
    visible = visible_client_ids(actor, (link.client_id for link in links))
    attendees: dict[UUID, list[MeetingAttendee]] = {}
    for a in MeetingAttendee.objects.filter(meeting_id__in=ids).select_related("agency", "confirmed_by__staff"):
        attendees.setdefault(a.meeting_id, []).append(a)
    latest: dict[UUID, MeetingMinutes] = {}
    for m in (
        MeetingMinutes.objects.filter(meeting_id__in=ids)
        .select_related("recorded_by__staff")
        .order_by("meeting_id", "-version")
    ):
        latest.setdefault(m.meeting_id, m)
    items: dict[UUID, list[ActionItem]] = {}
    current = (
        ActionItem.objects.filter(meeting_id__in=ids, superseded_at=None, client_id__in=visible)
        .select_related("meeting", "agency", "client")
        .order_by("due_on", "id")
    )
    for item in current:
        items.setdefault(item.meeting_id, []).append(item)
    clients: dict[UUID, list[MeetingClientView]] = {}
    for link in links:
        c, seen = link.client, link.client_id in visible
        clients.setdefault(link.meeting_id, []).append(
            MeetingClientView(
                id=c.pk,
                visible=seen,
                name=c.name if seen else None,
                name_kana=c.name_kana if seen else None,
                case_number=c.case_number if seen else None,
            )
        )
    views = []
    for meeting in meetings:
        mine = next((a for a in attendees.get(meeting.pk, []) if a.agency_id == agency_id), None)
        is_convener = meeting.convened_by_id == agency_id
        reads_minutes = is_convener or (mine is not None and mine.confirmed_at is not None)
        awaiting = mine is not None and mine.confirmed_at is None
        minutes = latest.get(meeting.pk) if reads_minutes else None
        views.append(
            MeetingView(
                id=meeting.pk,
                title=meeting.title,
                held_on=meeting.held_on,
                convened_by_code=meeting.convened_by.code,
                convened_by_name=meeting.convened_by.name,
                created_at=meeting.created_at,
                clients=tuple(clients.get(meeting.pk, [])),
                attendees=tuple(
                    AttendeeView(
                        agency_code=a.agency.code,
                        agency_name=a.agency.name,
                        confirmed_at=a.confirmed_at,
                        confirmed_by=a.confirmed_by.get_username() if a.confirmed_by else "",
                        confirmed_by_name=person_name(a.confirmed_by) if a.confirmed_by else "",
                    )
                    for a in sorted(attendees.get(meeting.pk, []), key=lambda a: a.agency.code)
                ),
                share_level=meeting.share_level,
                share_days=meeting.share_days,
                share_expires_at=meeting.share_expires_at,
                minutes=(
                    MinutesView(
                        id=minutes.pk,
                        version=minutes.version,
                        summary=minutes.summary,
                        decisions=minutes.decisions,
                        recorded_at=minutes.recorded_at,
                        recorded_by=minutes.recorded_by.get_username() if minutes.recorded_by else "system",
                        recorded_by_name=person_name(minutes.recorded_by),
                    )
                    if minutes is not None
                    else None
                ),
                action_items=tuple(task_views(actor, items.get(meeting.pk, []), visible=visible))
                if reads_minutes
                else (),
                is_convener=is_convener,
                awaiting_my_confirmation=awaiting,
                can_confirm=may_confirm(actor, awaiting=awaiting, share_expires_at=meeting.share_expires_at),
                can_record_minutes=may_record_minutes(actor, is_convener=is_convener),
            )
        )
    return views
