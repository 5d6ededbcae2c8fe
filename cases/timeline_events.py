"""System timeline entries: stored as an event and its parameters, rendered in the reader's language.

The services record what happened (one constructor per event, below), never a sentence; reading an entry renders
the sentence in the language active then (the browser's or the API request's, Japanese by default). Parameters
are the facts as they were when the entry was written (the agency's name then, the level, the expiry) in codes and
ISO times. Entries written before events were stored have none and keep the sentence stored in their body.
"""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext

from .models import ClientStatus, EntryKind, ShareBasis, ShareLevel, SystemEvent


@dataclass(frozen=True)
class Event:
    """What a system entry stores: its kind, its event and the event's parameters."""

    kind: str
    event: str
    params: dict


# --- writing: one constructor per event ----------------------------------------------------------------------


def _share_params(share) -> dict:
    return {
        "agency": share.agency.code,
        "agency_name": share.agency.name,
        "level": share.level,
        "basis": share.basis,
    }


def share_granted_event(*, share) -> Event:
    params = {**_share_params(share), "expires_at": share.expires_at.isoformat() if share.expires_at else None}
    return Event(EntryKind.SHARE_CHANGE, SystemEvent.SHARE_GRANTED, params)


def share_revoked_event(*, share) -> Event:
    return Event(EntryKind.SHARE_CHANGE, SystemEvent.SHARE_REVOKED, _share_params(share))


def share_expired_event(*, share) -> Event:
    return Event(EntryKind.SHARE_CHANGE, SystemEvent.SHARE_EXPIRED, _share_params(share))


def status_changed_event(*, old: str, new: str) -> Event:
    return Event(EntryKind.STATUS_CHANGE, SystemEvent.STATUS_CHANGED, {"from": old, "to": new})


def break_glass_event(*, agency, expires_at: datetime, renewal: bool) -> Event:
    event = SystemEvent.BREAK_GLASS_RENEWED if renewal else SystemEvent.BREAK_GLASS_OPENED
    params = {"agency": agency.code, "agency_name": agency.name, "expires_at": expires_at.isoformat()}
    return Event(EntryKind.BREAK_GLASS, event, params)


def meeting_share_confirmed_event(*, meeting, share) -> Event:
    """An attendee agency confirmed 守秘義務 for a 支援会議: its meeting share of this client starts."""
    params = {
        **_share_params(share),
        "meeting": str(meeting.pk),
        "expires_at": share.expires_at.isoformat() if share.expires_at else None,
    }
    return Event(EntryKind.SHARE_CHANGE, SystemEvent.MEETING_SHARE_CONFIRMED, params)


def meeting_minutes_event(*, meeting, minutes) -> Event:
    """The minutes of a 支援会議 (a version): ids and the version only; the entry's body holds what the convener
    recorded for this client (summary, decisions, this client's action items)."""
    params = {"meeting": str(meeting.pk), "minutes": str(minutes.pk), "version": minutes.version}
    return Event(EntryKind.MEETING, SystemEvent.MEETING_MINUTES, params)


def action_item_done_event(*, item, agency) -> Event:
    params = {
        "meeting": str(item.meeting_id),
        "action_item": str(item.pk),
        "agency": agency.code,
        "agency_name": agency.name,
    }
    return Event(EntryKind.MEETING, SystemEvent.ACTION_ITEM_DONE, params)


def inquiry_asked_event(*, inquiry, to) -> Event:
    """照会: ids and codes only (the subject and the question are the entry's ``body``)."""
    params = {
        "inquiry": str(inquiry.pk),
        "from": inquiry.from_agency.code,
        "to": [a.code for a in to],
        "to_names": [a.name for a in to],  # as they were, like every event's agency names: no lookup when read
    }
    return Event(EntryKind.INQUIRY, SystemEvent.INQUIRY_ASKED, params)


def inquiry_replied_event(*, inquiry, reply) -> Event:
    params = {"inquiry": str(inquiry.pk), "reply": str(reply.pk), "agency": reply.agency.code}
    return Event(EntryKind.INQUIRY, SystemEvent.INQUIRY_REPLIED, params)


def inquiry_closed_event(*, inquiry) -> Event:
    return Event(EntryKind.INQUIRY, SystemEvent.INQUIRY_CLOSED, {"inquiry": str(inquiry.pk)})


# --- reading -------------------------------------------------------------------------------------------------


def _when(value: str) -> str:
    return date_format(timezone.localtime(parse_datetime(value)), "DATETIME_FORMAT")


def _share_facts(p: dict) -> dict:
    return {
        "agency": p["agency_name"],
        "level": ShareLevel(p["level"]).label,
        "basis": ShareBasis(p["basis"]).label,
    }


