"""Anomaly flags: running the rules, the list, one flag with its events, and the review notes that close it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from tsunagu.errors import Forbidden, InvalidInput, NotFound
from tsunagu.ids import parse_uuid
from tsunagu.keyset import Page, keyset_page
from tsunagu.periods import check_period

from .. import anomalies
from ..actions import AuditAction, Trait, with_trait
from ..models import (
    AnomalyFlag,
    AnomalyRule,
    AuditEvent,
    AuditExposure,
    AuthorisedBy,
    FlagNote,
    FlagStatus,
    Outcome,
)
from ..refusals import Refusal, refusals_audited
from ..services import AuditActor, audit_record
from .officer import is_system, require_privacy_officer
from .search import event_filters

NOTE_MAX_LENGTH = 2000
FLAG_ORDER = [("created_at", True), ("id", True)]


def detect_anomalies(*, actor: AuditActor, since: datetime | None = None, until: datetime | None = None) -> int:
    """Run every anomaly rule over [since, until) (default: the lookback window up to now); returns the number
    of new flags. Runs as the periodic task and the management command (system actor), or on demand by a
    privacy officer (then audited as ``audit.detect_anomalies``)."""
    system = is_system(actor)
    if not system:
        require_privacy_officer(actor=actor, action=AuditAction.DETECT_ANOMALIES)
    check_period(since, until)
    with transaction.atomic():
        created = anomalies.run_rules(since=since, until=until)
        if not system:
            details: dict[str, object] = {"new_flags": created}
            details.update(event_filters(since=since, until=until))
            audit_record(actor=actor, action=AuditAction.DETECT_ANOMALIES, details=details)
    return created


def flags_list(
    *, actor: AuditActor, status: str = "open", rule: str = "", cursor: str | None = None, limit: int = 50
) -> Page:
    """Anomaly flags newest first; ``status`` open, closed or empty for all; ``rule`` one of AnomalyRule."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    errors = {}
    if status and status not in FlagStatus.values:
        errors["status"] = [gettext("状態が不正です: %(value)s") % {"value": status}]
    if rule and rule not in AnomalyRule.values:
        errors["rule"] = [gettext("規則が不正です: %(value)s") % {"value": rule}]
    if errors:
        raise InvalidInput(errors)
    qs = AnomalyFlag.objects.all()
    if status:
        qs = qs.filter(status=status)
    if rule:
        qs = qs.filter(rule=rule)
    with transaction.atomic():
        page = keyset_page(qs, order=FLAG_ORDER, limit=limit, cursor=cursor)
        filters = {k: v for k, v in (("status", status), ("rule", rule)) if v}
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            details={"purpose": "flags", "filters": filters, "count": len(page.items)},
        )
    return page


# What one emergency-access grant opened, shown on its flag: at most this many events (then "more").
GRANT_EVENTS_CAP = 200
# A break-glass event without its recorded expiry (none are known) is followed for this long.
GRANT_FALLBACK = timedelta(hours=24)


@dataclass(frozen=True)
class GrantActivity:
    """What was done under one emergency-access grant: the events authorised by it, and the user's refused
    attempts on the same client while it lasted (an entry refused because break-glass is read-only), oldest
    first. ``grant_id`` is the grant's id as the audit log records it (``authorised_by``)."""

    grant_id: str
    event: AuditEvent  # the break_glass event that opened it
    until: datetime  # its recorded expiry, or the next grant for the same client by the same person
    events: list[AuditEvent] = field(default_factory=list)
    capped: bool = False


@dataclass(frozen=True)
class FlagDetail:
    flag: AnomalyFlag
    events: list[AuditEvent]
    notes: list[FlagNote]
    about_reader: bool = False  # the flag is about the officer reading it: another officer reviews it
    grants: list[GrantActivity] = field(default_factory=list)  # for a break-glass flag


