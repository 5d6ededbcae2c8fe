"""Periodic housekeeping for the API."""

from celery import shared_task


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> int:
    """Stored idempotent responses hold case data: keep them no longer than API_IDEMPOTENCY_HOURS."""
    from .idempotency import idempotency_purge

    return idempotency_purge()
