"""Reads of support meetings (支援会議) and action items (役割分担). Each checks access and records the audit event
in the same transaction; clients are named only while the reader's agency sees them, and only the clients named
count as exposed (PRODUCT §4.7). Who sees a meeting: ``cases.meeting_views``."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from django.db import transaction
from django.db.models import DateField, Exists, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from agencies.actors import Actor
from audit.refusals import refusals_audited
from audit.services import audit_record
from tsunagu.errors import InvalidInput
from tsunagu.keyset import Page, keyset_page

from .access import actor_visible_clients
from .actions import CaseAction
from .meeting_views import (
    MeetingView,
    TaskView,
    meeting_views,
    meeting_visible_to,
    task_views,
    today_for,
    visible_meetings,
)
from .models import ActionItem, ActionItemStatus, MeetingAttendee

MEETING_ORDER = [("held_on", True), ("created_at", True), ("id", True)]
# Open items: the oldest due first (no due date last); done items: the latest done first.
OPEN_TASK_ORDER = [("due_key", False), ("id", False)]
DONE_TASK_ORDER = [("done_at", True), ("id", True)]
NO_DUE_DATE = date(9999, 12, 31)
MAX_OVERDUE = 100
MAX_PENDING = 50


def _exposed(views: list[MeetingView]) -> list[UUID]:
    return list(dict.fromkeys(cid for v in views for cid in v.exposed_client_ids))


def meeting_list(*, actor: Actor, cursor: str | None = None, limit: int = 50) -> Page:
    """The meetings the actor's agency convened or attends and may see, newest first (by date held). Audited as
    ``meeting.list`` with the clients named on the page."""
    with transaction.atomic():
        page = keyset_page(
            visible_meetings(actor).select_related("convened_by"), order=MEETING_ORDER, limit=limit, cursor=cursor
        )
        views = meeting_views(actor, list(page.items))
        exposed = _exposed(views)
        audit_record(
            actor=actor,
            action=CaseAction.MEETING_LIST,
            client_ids=exposed,
            details={"count": len(views), "meetings": [str(v.id) for v in views]},
        )
    return Page(items=views, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


def meeting_detail(*, actor: Actor, meeting_id: object) -> MeetingView:
    """One meeting, or not found (missing, or not the actor's agency's to see). Audited as ``meeting.view``."""
    with (
        refusals_audited(actor=actor, action=CaseAction.MEETING_VIEW, target_type="meeting", target_id=meeting_id),
        transaction.atomic(),
    ):
        meeting = meeting_visible_to(actor, meeting_id)
        (view,) = meeting_views(actor, [meeting])
        audit_record(
            actor=actor,
            action=CaseAction.MEETING_VIEW,
            client_ids=view.exposed_client_ids,
            target_type="meeting",
            target_id=meeting.pk,
            details={"minutes_version": view.minutes.version if view.minutes else None},
        )
    return view


def _assigned_items(actor: Actor):
    """Current action items assigned to the actor's agency, for clients it sees now."""
    if actor.agency is None or not actor.reads_cases:
        return ActionItem.objects.none()
    seen = actor_visible_clients(actor).values("pk")
    return ActionItem.objects.filter(agency=actor.agency, superseded_at=None, client__in=seen).select_related(
        "meeting", "agency", "client"
    )


def task_list(*, actor: Actor, status: str = "open", cursor: str | None = None, limit: int = 50) -> Page:
    """The action items assigned to the actor's agency (``open``: the oldest due first, those without a due date
    last; ``done``: the latest done first), for clients it can see now. Audited as ``task.list`` with the clients
    named."""
    if status not in ActionItemStatus.values:
        raise InvalidInput({"status": [gettext("状態は open または done で指定してください。")]})
    with transaction.atomic():
        qs = _assigned_items(actor).filter(status=status)
        if status == ActionItemStatus.OPEN:
            qs = qs.annotate(due_key=Coalesce("due_on", Value(NO_DUE_DATE), output_field=DateField()))
            order = OPEN_TASK_ORDER
        else:
            order = DONE_TASK_ORDER
        page = keyset_page(qs, order=order, limit=limit, cursor=cursor)
        items = list(page.items)
        views = task_views(actor, items, visible={i.client_id for i in items})  # the list holds only seen clients
        exposed = list(dict.fromkeys(v.client_id for v in views))
        audit_record(
            actor=actor,
            action=CaseAction.TASK_LIST,
            client_ids=exposed,
            details={"status": status, "count": len(views)},
        )
    return Page(items=views, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor)


def overdue_tasks_for_convener(*, actor: Actor) -> list[TaskView]:
    """Open items past their due date in meetings the actor's agency convened, for clients it sees, the oldest due
    first (at most ``MAX_OVERDUE``). Audited as ``task.list`` with the clients named (nothing when none)."""
    if actor.agency is None or not actor.reads_cases:
        return []
    with transaction.atomic():
        seen = actor_visible_clients(actor).values("pk")
        items = list(
            ActionItem.objects.filter(
                meeting__convened_by=actor.agency,
                status=ActionItemStatus.OPEN,
                superseded_at=None,
                due_on__lt=today_for(actor),
                client__in=seen,
            )
            .select_related("meeting", "agency", "client")
            .order_by("due_on", "id")[:MAX_OVERDUE]
        )
        views = task_views(actor, items, visible={i.client_id for i in items})
        if views:
            audit_record(
                actor=actor,
                action=CaseAction.TASK_LIST,
                client_ids=list(dict.fromkeys(v.client_id for v in views)),
                details={"status": "overdue", "scope": "convened", "count": len(views)},
            )
    return views


def pending_confirmations(*, actor: Actor) -> list[MeetingView]:
    """Meetings awaiting the actor's agency's confirmation of 守秘義務 (for the home page), the soonest held first.
    Audited as ``meeting.list`` with the clients named (nothing when none)."""
    if actor.agency is None or not actor.reads_cases:
        return []
    with transaction.atomic():
        awaiting = MeetingAttendee.objects.filter(meeting=OuterRef("pk"), agency=actor.agency, confirmed_at=None)
        meetings = list(
            visible_meetings(actor)
            .filter(Exists(awaiting), share_expires_at__gt=actor.now())
            .select_related("convened_by")
            .order_by("held_on", "id")[:MAX_PENDING]
        )
        views = meeting_views(actor, meetings)
        if views:
            audit_record(
                actor=actor,
                action=CaseAction.MEETING_LIST,
                client_ids=_exposed(views),
                details={"count": len(views), "scope": "awaiting_confirmation"},
            )
    return views
