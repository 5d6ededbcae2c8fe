"""CSV exports of audit searches, built off the request path by ``audit.tasks.build_export``.

The file is written in batches (keyset over ``seq``, newest first, like the search) with the progress stored on the
``AuditExport`` row, in UTF-8 with a BOM (Excel opens it as UTF-8) or in Shift_JIS (characters it cannot encode
become ``?``). Who may start or open an export is decided in ``audit.review.export``, which queues the task; this
module only selects and writes (it never imports the tasks that run it).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime

from tsunagu.csvfile import SheetWriter
from tsunagu.errors import InvalidInput
from tsunagu.ids import parse_uuid
from tsunagu.periods import NOT_AWARE
from tsunagu.timezones import JST

from . import actions
from . import names as audit_names
from .models import AuditEvent, AuditExport, AuditExposure, Channel, ExportEncoding, ExportStatus, Outcome
from .selectors import event_condition

logger = logging.getLogger("tsunagu.audit")

BATCH_SIZE = 1000
# People read the labelled columns (agency names, the actions' and reasons' labels, case numbers); the codes and
# ids follow in columns of their own, for tools and for matching the file with the log.
HEADER = [
    "連番",
    "日時(JST)",
    "利用者",
    "機関",
    "経路",
    "操作",
    "結果",
    "理由",
    "対象者（ケース番号）",
    "対象種別",
    "機関コード",
    "操作コード",
    "理由コード",
    "対象ID",
    "公開された対象者ID",
    "リクエストID",
    "IPアドレス",
]
FILTER_KEYS = ("client", "actor", "agency", "action", "outcome", "channel", "since", "until")
# review_events' keyword names, accepted too; paging is not a filter (an export takes every page)
_ALIASES = {"client_id": "client", "username": "actor"}
_PAGING = frozenset({"cursor", "limit", "page_size"})
_CHANNELS = dict(Channel.choices)
_OUTCOMES = dict(Outcome.choices)


def check_encoding(encoding: str) -> None:
    if encoding not in ExportEncoding.values:
        raise InvalidInput({"encoding": [f"文字コードが不正です: {encoding}"]})


def clean_filters(filters: dict[str, Any]) -> dict[str, str]:
    """The filters as stored on the export (JSON strings), checked as the search checks them."""
    stored: dict[str, str] = {}
    unknown = []
    for key, value in (filters or {}).items():
        name = _ALIASES.get(key, key)
        if name in _PAGING:
            continue
        if name not in FILTER_KEYS:
            unknown.append(key)
            continue
        if value in (None, ""):
            continue
        stored[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if unknown:
        raise InvalidInput({key: ["この条件は指定できません。"] for key in unknown})
    queryset(stored)  # raises InvalidInput for a bad value
    return stored


def _datetime(stored: dict[str, str], name: str) -> datetime | None:
    raw = stored.get(name)
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None or timezone.is_naive(value):
        raise InvalidInput({name: [str(NOT_AWARE)]})
    return value


def queryset(stored: dict[str, str]) -> QuerySet[AuditEvent]:
    """The events an export's filters select (unordered)."""
    condition = event_condition(
        actor=stored.get("actor", ""),
        agency=stored.get("agency", ""),
        action=stored.get("action", ""),
        outcome=stored.get("outcome", ""),
        channel=stored.get("channel", ""),
        since=_datetime(stored, "since"),
        until=_datetime(stored, "until"),
    )
    qs = AuditEvent.objects.filter(condition)
    if stored.get("client"):
        cid = parse_uuid(stored["client"])
        if cid is None:
            raise InvalidInput({"client": ["対象者IDの形式が正しくありません。"]})
        qs = qs.filter(seq__in=AuditExposure.objects.filter(client_id=cid).values("event_id"))
    return qs


def export_path(export: AuditExport) -> Path:
    return Path(settings.AUDIT_EXPORT_DIR) / f"{export.pk}.csv"


def read_file(export: AuditExport) -> bytes:
    return export_path(export).read_bytes()


def _clients_of(event: AuditEvent) -> list[str]:
    ids = [str(c) for c in event.client_ids or []]
    if not ids and event.target_type == "client" and event.target_id:
        ids = [event.target_id]
    return ids


def batch_names(batch: list[AuditEvent]) -> tuple[dict[str, str], dict[str, str]]:
    """Agency names and case numbers for one batch of events (a query each)."""
    agencies = audit_names.names(audit_names.AGENCY, (e.actor_agency_code for e in batch))
    clients = audit_names.names(audit_names.CLIENT, (c for e in batch for c in _clients_of(e)))
    return agencies, clients


def row_of(
    event: AuditEvent, agencies: dict[str, str] | None = None, clients: dict[str, str] | None = None
) -> list[object]:
    """One event as a row under ``HEADER`` (the writer makes each value a safe cell), in Japanese."""
    agencies, clients = agencies or {}, clients or {}
    with translation.override("ja"):
        return [
            event.seq,
            timezone.localtime(event.occurred_at, JST).strftime("%Y-%m-%d %H:%M:%S"),
            event.actor_username,
            agencies.get(event.actor_agency_code, event.actor_agency_code),
            str(_CHANNELS.get(event.channel, event.channel)),
            actions.event_label(event.action, event.details),
            str(_OUTCOMES.get(event.outcome, event.outcome)),
            actions.reason_label(event.reason),
            " ".join(clients.get(c, "?") for c in _clients_of(event)),
            event.target_type,
            event.actor_agency_code,
            event.action,
            event.reason,
            event.target_id,
            " ".join(str(c) for c in event.client_ids or []),
            event.request_id,
            event.ip or "",
        ]


def _update(export_id: uuid.UUID, **fields: Any) -> None:
    # Committed at once, so a page polling the export sees the progress while the file is written.
    with transaction.atomic():
        AuditExport.objects.filter(pk=export_id).update(**fields)


def build(export_id: object) -> AuditExport | None:
    """Write the export's file in batches, updating its progress; mark it done or failed."""
    eid = parse_uuid(export_id)
    export = AuditExport.objects.filter(pk=eid).first() if eid is not None else None
    if export is None or export.status not in (ExportStatus.PENDING, ExportStatus.FAILED):
        return export
    _update(export.pk, status=ExportStatus.RUNNING, progress=0, error="")
    path = export_path(export)
    try:
        qs = queryset(export.filters)
        total = qs.count()
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        tmp = path.with_suffix(".part")
        with tmp.open("w", encoding=export.encoding, errors="replace", newline="") as handle:
            writer = SheetWriter(handle, HEADER)
            last_seq = None
            while True:
                batch_qs = qs if last_seq is None else qs.filter(seq__lt=last_seq)
                batch = list(batch_qs.order_by("-seq")[:BATCH_SIZE])
                if not batch:
                    break
                agencies, clients = batch_names(batch)
                writer.writerows(row_of(event, agencies, clients) for event in batch)
                written += len(batch)
                last_seq = batch[-1].seq
                progress = min(99, written * 100 // total) if total else 99
                _update(export.pk, progress=progress, row_count=written)
        tmp.replace(path)
        stamp = timezone.localtime(export.created_at, JST).strftime("%Y%m%d-%H%M%S")
        _update(
            export.pk,
            status=ExportStatus.DONE,
            progress=100,
            row_count=written,
            file_name=f"audit-log-{stamp}.csv",
            finished_at=timezone.now(),
        )
    except Exception as exc:
        logger.exception("audit export %s failed", export.pk)
        _update(export.pk, status=ExportStatus.FAILED, error=type(exc).__name__[:200], finished_at=timezone.now())
        raise
    export.refresh_from_db()
    return export
