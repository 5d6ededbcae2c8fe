"""The privacy officer's review of the audit log: searches, seal status, disclosure reports, statistics, anomaly
flags and their review notes, CSV exports.

Every function is for privacy officers only: anyone else is refused with ``Forbidden`` after a denied event is
recorded. Each read records its own ``audit.view`` (or more specific) event in the same transaction as the read,
so a read whose audit row cannot be written returns nothing (fail closed). Audit rows written here carry ids,
filters and counts, never case content; the text of a review note stays in the note.

This module sits in ``audit``: it imports no domain app. The actor is anything with the
``audit.services.AuditActor`` attributes plus ``is_privacy_officer``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from tsunagu.errors import Forbidden, InvalidInput, NotFound
from tsunagu.keyset import Page, keyset_page

from . import anomalies, exports
from .models import AnomalyFlag, AnomalyRule, AuditEvent, AuditExport, AuditExposure, FlagNote, FlagStatus, Outcome
from .refusals import Refusal, refusals_audited, refuse
from .selectors import SealStatus, audit_event_list, seal_latest
from .services import AuditActor, as_uuid, audit_record, terms_hash_candidates

JST = ZoneInfo("Asia/Tokyo")
DISCLOSURE_CAP = 10_000
NOTE_MAX_LENGTH = 2000
FLAG_ORDER = [("created_at", True), ("id", True)]
SYSTEM_CHANNELS = frozenset({"task", "cli"})


def require_privacy_officer(*, actor: AuditActor, action: str = "audit.view", details: dict | None = None) -> None:
    """Refuse anyone but a privacy officer, recording the attempt (in its own transaction, after the denial).
    Every review function starts with it; a page that answers before calling one (an empty form) calls it too."""
    if not getattr(actor, "is_privacy_officer", False):
        refuse(
            actor=actor,
            action=action,
            reason="not_privacy_officer",
            error=Forbidden("監査ログは個人情報保護管理者のみが閲覧できます。"),
            details=details,
        )


def _require_officer(actor: AuditActor, action: str) -> None:
    require_privacy_officer(actor=actor, action=action)


def _is_system(actor: AuditActor) -> bool:
    return getattr(actor, "user_id", None) is None and getattr(actor, "channel", "") in SYSTEM_CHANNELS


def _client_uuid(client_id, field: str = "client") -> uuid.UUID:
    cid = as_uuid(client_id)
    if cid is None:
        raise InvalidInput({field: ["対象者IDの形式が正しくありません。"]})
    return cid


def _check_period(since, until, *, required: bool) -> None:
    errors: dict[str, list[str]] = {}
    for name, value in (("since", since), ("until", until)):
        if value is None:
            if required:
                errors[name] = ["期間を指定してください。"]
        elif not isinstance(value, datetime) or timezone.is_naive(value):
            errors[name] = ["日時はタイムゾーン付きで指定してください。"]
    if not errors and since is not None and until is not None and since >= until:
        errors["until"] = ["終了日時は開始日時より後にしてください。"]
    if errors:
        raise InvalidInput(errors)


# --- searching the log ------------------------------------------------------------------------------------


def event_filters(
    *,
    client_id=None,
    username: str = "",
    agency: str = "",
    action: str = "",
    outcome: str = "",
    channel: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict:
    """The non-empty filters of a search, as JSON (for the audit row and for an export)."""
    values = {
        "client": str(client_id) if client_id not in (None, "") else "",
        "actor": username,
        "agency": agency,
        "action": action,
        "outcome": outcome,
        "channel": channel,
        "since": since.isoformat() if isinstance(since, datetime) else "",
        "until": until.isoformat() if isinstance(until, datetime) else "",
    }
    return {k: v for k, v in values.items() if v}


def review_events(
    *,
    actor: AuditActor,
    client_id=None,
    username: str = "",
    agency: str = "",
    action: str = "",
    outcome: str = "",
    channel: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Audit events newest first, one keyset page. ``client_id`` matches events that targeted the client or
    exposed it (lists, searches), denied attempts included; ``action`` matches exactly or as a prefix ending in
    ``.``. Audited as ``audit.view`` with the filters and the number of events shown."""
    _require_officer(actor, "audit.view")
    if client_id not in (None, ""):
        client_id = _client_uuid(client_id)
    with transaction.atomic():
        page = audit_event_list(
            client_id=client_id,
            actor=username,
            agency=agency,
            action=action,
            outcome=outcome,
            channel=channel,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        filters = event_filters(
            client_id=client_id,
            username=username,
            agency=agency,
            action=action,
            outcome=outcome,
            channel=channel,
            since=since,
            until=until,
        )
        audit_record(actor=actor, action="audit.view", details={"filters": filters, "count": len(page.items)})
    return page


TERM_MAX_LENGTH = 100
TERM_SEARCH_ORDER = [("seq", True)]


def review_term_search(
    *,
    actor: AuditActor,
    terms: list[str],
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """ "Did anyone search for this name?": events whose recorded search-term, tag-filter or attempted-username
    hash is the keyed hash of one of ``terms`` (the spellings to try: as typed, normalised as the searches
    normalise), under every key still held; newest first, one keyset page.

    Audited as ``audit.term_search`` with the number of events found: neither the terms nor their hashes are
    recorded (a hash of the term would itself be a record of the name looked for)."""
    _require_officer(actor, "audit.term_search")
    texts = sorted({t.strip() for t in terms or [] if t and t.strip()})
    if not texts:
        raise InvalidInput({"term": ["検索語を入力してください。"]})
    if any(len(t) > TERM_MAX_LENGTH for t in texts):
        raise InvalidInput({"term": [f"検索語は{TERM_MAX_LENGTH}文字以内で入力してください。"]})
    _check_period(since, until, required=False)
    hashes = sorted(terms_hash_candidates(texts))
    with transaction.atomic():
        qs = AuditEvent.objects.filter(
            Q(details__q_hash__in=hashes)
            | Q(details__filters__tag_hash__in=hashes)
            | Q(details__username_hash__in=hashes)
        )
        if since is not None:
            qs = qs.filter(occurred_at__gte=since)
        if until is not None:
            qs = qs.filter(occurred_at__lt=until)
        page = keyset_page(qs, order=TERM_SEARCH_ORDER, limit=limit, cursor=cursor)
        details = {"purpose": "term_search", "count": len(page.items)}
        details.update(event_filters(since=since, until=until))
        audit_record(actor=actor, action="audit.term_search", details=details)
    return page


def review_seal_status(*, actor: AuditActor) -> SealStatus:
    """The last seal and the last verification result."""
    _require_officer(actor, "audit.view")
    with transaction.atomic():
        status = seal_latest()
        audit_record(actor=actor, action="audit.view", details={"purpose": "seal_status"})
    return status


@dataclass(frozen=True)
class DisclosureReport:
    events: list[AuditEvent]
    capped: bool  # true when there were more than DISCLOSURE_CAP events: narrow the period


def review_disclosure(*, actor: AuditActor, client_id, since: datetime, until: datetime) -> DisclosureReport:
    """For a resident's disclosure request (開示請求): every event that targeted or exposed the client in
    [since, until), oldest first, denied attempts included, at most ``DISCLOSURE_CAP``.

    The privacy office's own review work (``audit.*``: identifier look-ups made to answer this very request) is
    left out, so that preparing a report does not change the next one; it stays in the per-client history."""
    _require_officer(actor, "audit.view")
    cid = _client_uuid(client_id)
    _check_period(since, until, required=True)
    with transaction.atomic():
        touching = AuditExposure.objects.filter(client_id=cid).values("event_id")
        rows = list(
            AuditEvent.objects.filter(seq__in=touching, occurred_at__gte=since, occurred_at__lt=until)
            .exclude(action__startswith="audit.")
            .order_by("occurred_at", "seq")[: DISCLOSURE_CAP + 1]
        )
        capped = len(rows) > DISCLOSURE_CAP
        rows = rows[:DISCLOSURE_CAP]
        audit_record(
            actor=actor,
            action="audit.view",
            details={
                "purpose": "disclosure",
                "client": str(cid),
                "since": since.isoformat(),
                "until": until.isoformat(),
                "count": len(rows),
                "capped": capped,
            },
        )
    return DisclosureReport(events=rows, capped=capped)


@dataclass(frozen=True)
class ReviewStats:
    events_per_day_by_agency: dict[date, dict[str, int]]  # JST date → agency code ("" for none) → events
    denied_per_day: dict[date, int]
    open_flags: int
    first_day: date
    last_day: date


def review_stats(*, actor: AuditActor, days: int = 30) -> ReviewStats:
    """Dashboard figures for the last ``days`` JST days (today included), counted by the database (GROUP BY)."""
    _require_officer(actor, "audit.view")
    if not isinstance(days, int) or not 1 <= days <= 366:
        raise InvalidInput({"days": ["日数は1〜366で指定してください。"]})
    last_day = timezone.now().astimezone(JST).date()
    first_day = last_day - timedelta(days=days - 1)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=JST)
    with transaction.atomic():
        recent = AuditEvent.objects.filter(occurred_at__gte=start).annotate(day=TruncDate("occurred_at", tzinfo=JST))
        per_agency: dict[date, dict[str, int]] = {}
        for row in recent.order_by().values("day", "actor_agency_code").annotate(n=Count("seq")):
            per_agency.setdefault(row["day"], {})[row["actor_agency_code"]] = row["n"]
        denied = {
            row["day"]: row["n"]
            for row in recent.filter(outcome=Outcome.DENIED).order_by().values("day").annotate(n=Count("seq"))
        }
        open_flags = AnomalyFlag.objects.filter(status=FlagStatus.OPEN).count()
        audit_record(actor=actor, action="audit.view", details={"purpose": "stats", "days": days})
    return ReviewStats(
        events_per_day_by_agency=dict(sorted(per_agency.items())),
        denied_per_day=dict(sorted(denied.items())),
        open_flags=open_flags,
        first_day=first_day,
        last_day=last_day,
    )


# --- anomaly flags ----------------------------------------------------------------------------------------


def detect_anomalies(*, actor: AuditActor, since: datetime | None = None, until: datetime | None = None) -> int:
    """Run every anomaly rule over [since, until) (default: the lookback window up to now); returns the number
    of new flags. Runs as the periodic task and the management command (system actor), or on demand by a
    privacy officer (then audited as ``audit.detect_anomalies``)."""
    system = _is_system(actor)
    if not system:
        _require_officer(actor, "audit.detect_anomalies")
    _check_period(since, until, required=False)
    with transaction.atomic():
        created = anomalies.run_rules(since=since, until=until)
        if not system:
            details = {"new_flags": created}
            details.update(event_filters(since=since, until=until))
            audit_record(actor=actor, action="audit.detect_anomalies", details=details)
    return created


def flags_list(
    *, actor: AuditActor, status: str = "open", rule: str = "", cursor: str | None = None, limit: int = 50
) -> Page:
    """Anomaly flags newest first; ``status`` open, closed or empty for all; ``rule`` one of AnomalyRule."""
    _require_officer(actor, "audit.view")
    errors = {}
    if status and status not in FlagStatus.values:
        errors["status"] = [f"状態が不正です: {status}"]
    if rule and rule not in AnomalyRule.values:
        errors["rule"] = [f"規則が不正です: {rule}"]
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
            actor=actor, action="audit.view", details={"purpose": "flags", "filters": filters, "count": len(page.items)}
        )
    return page


