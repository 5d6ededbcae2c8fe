"""Celery tasks of the audit log: sealing every few seconds, the next month's partition hourly (PostgreSQL),
verification nightly, the signed digest daily, anomaly detection every few minutes (see CELERY_BEAT_SCHEDULE), and
the CSV exports a privacy officer starts.

Tasks import the services they run; no module of the audit app imports this one (``audit.review.export`` queues
the export task by name; ``AuditConfig.ready`` registers the tasks, as the worker's autodiscovery does)."""

from typing import Any

from celery import shared_task

from .anchors import publish_digest as publish
from .exports import build
from .partitions import ensure_partitions
from .review import detect_anomalies as detect
from .sealing import seal_pending
from .services import SystemActor
from .verification import verify_and_record


@shared_task(ignore_result=True)
def seal_audit() -> int:
    """Seal every event that can be sealed now; returns the number of new seals."""
    return len(seal_pending())


@shared_task(ignore_result=True)
def ensure_audit_partitions() -> int:
    """PostgreSQL: make this month's and next month's partitions of the events table if missing (audit.partitions;
    a no-op on SQLite). Returns how many were made."""
    return ensure_partitions()


@shared_task(ignore_result=True)
def verify_audit() -> dict[str, Any]:
    """Recompute every seal and store the result (``AuditVerification``)."""
    result = verify_and_record()
    return {"ok": result.ok, "kind": result.kind, "first_bad_seq": result.first_bad_seq, "id": result.pk}


@shared_task(ignore_result=True)
def publish_digest() -> dict[str, Any]:
    """The daily signed digest for the privacy officer: console, anchor directory and e-mail."""
    digest = publish()
    return {"id": digest.pk if digest else None, "last_seq": digest.last_seq if digest else None}


@shared_task(ignore_result=True)
def detect_anomalies() -> int:
    """Run the anomaly rules over the lookback window; returns the number of new flags."""
    return detect(actor=SystemActor(channel="task"))


@shared_task(ignore_result=True)
def build_export(export_id: str) -> dict[str, Any]:
    """Write an audit CSV export's file (queued after the export row is committed)."""
    export = build(export_id)
    return {"id": export_id, "status": export.status if export else "missing"}
