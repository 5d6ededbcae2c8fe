"""Support meetings (支援会議) as the privacy officer reviews them: when, convened by which agency, which agencies
attended and when each confirmed 守秘義務, how many clients, and the shares the meeting created (their ids are the
``authorised_by`` of every access made under them: ``share:<id>``). Never the title (free text that may name a
person), the minutes, the action items or the clients' names: the officer reviews access, not the case.

Privacy officers only; each read is audited as ``audit.view`` (``purpose`` ``meeting_register`` / ``meeting``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils.translation import gettext

from audit.actions import AuditAction
from audit.review import require_privacy_officer
from audit.services import audit_record
from tsunagu.errors import NotFound
from tsunagu.ids import parse_uuid
from tsunagu.keyset import Page, keyset_page

from .models import Meeting, MeetingAttendee, MeetingClient, Share

REGISTER_ORDER = [("held_on", True), ("id", True)]


@dataclass(frozen=True)
class AttendeeReview:
    agency_code: str
    agency_name: str
    confirmed_at: datetime | None
    confirmed_by: str  # the user name of who confirmed (empty until then)


@dataclass(frozen=True)
class MeetingShareReview:
    id: uuid.UUID
    agency_code: str
    agency_name: str
    client_id: uuid.UUID
    level: str
    pending: bool
    granted_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def authorised_by(self) -> str:
        """How the audit log names an access this share authorised."""
        return f"share:{self.id}"


@dataclass(frozen=True)
class MeetingReview:
    id: uuid.UUID
    held_on: date
    created_at: datetime
    convened_by_code: str
    convened_by_name: str
    attendees: tuple[AttendeeReview, ...]
    client_count: int
    share_level: str
    share_expires_at: datetime
    shares: tuple[MeetingShareReview, ...]

    @property
    def authorised_by(self) -> list[str]:
        return [s.authorised_by for s in self.shares]


def _reviews(meetings: list[Meeting]) -> list[MeetingReview]:
    """The read models of ``meetings`` in four queries, whatever their number."""
    ids = [m.pk for m in meetings]
    attendees: dict = {}
    for a in MeetingAttendee.objects.filter(meeting_id__in=ids).select_related("agency", "confirmed_by").order_by("id"):
        attendees.setdefault(a.meeting_id, []).append(
            AttendeeReview(
                agency_code=a.agency.code,
                agency_name=a.agency.name,
                confirmed_at=a.confirmed_at,
                confirmed_by=a.confirmed_by.get_username() if a.confirmed_by else "",
            )
        )
    counts: dict = {}
    for meeting_id in MeetingClient.objects.filter(meeting_id__in=ids).values_list("meeting_id", flat=True):
        counts[meeting_id] = counts.get(meeting_id, 0) + 1
    shares: dict = {}
    for s in Share.objects.filter(meeting_id__in=ids).select_related("agency").order_by("granted_at", "id"):
        shares.setdefault(s.meeting_id, []).append(
            MeetingShareReview(
                id=s.pk,
                agency_code=s.agency.code,
                agency_name=s.agency.name,
                client_id=s.client_id,
                level=s.level,
                pending=s.pending,
                granted_at=s.granted_at,
                expires_at=s.expires_at,
                revoked_at=s.revoked_at,
            )
        )
    return [
        MeetingReview(
            id=m.pk,
            held_on=m.held_on,
            created_at=m.created_at,
            convened_by_code=m.convened_by.code,
            convened_by_name=m.convened_by.name,
            attendees=tuple(sorted(attendees.get(m.pk, []), key=lambda a: a.agency_code)),
            client_count=counts.get(m.pk, 0),
            share_level=m.share_level,
            share_expires_at=m.share_expires_at,
            shares=tuple(shares.get(m.pk, [])),
        )
        for m in meetings
    ]


def meeting_register(*, actor, cursor: str | None = None, limit: int = 50) -> Page:
    """Every support meeting, newest first (by the day it was held), one keyset page of ``MeetingReview``."""
    require_privacy_officer(actor=actor, details={"page": "meetings"})
    with transaction.atomic():
        page = keyset_page(
            Meeting.objects.select_related("convened_by"), order=REGISTER_ORDER, limit=limit, cursor=cursor
        )
        items = _reviews(list(page.items))
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            target_type="meeting",
            details={"purpose": "meeting_register", "count": len(items)},
        )
    return Page(items=items, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


def meeting_review_get(*, actor, meeting_id: object) -> MeetingReview:
    """One meeting as the register shows it, with its shares; NotFound for an unknown id."""
    require_privacy_officer(actor=actor, details={"page": "meetings"})
    pk = parse_uuid(meeting_id)
    with transaction.atomic():
        meeting = Meeting.objects.select_related("convened_by").filter(pk=pk).first() if pk else None
        if meeting is None:
            raise NotFound(gettext("支援会議が見つかりません。"))
        review = _reviews([meeting])[0]
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            target_type="meeting",
            target_id=meeting.pk,
            details={"purpose": "meeting", "shares": len(review.shares)},
        )
    return review