@dataclass(frozen=True)
class FlagDetail:
    flag: AnomalyFlag
    events: list[AuditEvent]
    notes: list[FlagNote]
    about_reader: bool = False  # the flag is about the officer reading it: another officer reviews it


def _flag_or_404(flag_id, *, lock: bool = False) -> AnomalyFlag:
    fid = as_uuid(flag_id)
    qs = AnomalyFlag.objects.select_for_update() if lock else AnomalyFlag.objects.all()
    flag = qs.filter(pk=fid).first() if fid is not None else None
    if flag is None:
        raise NotFound("指摘が見つかりません。")
    return flag


def flag_get(*, actor: AuditActor, flag_id) -> FlagDetail:
    """One flag with the events behind it (oldest first) and its review notes."""
    _require_officer(actor, "audit.view")
    with transaction.atomic():
        flag = _flag_or_404(flag_id)
        events = list(AuditEvent.objects.filter(seq__in=flag.event_seqs).order_by("seq"))
        notes = list(flag.notes.order_by("created_at", "id"))
        audit_record(
            actor=actor,
            action="audit.view",
            target_type="anomaly_flag",
            target_id=flag.pk,
            details={"purpose": "flag"},
        )
    return FlagDetail(flag=flag, events=events, notes=notes, about_reader=is_about(flag, actor))


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


