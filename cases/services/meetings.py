"""Support meetings (支援会議, 社会福祉法第106条の6) and their action items (役割分担).

- ``meeting_create``: a supervisor or agency administrator of an agency with ``manage`` on every client convenes
  it; each attendee agency without an active share on a client gets a share with basis ``support_meeting``,
  *pending* (granting nothing, no object permissions) until the agency confirms 守秘義務.
- ``meeting_confirm``: a supervisor or agency administrator of an attendee agency confirms, once; the agency's
  pending shares of the meeting start (object permissions granted, a system entry on each client's timeline).
- ``meeting_minutes_record``: the convening agency records minutes, each call a new version (never an overwrite);
  the open action items of earlier versions are superseded; each client's timeline gets an entry of kind
  ``meeting`` with the summary, the decisions and that client's action items only.
- ``task_done``: staff of the assigned agency marks an action item done (a system entry on the timeline).

Each checks access, writes and records its audit event in one transaction; a refusal is audited as denied. The
audit holds ids and codes only, never the title (free text that may name a person) nor the minutes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from agencies.actors import Actor
from agencies.models import Agency
from audit.refusals import refusals_audited
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from ..access import Denied, check_access, may_manage_shares
from ..actions import CaseAction, Topic
from ..meeting_views import (
    MeetingView,
    TaskView,
    meeting_views,
    meeting_visible_to,
    task_views,
    visible_client_ids,
)
from ..models import (
    ActionItem,
    ActionItemStatus,
    Client,
    Meeting,
    MeetingAttendee,
    MeetingClient,
    MeetingMinutes,
    Share,
    ShareBasis,
    ShareLevel,
    TimelineEntry,
)
from ..outbox import outbox_enqueue
from ..timeline_events import (
    action_item_done_event,
    meeting_minutes_event,
    meeting_share_confirmed_event,
    share_expired_event,
)
from .permissions import grant_perms, revoke_perms
from .side_effects import announce, system_entry
from .validation import MAX_BODY, clean_text, parse_date

MAX_TITLE = 200
MAX_MEETING_CLIENTS = 20
MAX_ATTENDEES = 20
MAX_ACTION_ITEMS = 50
MAX_TASK = 1000
MAX_SHARE_DAYS = 365
MEETING_SHARE_LEVELS = (ShareLevel.READ, ShareLevel.APPEND)
HELD_ON_RANGE = timedelta(days=366)  # how far from today a meeting's date may be


def _meeting_expiry(held_on: date, share_days: int) -> datetime:
    """``share_days`` days after the start of ``held_on`` in Japan time (the server's time zone)."""
    start = timezone.make_aware(datetime.combine(held_on, time.min), timezone.get_default_timezone())
    return start + timedelta(days=share_days)


# --- create ------------------------------------------------------------------------------------------------


def meeting_create(
    *,
    actor: Actor,
    title: str,
    held_on: date | str,
    clients: list[object],
    attendees: list[object],
    share_level: str,
    share_days: int,
) -> MeetingView:
    """Convene a 支援会議 (see the module docstring). Returns the meeting as the convener sees it."""
    errors: dict[str, list[str]] = {}
    title = clean_text(title, "title", limit=MAX_TITLE, errors=errors, required=True)
    day = parse_date(held_on)
    now = actor.now()
    today = timezone.localdate(now)
    if day is None:
        errors["held_on"] = [gettext("開催日を日付（YYYY-MM-DD）で指定してください。")]
    elif abs(day - today) > HELD_ON_RANGE:
        errors["held_on"] = [gettext("開催日は前後1年以内の日付で指定してください。")]
    if share_level not in MEETING_SHARE_LEVELS:
        errors["share_level"] = [gettext("共有レベルは read（閲覧）または append（閲覧・追記）で指定してください。")]
    if isinstance(share_days, bool) or not isinstance(share_days, int) or not 1 <= share_days <= MAX_SHARE_DAYS:
        errors["share_days"] = [gettext("共有期間は1〜%(max)s日で指定してください。") % {"max": MAX_SHARE_DAYS}]
    client_ids: list[UUID] = []
    if not isinstance(clients, list | tuple) or not clients:
        errors["clients"] = [gettext("支援対象者を1人以上指定してください。")]
    elif len(clients) > MAX_MEETING_CLIENTS:
        errors["clients"] = [gettext("支援対象者は%(max)s人以内で指定してください。") % {"max": MAX_MEETING_CLIENTS}]
    else:
        parsed = [parse_uuid(c) for c in clients]
        if any(p is None for p in parsed):
            # Not an id at all: no client can be named so; the same answer as a client that is not found.
            errors["clients"] = [gettext("支援対象者が見つかりません。")]
        client_ids = list(dict.fromkeys(p for p in parsed if p is not None))
    attendee_agencies: list[Agency] = []
    if not isinstance(attendees, list | tuple) or not attendees:
        errors["attendees"] = [gettext("参加機関を1つ以上指定してください。")]
    elif len(attendees) > MAX_ATTENDEES or not all(isinstance(a, str) for a in attendees):
        message = gettext("参加機関は%(max)s機関以内の機関コードで指定してください。")
        errors["attendees"] = [message % {"max": MAX_ATTENDEES}]
    else:
        codes = [str(a) for a in dict.fromkeys(attendees)]
        found = {a.code: a for a in Agency.objects.filter(code__in=codes).select_related("group")}
        missing = [c for c in codes if c not in found]
        if missing:
            errors["attendees"] = [gettext("機関 %(code)s は存在しません。") % {"code": ", ".join(missing)}]
        elif actor.agency is not None and actor.agency.code in found:
            errors["attendees"] = [gettext("開催機関自身は参加機関に指定できません。")]
        attendee_agencies = [found[c] for c in codes if c in found]
    if not errors and day is not None and _meeting_expiry(day, share_days) <= now:
        errors["held_on"] = [gettext("この開催日と共有期間では、共有が既に終了しています。")]
    if errors:
        raise InvalidInput(errors)
    assert day is not None
    expires_at = _meeting_expiry(day, share_days)
    with (
        refusals_audited(actor=actor, action=CaseAction.MEETING_CREATE, target_type="client", target_id="") as target,
        transaction.atomic(),
    ):
        accesses = []
        for cid in client_ids:
            target["target_id"] = str(cid)
            accesses.append(check_access(actor, cid, ShareLevel.READ, lock=True))  # hidden or missing: not found
        for access in accesses:
            target["target_id"] = str(access.client.pk)
            if not may_manage_shares(actor, access.level):
                reason = "role" if access.at_least(ShareLevel.MANAGE) else "insufficient_level"
                if access.break_glass is not None:
                    reason = "break_glass_read_only"
                message = gettext(
                    "支援会議は、すべての支援対象者を管理する機関の管理職・主任または機関管理者のみが開催できます。"
                )
                raise Denied(reason, Forbidden(message))
        target["target_type"], target["target_id"] = "meeting", ""
        convener = accesses[0].agency
        meeting = Meeting.objects.create(
            title=title,
            held_on=day,
            convened_by=convener,
            created_by=actor.account,
            created_at=now,
            share_level=share_level,
            share_days=share_days,
            share_expires_at=expires_at,
        )
        MeetingClient.objects.bulk_create([MeetingClient(meeting=meeting, client=a.client) for a in accesses])
        MeetingAttendee.objects.bulk_create([MeetingAttendee(meeting=meeting, agency=a) for a in attendee_agencies])
        note = gettext("支援会議「%(title)s」（%(date)s開催）") % {
            "title": title,
            "date": date_format(day, "DATE_FORMAT"),
        }
        pending: list[Share] = []
        for access in accesses:
            client = access.client
            for agency in attendee_agencies:
                if Share.objects.filter(client=client, agency=agency).active(now).exists():
                    continue  # its share continues as it is
                for old in (
                    Share.objects.select_for_update()
                    .select_related("agency")
                    .filter(client=client, agency=agency, revoked_at=None)
                ):
                    _close_open_share(actor, old, client=client, now=now)
                pending.append(
                    Share.objects.create(
                        client=client,
                        agency=agency,
                        level=share_level,
                        basis=ShareBasis.SUPPORT_MEETING,
                        basis_note=note,
                        granted_by=actor.account,
                        granted_at=now,
                        expires_at=expires_at,
                        meeting=meeting,
                        pending=True,
                    )
                )
        audit_record(
            actor=actor,
            action=CaseAction.MEETING_CREATE,
            client_ids=[a.client.pk for a in accesses],
            target_type="meeting",
            target_id=meeting.pk,
            authorised_by=accesses[0].authorised_by,
            details={
                "attendees": [a.code for a in attendee_agencies],
                "share_level": share_level,
                "share_days": share_days,
                "held_on": day.isoformat(),
                "pending_shares": [str(s.pk) for s in pending],
                "authorised_by": [a.authorised_by for a in accesses],
            },
        )
        outbox_enqueue(
            topic=Topic.MEETING_CREATE,
            payload={
                "client_id": str(accesses[0].client.pk),
                "entry_id": None,
                "agency_id": convener.pk,
                "meeting_id": str(meeting.pk),
                "agency_ids": [a.pk for a in attendee_agencies],
            },
        )
        (view,) = meeting_views(actor, [_reload(meeting.pk)])
    return view


def _close_open_share(actor: Actor, old: Share, *, client: Client, now: datetime) -> None:
    """Make room for a meeting share (one open share per agency and client): an expired share the sweep has not
    closed yet is closed as expired, as the sweep would; a pending share of another meeting is replaced."""
    if old.pending:
        old.revoked_at, old.revoked_by, old.revoke_reason = now, actor.account, "replaced"
        old.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        return
    old.revoked_at, old.revoke_reason = now, "expired"
    old.save(update_fields=["revoked_at", "revoke_reason"])
    revoke_perms(client, old.agency)
    system = Actor.system(channel="task", request_id=actor.request_id)
    entry = system_entry(actor=system, agency=None, client=client, event=share_expired_event(share=old))
    announce(Topic.SHARE_EXPIRE, client=client, agency=None, entry=entry)
    audit_record(
        actor=system,
        action=CaseAction.SHARE_EXPIRE,
        client_ids=[client.pk],
        target_type="share",
        target_id=old.pk,
        details={"agency": old.agency.code},
    )


def _reload(meeting_id: UUID) -> Meeting:
    return Meeting.objects.select_related("convened_by").get(pk=meeting_id)


# --- confirm -----------------------------------------------------------------------------------------------


def meeting_confirm(*, actor: Actor, meeting_id: object) -> MeetingView:
    """Confirm 守秘義務 for the actor's agency, once per meeting (a second confirmation is a 400): its pending
    shares of the meeting that have not ended start."""
    with (
        refusals_audited(
            actor=actor, action=CaseAction.MEETING_CONFIRM, target_type="meeting", target_id=meeting_id
        ) as target,
        transaction.atomic(),
    ):
        meeting = meeting_visible_to(actor, meeting_id, lock=True)
        target["target_id"] = str(meeting.pk)
        agency = actor.agency
        assert agency is not None  # _meeting_for refused an actor without one
        attendee = MeetingAttendee.objects.select_for_update().filter(meeting=meeting, agency=agency).first()
        if attendee is None:
            raise Denied("not_attendee", Forbidden(gettext("守秘義務の確認は参加機関が行います。")))
        if not actor.can_manage_shares:
            raise Denied(
                "role",
                Forbidden(gettext("守秘義務の確認は、参加機関の管理職・主任または機関管理者のみが行えます。")),
            )
        if attendee.confirmed_at is not None:
            raise InvalidInput({"meeting": [gettext("この支援会議の守秘義務は既に確認済みです。")]})
        now = actor.now()
        # Seen after its shares ended only by an agency that still sees a client through a share of its own.
        if meeting.share_expires_at <= now:
            raise InvalidInput({"meeting": [gettext("この支援会議による共有の期間は終了しています。")]})
        attendee.confirmed_at, attendee.confirmed_by = now, actor.account
        attendee.save(update_fields=["confirmed_at", "confirmed_by"])
        started = []
        shares = (
            Share.objects.select_for_update()
            .select_related("client", "agency")
            .filter(meeting=meeting, agency=agency, pending=True, revoked_at=None, expires_at__gt=now)
        )
        for share in shares:
            share.pending = False
            share.save(update_fields=["pending"])
            grant_perms(share.client, agency, share.level)
            entry = system_entry(
                actor=actor,
                agency=agency,
                client=share.client,
                event=meeting_share_confirmed_event(meeting=meeting, share=share),
            )
            announce(Topic.SHARE_GRANT, client=share.client, agency=agency, entry=entry)
            started.append(share)
        audit_record(
            actor=actor,
            action=CaseAction.MEETING_CONFIRM,
            client_ids=[s.client_id for s in started],
            target_type="meeting",
            target_id=meeting.pk,
            details={"agency": agency.code, "shares": [str(s.pk) for s in started]},
        )
        (view,) = meeting_views(actor, [meeting])
    return view


# --- minutes -----------------------------------------------------------------------------------------------


def _action_item_input(raw: object, index: int, errors: dict[str, list[str]]) -> dict[str, Any] | None:
    field = f"action_items.{index}"
    if not isinstance(raw, dict):
        errors[field] = [gettext("役割分担の形式が不正です。")]
        return None
    unknown = set(raw) - {"agency", "client", "task", "due_on"}
    if unknown:
        errors[field] = [gettext("指定できない項目があります: %(fields)s") % {"fields": ", ".join(sorted(unknown))}]
        return None
    item_errors: dict[str, list[str]] = {}
    task = clean_text(raw.get("task"), "task", limit=MAX_TASK, errors=item_errors, required=True)
    agency = raw.get("agency")
    if not isinstance(agency, str) or not agency:
        item_errors["agency"] = [gettext("担当機関を指定してください。")]
    client = parse_uuid(raw.get("client"))
    if client is None:
        item_errors["client"] = [gettext("支援対象者はこの支援会議の対象者から指定してください。")]
    due = raw.get("due_on")
    due_on = None
    if due not in (None, ""):
        due_on = parse_date(due)
        if due_on is None:
            item_errors["due_on"] = [gettext("期限を日付（YYYY-MM-DD）で指定してください。")]
    if item_errors:
        errors[field] = [f"{name}: {message}" for name, messages in item_errors.items() for message in messages]
        return None
    return {"agency": agency, "client": client, "task": task, "due_on": due_on}


def meeting_minutes_record(
    *, actor: Actor, meeting_id: object, summary: str, decisions: str = "", action_items: list[object] | None = None
) -> MeetingView:
    """Record the minutes as a new version (see the module docstring)."""
    errors: dict[str, list[str]] = {}
    summary = clean_text(summary, "summary", limit=MAX_BODY, errors=errors, required=True)
    decisions = clean_text(decisions or "", "decisions", limit=MAX_BODY, errors=errors, required=False)
    items_in: list[dict[str, Any]] = []
    raw_items = action_items if action_items is not None else []
    if not isinstance(raw_items, list | tuple):
        errors["action_items"] = [gettext("役割分担はリストで指定してください。")]
    elif len(raw_items) > MAX_ACTION_ITEMS:
        errors["action_items"] = [gettext("役割分担は%(max)s件以内で指定してください。") % {"max": MAX_ACTION_ITEMS}]
    else:
        for i, raw in enumerate(raw_items):
            item = _action_item_input(raw, i, errors)
            if item is not None:
                items_in.append(item)
    if errors:
        raise InvalidInput(errors)
    with (
        refusals_audited(
            actor=actor, action=CaseAction.MEETING_MINUTES, target_type="meeting", target_id=meeting_id
        ) as target,
        transaction.atomic(),
    ):
        meeting = meeting_visible_to(actor, meeting_id, lock=True)
        target["target_id"] = str(meeting.pk)
        agency = actor.agency
        assert agency is not None
        if meeting.convened_by_id != agency.pk:
            raise Denied("not_convener", Forbidden(gettext("支援会議の記録は開催機関が行います。")))
        if not actor.has_staff_role:
            raise Denied("no_role", Forbidden())
        links = list(MeetingClient.objects.filter(meeting=meeting).select_related("client").order_by("id"))
        for link in links:  # the minutes go onto each client's timeline: the convener writes there
            target["target_type"], target["target_id"] = "client", str(link.client_id)
            check_access(actor, link.client_id, ShareLevel.APPEND)
        target["target_type"], target["target_id"] = "meeting", str(meeting.pk)
        parties = {agency.code: agency}
        for a in MeetingAttendee.objects.filter(meeting=meeting).select_related("agency"):
            parties[a.agency.code] = a.agency
        clients = {link.client_id: link.client for link in links}
        for i, item in enumerate(items_in):  # by item, as ``action_items.<i>`` (the form puts them on its rows)
            if item["agency"] not in parties:
                message = gettext("担当機関は開催機関または参加機関から指定してください。")
                errors.setdefault(f"action_items.{i}", []).append(message)
            if item["client"] not in clients:
                message = gettext("支援対象者はこの支援会議の対象者から指定してください。")
                errors.setdefault(f"action_items.{i}", []).append(message)
        if errors:
            raise InvalidInput(errors)
        now = actor.now()
        last = MeetingMinutes.objects.filter(meeting=meeting).order_by("-version").first()
        minutes = MeetingMinutes.objects.create(
            meeting=meeting,
            version=(last.version + 1) if last else 1,
            summary=summary,
            decisions=decisions,
            recorded_by=actor.account,
            recorded_at=now,
        )
        superseded = ActionItem.objects.filter(meeting=meeting, status=ActionItemStatus.OPEN, superseded_at=None)
        superseded_ids = [str(pk) for pk in superseded.values_list("pk", flat=True)]
        superseded.update(superseded_at=now)
        created = [
            ActionItem.objects.create(
                meeting=meeting,
                minutes=minutes,
                agency=parties[item["agency"]],
                client=clients[item["client"]],
                task=item["task"],
                due_on=item["due_on"],
            )
            for item in items_in
        ]
        entries = []
        for link in links:
            body = _minutes_body(summary, decisions, [i for i in created if i.client_id == link.client_id])
            entry = system_entry(
                actor=actor,
                agency=agency,
                client=link.client,
                event=meeting_minutes_event(meeting=meeting, minutes=minutes),
                body=body,
            )
            announce(Topic.MEETING_MINUTES, client=link.client, agency=agency, entry=entry, meeting=meeting)
            entries.append(entry)
        audit_record(
            actor=actor,
            action=CaseAction.MEETING_MINUTES,
            client_ids=list(clients),
            target_type="meeting",
            target_id=meeting.pk,
            details={
                "minutes": str(minutes.pk),
                "version": minutes.version,
                "action_items": [str(i.pk) for i in created],
                "superseded": superseded_ids,
                "entries": [str(e.pk) for e in entries],
            },
        )
        (view,) = meeting_views(actor, [meeting])
    return view


def _minutes_body(summary: str, decisions: str, items: list[ActionItem]) -> str:
    """What a client's timeline shows of the minutes: the summary, the decisions, and that client's items only."""
    parts = [gettext("【概要】") + "\n" + summary]
    if decisions:
        parts.append(gettext("【決定事項】") + "\n" + decisions)
    if items:
        lines = []
        for item in items:
            if item.due_on:
                lines.append(
                    gettext("・%(agency)s: %(task)s（期限 %(due)s）")
                    % {"agency": item.agency.name, "task": item.task, "due": date_format(item.due_on, "DATE_FORMAT")}
                )
            else:
                lines.append(gettext("・%(agency)s: %(task)s") % {"agency": item.agency.name, "task": item.task})
        parts.append(gettext("【役割分担】") + "\n" + "\n".join(lines))
    return "\n\n".join(parts)


# --- tasks -------------------------------------------------------------------------------------------------


def task_done(*, actor: Actor, task_id: object) -> TaskView:
    """Mark an action item done (staff of the assigned agency, which sees the client); done twice is a 400."""
    with (
        refusals_audited(actor=actor, action=CaseAction.TASK_DONE, target_type="action_item", target_id=task_id),
        transaction.atomic(),
    ):
        pk = parse_uuid(task_id)
        item = (
            ActionItem.objects.select_for_update(of=("self",))
            .select_related("meeting", "agency", "client")
            .filter(pk=pk)
            .first()
            if pk
            else None
        )
        if item is None:
            raise Denied("not_found", NotFound(gettext("役割分担が見つかりません。")))
        access = check_access(actor, item.client_id, ShareLevel.READ)  # a client it cannot see: not found
        agency = access.agency
        if item.agency_id != agency.pk:
            party = (
                item.meeting.convened_by_id == agency.pk
                or MeetingAttendee.objects.filter(
                    meeting_id=item.meeting_id, agency=agency, confirmed_at__isnull=False
                ).exists()
            )
            error = Forbidden(gettext("役割分担は担当機関が完了にします。")) if party else NotFound()
            raise Denied("not_assignee", error)
        if not actor.has_staff_role:
            raise Denied("no_role", Forbidden())
        if item.superseded_at is not None:
            raise InvalidInput({"task": [gettext("この役割分担は新しい記録で置き換えられています。")]})
        if item.status == ActionItemStatus.DONE:
            raise InvalidInput({"task": [gettext("この役割分担は既に完了しています。")]})
        now = actor.now()
        item.status, item.done_at, item.done_by = ActionItemStatus.DONE, now, actor.account
        item.save(update_fields=["status", "done_at", "done_by"])
        entry: TimelineEntry = system_entry(
            actor=actor, agency=agency, client=item.client, event=action_item_done_event(item=item, agency=agency)
        )
        announce(Topic.TASK_DONE, client=item.client, agency=agency, entry=entry)
        audit_record(
            actor=actor,
            action=CaseAction.TASK_DONE,
            client_ids=[item.client_id],
            target_type="action_item",
            target_id=item.pk,
            authorised_by=access.authorised_by,
            details={"meeting": str(item.meeting_id), "entry": str(entry.pk)},
        )
        (view,) = task_views(actor, [item], visible=visible_client_ids(actor, [item.client_id]))
    return view
