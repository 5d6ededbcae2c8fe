"""Appending to a client's timeline. Nothing on it is updated in place: a correction is a new entry pointing at the
one it corrects."""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext

from agencies.actors import Actor
from audit.services import audit_record
from tsunagu.errors import Forbidden, InvalidInput
from tsunagu.ids import parse_uuid

from ..access import Denied, client_access, is_own_entry, writes_entries
from ..actions import CaseAction, Topic
from ..models import USER_ENTRY_KINDS, ShareLevel, TimelineEntry
from ..read_models import EntryView
from .side_effects import announce
from .validation import FUTURE_TOLERANCE, MAX_BODY


def timeline_append(
    *,
    actor: Actor,
    client_id: object,
    kind: str,
    body: str,
    occurred_at: datetime | None = None,
    corrects: object = None,
) -> EntryView:
    """Append an entry (``append`` level). With ``corrects``, a correction of one of the agency's own entries."""
    errors: dict[str, list[str]] = {}
    if kind not in USER_ENTRY_KINDS:
        errors["kind"] = [gettext("記録の種類が不正です: %(value)s") % {"value": kind}]
    body = (body or "").strip()
    if not body:
        errors["body"] = [gettext("内容を入力してください。")]
    elif len(body) > MAX_BODY:
        errors["body"] = [gettext("内容は%(max)s文字以内で入力してください。") % {"max": MAX_BODY}]
    now = actor.now()
    if occurred_at is None:
        occurred_at = now
    elif not isinstance(occurred_at, datetime) or timezone.is_naive(occurred_at):
        errors["occurred_at"] = [gettext("日時はタイムゾーン付きで指定してください。")]
    elif occurred_at > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = [gettext("未来の日時は指定できません。")]
    elif occurred_at.year < 1900:
        errors["occurred_at"] = [gettext("日時が正しくありません。")]
    corrects_id = None
    if corrects not in (None, ""):
        corrects_id = parse_uuid(corrects)
        if corrects_id is None:
            errors["corrects"] = [gettext("訂正対象の記録が見つかりません。")]
    if errors:
        raise InvalidInput(errors)
    action = CaseAction.TIMELINE_CORRECT if corrects_id else CaseAction.TIMELINE_APPEND
    with client_access(actor=actor, client_id=client_id, need=ShareLevel.APPEND, action=action) as access:
        if not writes_entries(actor):
            raise Denied("no_role", Forbidden())
        target = None
        if corrects_id:
            target = TimelineEntry.objects.filter(pk=corrects_id, client=access.client).first()
            if target is None:
                raise InvalidInput({"corrects": [gettext("訂正対象の記録が見つかりません。")]})
            # An entry the services wrote (kind ``meeting`` for a 支援会議's minutes included) is not corrected here:
            # minutes are corrected by a new version (``meeting_minutes_record``).
            if target.kind not in USER_ENTRY_KINDS or target.event:
                raise InvalidInput({"corrects": [gettext("システムの記録は訂正できません。")]})
            if not is_own_entry(actor, target.agency_id):
                raise Denied("not_own_entry", Forbidden(gettext("自機関の記録のみ訂正できます。")))
        entry = TimelineEntry.objects.create(
            client=access.client,
            kind=kind,
            occurred_at=occurred_at,
            body=body,
            author=actor.account,
            agency=access.agency,
            recorded_at=now,
            corrects=target,
        )
        audit_record(
            actor=actor,
            action=action,
            client_ids=[access.client.pk],
            target_type="entry",
            target_id=entry.pk,
            authorised_by=access.authorised_by,
            details={"kind": kind, "corrects": str(target.pk) if target else None},
        )
        topic = Topic.TIMELINE_CORRECT if corrects_id else Topic.TIMELINE_APPEND
        announce(topic, client=access.client, agency=access.agency, entry=entry)
    entry.agency = access.agency
    entry.author = actor.account
    return EntryView.of(entry, [], viewer=actor, level=access.level)