def flag_add_note(*, actor: AuditActor, flag_id, note: str, close: bool = False) -> FlagNote:
    """Record a review note (append-only) and, with ``close``, close the flag. The note's text is not copied into
    the audit row (it may name a person)."""
    _require_officer(actor, "audit.flag_review")
    text = (note or "").strip()
    if not text:
        raise InvalidInput({"note": ["確認内容を入力してください。"]})
    if len(text) > NOTE_MAX_LENGTH:
        raise InvalidInput({"note": [f"確認内容は{NOTE_MAX_LENGTH}文字以内で入力してください。"]})
    with (
        refusals_audited(
            actor=actor, action="audit.flag_review", target_type="anomaly_flag", target_id=str(flag_id)[:64]
        ),
        transaction.atomic(),
    ):
        flag = _flag_or_404(flag_id, lock=True)
        if is_about(flag, actor):
            raise Refusal(
                "own_flag",
                Forbidden("ご自身に関する指摘には記録できません。別の個人情報保護管理者が確認します。"),
            )
        if close and flag.status == FlagStatus.CLOSED:
            raise InvalidInput({"close": ["この指摘はすでに対応済みです。"]})
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
            action="audit.flag_review",
            target_type="anomaly_flag",
            target_id=flag.pk,
            details={"note": str(created.pk), "close": bool(close), "rule": flag.rule},
        )
    return created