def _grant_activity(event: AuditEvent) -> GrantActivity | None:
    """The events under the grant a break_glass event opened (one bounded query on the user's events)."""
    kind, _sep, grant_id = (event.authorised_by or "").partition(":")
    if kind != AuthorisedBy.BREAK_GLASS or not grant_id or event.outcome != Outcome.ALLOWED:
        return None
    expires = event.details.get("expires_at") if isinstance(event.details, dict) else None
    until = parse_datetime(expires) if isinstance(expires, str) else None
    if until is None or timezone.is_naive(until):
        until = event.occurred_at + GRANT_FALLBACK
    clients = [str(c) for c in event.client_ids or []]
    touching = AuditExposure.objects.filter(client_id__in=clients).values("event_id")
    mine = AuditEvent.objects.filter(actor_username=event.actor_username, seq__gt=event.seq)
    # A later grant for the same client by the same person (a renewal) ends this one's part of the story.
    later = (
        mine.filter(action__in=sorted(with_trait(Trait.BREAK_GLASS)), outcome=Outcome.ALLOWED, seq__in=touching)
        .filter(occurred_at__lt=until)
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if later is not None:
        until = later
    rows = list(
        mine.filter(occurred_at__lt=until)
        .filter(Q(authorised_by=event.authorised_by) | Q(outcome=Outcome.DENIED, seq__in=touching))
        .order_by("seq")[: GRANT_EVENTS_CAP + 1]
    )
    return GrantActivity(
        grant_id=grant_id,
        event=event,
        until=until,
        events=rows[:GRANT_EVENTS_CAP],
        capped=len(rows) > GRANT_EVENTS_CAP,
    )


def _flag_or_404(flag_id: object, *, lock: bool = False) -> AnomalyFlag:
    fid = parse_uuid(flag_id)
    qs = AnomalyFlag.objects.select_for_update() if lock else AnomalyFlag.objects.all()
    flag = qs.filter(pk=fid).first() if fid is not None else None
    if flag is None:
        raise NotFound(gettext("指摘が見つかりません。"))
    return flag


def flag_get(*, actor: AuditActor, flag_id: object) -> FlagDetail:
    """One flag with the events behind it (oldest first) and its review notes; for a break-glass flag, also what
    was opened under each grant it reports (``GrantActivity``)."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    with transaction.atomic():
        flag = _flag_or_404(flag_id)
        events = list(AuditEvent.objects.filter(seq__in=flag.event_seqs).order_by("seq"))
        notes = list(flag.notes.order_by("created_at", "id"))
        grants: list[GrantActivity] = []
        if flag.rule == AnomalyRule.BREAK_GLASS:
            breaks = with_trait(Trait.BREAK_GLASS)
            grants = [g for e in events if e.action in breaks and (g := _grant_activity(e)) is not None]
        details: dict[str, object] = {"purpose": "flag"}
        if grants:
            details["grant_events"] = sum(len(g.events) for g in grants)
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            target_type="anomaly_flag",
            target_id=flag.pk,
            details=details,
        )
    return FlagDetail(flag=flag, events=events, notes=notes, about_reader=is_about(flag, actor), grants=grants)


def is_about(flag: AnomalyFlag, actor: AuditActor) -> bool:
    """Whether the flag is about ``actor``: its subject, or the one who did any of the events behind it (an
    after-share-end flag names an agency and several users). Nobody reviews a flag about themselves (PRODUCT
    §4.4): an officer who also does casework is reviewed by another officer."""
    username = getattr(actor, "username", "")
    if not username or username in anomalies.NOT_PEOPLE:
        return False
    if flag.subject_username == username or flag.subject_key == f"user:{username}":
        return True
    return AuditEvent.objects.filter(seq__in=flag.event_seqs, actor_username=username).exists()


def flag_add_note(*, actor: AuditActor, flag_id: object, note: str, close: bool = False) -> FlagNote:
    """Record a review note (append-only) and, with ``close``, close the flag. The note's text is not copied into
    the audit row (it may name a person)."""
    require_privacy_officer(actor=actor, action=AuditAction.FLAG_REVIEW)
    text = (note or "").strip()
    if not text:
        raise InvalidInput({"note": [gettext("確認内容を入力してください。")]})
    if len(text) > NOTE_MAX_LENGTH:
        raise InvalidInput(
            {"note": [gettext("確認内容は%(max)s文字以内で入力してください。") % {"max": NOTE_MAX_LENGTH}]}
        )
    with (
        refusals_audited(
            actor=actor, action=AuditAction.FLAG_REVIEW, target_type="anomaly_flag", target_id=str(flag_id)[:64]
        ),
        transaction.atomic(),
    ):
        flag = _flag_or_404(flag_id, lock=True)
        if is_about(flag, actor):
            raise Refusal(
                "own_flag",
                Forbidden(gettext("ご自身に関する指摘には記録できません。別の個人情報保護管理者が確認します。")),
            )
        if close and flag.status == FlagStatus.CLOSED:
            raise InvalidInput({"close": [gettext("この指摘はすでに対応済みです。")]})
        now = timezone.now()
        created = FlagNote.objects.create(
            flag=flag, author_username=actor.username, note=text, created_at=now, closes_flag=bool(close)
        )
        if close:
            flag.status = FlagStatus.CLOSED
            flag.closed_at = now
            flag.closed_by_username = actor.username
            flag.save(update_fields=["status", "closed_at", "closed_by_username"])
        audit_record(
            actor=actor,
            action=AuditAction.FLAG_REVIEW,
            target_type="anomaly_flag",
            target_id=flag.pk,
            details={"note": str(created.pk), "close": bool(close), "rule": flag.rule},
        )
    return created
