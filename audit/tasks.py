"""Celery tasks of the audit log: sealing every few seconds, verification nightly, the signed digest daily (see
CELERY_BEAT_SCHEDULE)."""

from celery import shared_task


@shared_task(ignore_result=True)
def seal_audit() -> int:
    """Seal every event that can be sealed now; returns the number of new seals."""
    from .sealing import seal_pending

    return len(seal_pending())


@shared_task(ignore_result=True)
def verify_audit() -> dict:
    """Recompute every seal and store the result (``AuditVerification``)."""
    from .verification import verify_and_record

    result = verify_and_record()
    return {"ok": result.ok, "kind": result.kind, "first_bad_seq": result.first_bad_seq, "id": result.pk}


@shared_task(ignore_result=True)
def publish_digest() -> dict:
    """The daily signed digest for the privacy officer: console, anchor directory and e-mail."""
    from .anchors import publish_digest as publish

    digest = publish()
    return {"id": digest.pk if digest else None, "last_seq": digest.last_seq if digest else None}


@shared_task(ignore_result=True)
def detect_anomalies() -> int:
    """Run the anomaly rules over the lookback window; returns the number of new flags."""
    from .review import detect_anomalies as detect
    from .services import SystemActor

    return detect(actor=SystemActor(channel="task"))


@shared_task(ignore_result=True)
def build_export(export_id: str) -> dict:
    """Write an audit CSV export's file (queued after the export row is committed)."""
    from .exports import build

    export = build(export_id)
    return {"id": export_id, "status": export.status if export else "missing"}
