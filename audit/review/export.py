"""CSV exports of a search: starting one, following its progress, downloading the file. The file itself is
written off the request path (``audit.exports.build``, run by the ``audit.tasks.build_export`` task)."""

from __future__ import annotations

from typing import Any, NamedTuple

from celery import current_app
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from tsunagu.errors import InvalidInput, NotFound
from tsunagu.ids import parse_uuid

from .. import exports
from ..actions import AuditAction
from ..models import AuditExport
from ..services import AuditActor, audit_record
from .officer import require_privacy_officer

# Queued by name: tasks import the services they run, never the reverse (the audit app registers its tasks).
BUILD_EXPORT_TASK = "audit.tasks.build_export"


def _queue_build(export_id: object) -> None:
    current_app.tasks[BUILD_EXPORT_TASK].delay(str(export_id))


def export_start(*, actor: AuditActor, filters: dict[str, Any], encoding: str = "utf-8-sig") -> AuditExport:
    """Start a CSV export of a search (``filters`` as ``review_events`` takes them, or as ``event_filters``
    returns them). The file is built by ``audit.tasks.build_export``, queued after commit."""
    require_privacy_officer(actor=actor, action=AuditAction.EXPORT)
    stored = exports.clean_filters(filters)
    exports.check_encoding(encoding)
    with transaction.atomic():
        export = AuditExport.objects.create(
            requested_by_username=actor.username, filters=stored, encoding=encoding, created_at=timezone.now()
        )
        audit_record(
            actor=actor,
            action=AuditAction.EXPORT,
            target_type="audit_export",
            target_id=export.pk,
            details={"kind": "audit_csv", "filters": stored, "encoding": encoding},
        )
        # robust: a broker outage leaves the export pending (the page can retry it), not the request failed.
        transaction.on_commit(lambda: _queue_build(export.pk), robust=True)
    return export


def _export_for(actor: AuditActor, export_id: object) -> AuditExport:
    eid = parse_uuid(export_id)
    export = AuditExport.objects.filter(pk=eid).first() if eid is not None else None
    # Every officer may follow any export (they review together); nobody else reaches this point.
    if export is None:
        raise NotFound(gettext("書き出しが見つかりません。"))
    return export


def export_get(*, actor: AuditActor, export_id: object) -> AuditExport:
    """The export's status and progress (for polling); not audited, it shows no audit data."""
    require_privacy_officer(actor=actor, action=AuditAction.VIEW)
    return _export_for(actor, export_id)


class ExportFile(NamedTuple):
    file_name: str  # the download name
    content: bytes
    encoding: str  # an ``ExportEncoding`` value


def export_open(*, actor: AuditActor, export_id: object) -> ExportFile:
    """The finished file, read once (name, content, encoding). Audited as ``export`` (``audit_csv_download``).
    ``InvalidInput`` while it is not finished."""
    require_privacy_officer(actor=actor, action=AuditAction.EXPORT)
    with transaction.atomic():
        export = _export_for(actor, export_id)
        if export.status != "done":
            raise InvalidInput({"export": [gettext("書き出しはまだ完了していません。")]})
        content = exports.read_file(export)
        audit_record(
            actor=actor,
            action=AuditAction.EXPORT,
            target_type="audit_export",
            target_id=export.pk,
            details={"kind": "audit_csv_download", "rows": export.row_count},
        )
    return ExportFile(export.file_name, content, export.encoding)
