"""Celery tasks. Arguments are ids only; the work is done by domain functions with a system actor.

Tasks import the services and the outbox, never the reverse: the outbox reaches these tasks by name through the
Celery app (see ``cases.outbox``).
"""

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from agencies.actors import Actor

from .import_uploads import import_carry_out, import_files_expire, import_requeue
from .outbox import outbox_consume, outbox_relay
from .services import share_expire_sweep
from .services.attachments import attachments_purge, attachments_verify
from .webhooks import webhook_attempt, webhooks_due

# The database went away or a connection broke: worth trying again shortly. Retries cover a short outage (waits of
# up to 1, 2, 4 … 60 s, with jitter: about 2½ minutes in all); after a longer one the outbox lease has the relay
# publish the message again.
TRANSIENT: dict[str, Any] = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
}


@shared_task(ignore_result=True)
def relay_outbox() -> int:
    return outbox_relay()


@shared_task(ignore_result=True, acks_late=True, **TRANSIENT)
def process_outbox_message(message_id: int) -> int:
    """Notices for the other sharing agencies, and webhook deliveries (each idempotent per message); the message
    is finished in the same transaction."""
    return outbox_consume(message_id=message_id)


@shared_task(ignore_result=True, acks_late=True, **TRANSIENT)
def deliver_webhook(delivery_id: str) -> str:
    return webhook_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def retry_webhooks() -> int:
    """Attempt every delivery whose backoff has elapsed (the periodic half of the retry schedule)."""
    due = webhooks_due()
    for delivery_id in due:
        webhook_attempt(delivery_id=delivery_id)
    return len(due)


@shared_task(ignore_result=True)
def sweep_expired_shares() -> int:
    return share_expire_sweep(actor=Actor.system(channel="task"))


@shared_task(ignore_result=True)
def verify_attachments() -> dict[str, int]:
    """The nightly integrity check of the stored files (failures are audited and no longer served)."""
    report = attachments_verify(actor=Actor.system(channel="task"))
    return {"checked": report.checked, "failed": len(report.failed), "unreachable": report.unreachable}


@shared_task(ignore_result=True)
def purge_attachments() -> int:
    """Retention: the files of clients closed longer than ATTACHMENT_RETENTION_DAYS ago (0: none)."""
    return attachments_purge(actor=Actor.system(channel="task"))


@shared_task(ignore_result=True)
def run_import(run_id: str) -> dict[str, Any]:
    """Carry out an import run started in the browser (``cases.import_uploads``), queued after its row commits.
    Not retried: a run that stopped half-way is ``interrupted``, and a second run adds only what is missing."""
    run = import_carry_out(run_id=run_id)
    return {"id": run_id, "status": run.status if run is not None else "skipped"}


@shared_task(ignore_result=True)
def requeue_imports() -> int:
    """Every minute: an import run whose task was lost (a broker outage) is queued again."""
    return import_requeue()


@shared_task(ignore_result=True)
def expire_import_files() -> int:
    """Hourly: the uploaded files of dry runs not confirmed in time (IMPORT_DRY_RUN_KEEP_HOURS) are deleted."""
    return import_files_expire()