def _share_granted(p: dict) -> str:
    if p.get("expires_at"):
        return gettext("%(agency)s との共有を設定しました（%(level)s、根拠: %(basis)s、期限 %(expires)s）。") % {
            **_share_facts(p),
            "expires": _when(p["expires_at"]),
        }
    return gettext("%(agency)s との共有を設定しました（%(level)s、根拠: %(basis)s）。") % _share_facts(p)


def _share_revoked(p: dict) -> str:
    return gettext("%(agency)s との共有を解除しました（%(level)s、根拠: %(basis)s）。") % _share_facts(p)


def _share_expired(p: dict) -> str:
    return gettext("%(agency)s との共有が期限切れにより終了しました。") % {"agency": p["agency_name"]}


def _status_changed(p: dict) -> str:
    return gettext("状態を「%(old)s」から「%(new)s」に変更しました。") % {
        "old": ClientStatus(p["from"]).label,
        "new": ClientStatus(p["to"]).label,
    }


def _break_glass_opened(p: dict) -> str:
    return gettext(
        "%(agency)s の職員が緊急アクセス（閲覧、%(until)s まで）を行いました。理由は監査ログに記録されています。"
    ) % {"agency": p["agency_name"], "until": _when(p["expires_at"])}


def _break_glass_renewed(p: dict) -> str:
    return gettext(
        "%(agency)s の職員が緊急アクセス（閲覧、%(until)s まで）を延長しました。理由は監査ログに記録されています。"
    ) % {"agency": p["agency_name"], "until": _when(p["expires_at"])}


def _meeting_share_confirmed(p: dict) -> str:
    facts = {"agency": p["agency_name"], "level": ShareLevel(p["level"]).label}
    if p.get("expires_at"):
        return gettext(
            "%(agency)s が支援会議の守秘義務を確認し、共有が始まりました（%(level)s、期限 %(expires)s）。"
        ) % {**facts, "expires": _when(p["expires_at"])}
    return gettext("%(agency)s が支援会議の守秘義務を確認し、共有が始まりました（%(level)s）。") % facts


def _meeting_minutes(p: dict) -> str:
    return gettext("支援会議の記録（第%(version)s版）") % {"version": p["version"]}


def _action_item_done(p: dict) -> str:
    return gettext("%(agency)s が支援会議の役割分担を完了しました。") % {"agency": p["agency_name"]}


def _inquiry_asked(p: dict) -> str:
    return gettext("%(to)s に照会しました。") % {"to": "、".join(p.get("to_names") or p.get("to") or [])}


def _inquiry_replied(p: dict) -> str:
    return gettext("照会に回答しました。")


def _inquiry_closed(p: dict) -> str:
    return gettext("照会を終了しました。")


RENDERERS = {
    SystemEvent.SHARE_GRANTED: _share_granted,
    SystemEvent.SHARE_REVOKED: _share_revoked,
    SystemEvent.SHARE_EXPIRED: _share_expired,
    SystemEvent.STATUS_CHANGED: _status_changed,
    SystemEvent.BREAK_GLASS_OPENED: _break_glass_opened,
    SystemEvent.BREAK_GLASS_RENEWED: _break_glass_renewed,
    SystemEvent.MEETING_SHARE_CONFIRMED: _meeting_share_confirmed,
    SystemEvent.MEETING_MINUTES: _meeting_minutes,
    SystemEvent.ACTION_ITEM_DONE: _action_item_done,
    SystemEvent.INQUIRY_ASKED: _inquiry_asked,
    SystemEvent.INQUIRY_REPLIED: _inquiry_replied,
    SystemEvent.INQUIRY_CLOSED: _inquiry_closed,
}

# Events whose entry body is what people recorded (the minutes, an inquiry's question, a reply), shown beneath the
# rendered heading as it is.
CONTENT_EVENTS = frozenset({SystemEvent.MEETING_MINUTES, SystemEvent.INQUIRY_ASKED, SystemEvent.INQUIRY_REPLIED})


def inquiry_of(entry) -> str | None:
    """The id of the inquiry an entry of kind ``inquiry`` belongs to (its page links there), else None."""
    if entry.kind != EntryKind.INQUIRY or not entry.event_params:
        return None
    return entry.event_params.get("inquiry")


def entry_text(entry) -> str:
    """What an entry says, in the current language: a system event rendered now, anything else as stored. A system
    entry that carries the actor's own words (a status change's reason, in ``body``) shows them beneath."""
    render = RENDERERS.get(entry.event) if entry.event else None
    if render is None:
        return entry.body
    text = render(entry.event_params or {})
    if entry.body and entry.event in CONTENT_EVENTS:
        text += "\n" + entry.body
    elif entry.body:
        text += "\n" + gettext("理由: %(reason)s") % {"reason": entry.body}
    return text