# --- exports ----------------------------------------------------------------------------------------------


def export_start(*, actor: AuditActor, filters: dict, encoding: str = "utf-8-sig") -> AuditExport:
    """Start a CSV export of a search (``filters`` as ``review_events`` takes them, or as ``event_filters``
    returns them). The file is built by ``audit.tasks.build_export``, queued after commit."""
    _require_officer(actor, "export")
    stored = exports.clean_filters(filters)
    exports.check_encoding(encoding)
    with transaction.atomic():
        export = AuditExport.objects.create(
            requested_by_username=actor.username, filters=stored, encoding=encoding, created_at=timezone.now()
        )
        audit_record(
            actor=actor,
            action="export",
            target_type="audit_export",
            target_id=export.pk,
            details={"kind": "audit_csv", "filters": stored, "encoding": encoding},
        )
        # robust: a broker outage leaves the export pending (the page can retry it), not the request failed.
        transaction.on_commit(lambda: exports.enqueue(export.pk), robust=True)
    return export


def _export_for(actor: AuditActor, export_id) -> AuditExport:
    eid = as_uuid(export_id)
    export = AuditExport.objects.filter(pk=eid).first() if eid is not None else None
    # Every officer may follow any export (they review together); nobody else reaches this point.
    if export is None:
        raise NotFound("書き出しが見つかりません。")
    return export


def export_get(*, actor: AuditActor, export_id) -> AuditExport:
    """The export's status and progress (for polling); not audited, it shows no audit data."""
    _require_officer(actor, "audit.view")
    return _export_for(actor, export_id)


def export_open(*, actor: AuditActor, export_id) -> tuple[str, bytes]:
    """The finished file: (download name, content). Audited as ``export`` (``audit_csv_download``)."""
    _require_officer(actor, "export")
    with transaction.atomic():
        export = _export_for(actor, export_id)
        if export.status != "done":
            raise InvalidInput({"export": ["書き出しはまだ完了していません。"]})
        content = exports.read_file(export)
        audit_record(
            actor=actor,
            action="export",
            target_type="audit_export",
            target_id=export.pk,
            details={"kind": "audit_csv_download", "rows": export.row_count},
        )
    return export.file_name, content


__all__ = [
    "DisclosureReport",
    "FlagDetail",
    "ReviewStats",
    "detect_anomalies",
    "event_filters",
    "export_get",
    "export_open",
    "export_start",
    "flag_add_note",
    "flag_get",
    "flags_list",
    "review_disclosure",
    "review_events",
    "review_seal_status",
    "review_stats",
    "review_term_search",
]
