"""The transactional outbox: side effects recorded with the change, published after it commits.

``outbox_enqueue`` is called by services inside their transaction. After commit, a nudge asks Celery to run the
relay; the periodic relay (Celery beat) catches anything a nudge missed, e.g. while the broker was down. The relay
takes unpublished rows with ``SELECT … FOR UPDATE SKIP LOCKED`` (several relays never publish the same row at
once) and hands each to its consumer task by id. Consumers are idempotent: delivery is at least once.
"""

import logging

from django.db import transaction
from django.utils import timezone

from .models import OutboxMessage

log = logging.getLogger(__name__)

BATCH = 100


def outbox_enqueue(*, topic: str, payload: dict) -> OutboxMessage:
    """Record a side effect in the caller's transaction. ``payload`` must hold ids only (JSON)."""
    message = OutboxMessage.objects.create(topic=topic, payload=payload)
    transaction.on_commit(_nudge)
    return message


def _nudge() -> None:
    from .tasks import relay_outbox

    try:
        relay_outbox.delay()
    except Exception as exc:  # broker unreachable: the periodic relay will publish it later
        log.warning("outbox nudge not sent (%s: %s); the periodic relay will publish it", type(exc).__name__, exc)


def _consumer(topic: str):
    from . import tasks

    return tasks.CONSUMERS[topic]


def outbox_relay(*, batch: int = BATCH) -> int:
    """Publish pending messages in id order; returns how many were published. Stops at the first broker error."""
    published = 0
    while True:
        with transaction.atomic():
            messages = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(published_at__isnull=True)
                .order_by("id")[:batch]
            )
            if not messages:
                return published
            for message in messages:
                try:
                    _consumer(message.topic).apply_async(args=[message.pk])
                except Exception as exc:
                    OutboxMessage.objects.filter(pk=message.pk).update(
                        attempts=message.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:255]
                    )
                    log.warning("outbox relay stopped: %s", type(exc).__name__)
                    return published
                OutboxMessage.objects.filter(pk=message.pk).update(
                    published_at=timezone.now(), attempts=message.attempts + 1, last_error=""
                )
                published += 1


def outbox_backlog() -> int:
    return OutboxMessage.objects.filter(published_at__isnull=True).count()
