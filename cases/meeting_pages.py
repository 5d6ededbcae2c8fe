"""The meeting page of the browser in one audited read: the meeting (``cases.meeting_views.MeetingView``) and every
version of its minutes, the latest first (a correction is a new version; the earlier ones stay readable). Versions
are shown to whoever may read the minutes (the convener, an attendee that confirmed 守秘義務)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from agencies.actors import Actor
from agencies.people import person_name
from audit.refusals import refusals_audited
from audit.services import audit_record

from .actions import CaseAction
from .meeting_views import MeetingView, MinutesView, meeting_views, meeting_visible_to
from .models import MeetingMinutes

MAX_VERSIONS = 100


@dataclass(frozen=True)
class MeetingPage:
    meeting: MeetingView
    minutes_versions: tuple[MinutesView, ...]  # newest first; empty when the reader may not read the minutes


def meeting_page(*, actor: Actor, meeting_id: object) -> MeetingPage:
    """One meeting with its minutes' versions, or not found (missing, or not the actor's agency's to see). Audited
    once as ``meeting.view`` naming the clients shown and the versions read."""
    with (
        refusals_audited(actor=actor, action=CaseAction.MEETING_VIEW, target_type="meeting", target_id=meeting_id),
        transaction.atomic(),
    ):
        meeting = meeting_visible_to(actor, meeting_id)
        (view,) = meeting_views(actor, [meeting])
        versions: list[MinutesView] = []
        if view.minutes is not None:
            rows = MeetingMinutes.objects.filter(meeting=meeting).select_related("recorded_by__staff")
            versions = [
                MinutesView(
                    id=m.pk,
                    version=m.version,
                    summary=m.summary,
                    decisions=m.decisions,
                    recorded_at=m.recorded_at,
                    recorded_by=m.recorded_by.get_username() if m.recorded_by else "system",
                    recorded_by_name=person_name(m.recorded_by),
                )
                for m in rows.order_by("-version")[:MAX_VERSIONS]
            ]
        audit_record(
            actor=actor,
            action=CaseAction.MEETING_VIEW,
            client_ids=view.exposed_client_ids,
            target_type="meeting",
            target_id=meeting.pk,
            details={
                "minutes_version": view.minutes.version if view.minutes else None,
                "minutes_versions": [v.version for v in versions],
            },
        )
    return MeetingPage(meeting=view, minutes_versions=tuple(versions))
