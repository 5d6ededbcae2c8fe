"""The transactional outbox: side effects recorded with the change, published after it commits.

``outbox_enqueue`` is called by services inside their transaction. After commit, a nudge asks Celery to run the
relay; the periodic relay (Celery beat) catches anything a nudge missed, e.g. while the broker was down. The relay
takes due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` (several relays never publish the same row at once) and
hands each to its consumer task by id.

The Celery tasks are reached by name through the Celery app (``CONSUMERS``, ``RELAY_TASK``, ``DELIVER_WEBHOOK_TASK``):
``cases.tasks`` imports the services and this module, never the reverse. ``CasesConfig.ready()`` imports
``cases.tasks``, so the names resolve in every process, not only in workers.

The row, not the broker, is the source of truth until the work is done. A message is *finished* when its consumer
has written its notices and webhook deliveries: ``outbox_consume`` sets ``finished_at`` in the same transaction as
that work, holding the row lock (so two copies of one message never work at once, and the relay skips a message
being worked on). A message that was published but is not finished after ``OUTBOX_LEASE_SECONDS`` is due again:
whether the broker lost it (restarted without persistence), the worker holding it was killed, or its consumer
failed (the database went away), the relay publishes it again. Consumers are idempotent: delivery is at least once.
"""

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from tsunagu.celery import REQUEST_ID_HEADER
from tsunagu.celery import app as celery_app
from tsunagu.logs import current_request_id

from .actions import Topic
from .models import OutboxMessage

log = logging.getLogger(__name__)

BATCH = 100

RELAY_TASK = "cases.tasks.relay_outbox"
CONSUME_TASK = "cases.tasks.process_outbox_message"
DELIVER_WEBHOOK_TASK = "cases.tasks.deliver_webhook"

# Outbox topic → the name of the Celery task that does its work.
CONSUMERS: dict[str, str] = {topic.value: CONSUME_TASK for topic in Topic}


def outbox_enqueue(*, topic: str, payload: dict) -> OutboxMessage:
    """Record a side effect in the caller's transaction. ``payload`` must hold ids only (JSON). The id of the
    request (or task) doing it is kept as ``request_id``: the consumer's task logs under it (``tsunagu.logs``)."""
    request_id = current_request_id()
    if request_id:
        payload = {**payload, "request_id": request_id}
    message = OutboxMessage.objects.create(topic=topic, payload=payload)
    transaction.on_commit(_nudge)
    return message


def _task(name: str):
    return celery_app.tasks[name]


def _nudge() -> None:
    """After commit, ask a worker to run the relay: one message to the broker, nothing else in the request. The
    relay's work (taking due rows, publishing each to its consumer) is the worker's. Only in the quick start, with
    no broker (``CELERY_TASK_ALWAYS_EAGER``), does the task run right here, consumers and all; a deployment or a
    benchmark of one has a broker and workers (docs/operations.md).

    The publish is not retried: a broker that is slow or away must not hold the response (the periodic relay
    publishes what a lost nudge would have)."""
    relay = _task(RELAY_TASK)
    try:
        relay.apply_async(retry=False)
    except Exception as exc:  # broker unreachable: the periodic relay will publish it later
        log.warning("outbox nudge not sent (%s: %s); the periodic relay will publish it", type(exc).__name__, exc)


def _consumer(topic: str):
    return _task(CONSUMERS[topic])


def _due(now) -> Q:
    """Unfinished and either never published or published longer ago than the lease."""
    lease_expired = now - timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    return Q(finished_at__isnull=True) & (Q(published_at__isnull=True) | Q(published_at__lt=lease_expired))


def outbox_relay(*, batch: int = BATCH) -> int:
    """Publish due messages in id order; returns how many were published. Stops at the first broker error."""
    published = 0
    started = timezone.now()  # a message published by this run is not due again within it
    while True:
        with transaction.atomic():
            messages = list(
                OutboxMessage.objects.select_for_update(skip_locked=True).filter(_due(started)).order_by("id")[:batch]
            )
            if not messages:
                return published
            for message in messages:
                try:
                    _consumer(message.topic).apply_async(args=[message.pk], headers=_headers(message))
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


def _headers(message: OutboxMessage) -> dict[str, str]:
    """The consumer task runs under the id of the request that wrote the message (``tsunagu.celery``)."""
    request_id = (message.payload or {}).get("request_id")
    return {REQUEST_ID_HEADER: request_id} if isinstance(request_id, str) and request_id else {}


def outbox_consume(*, message_id: int) -> int:
    """Do one message's work and mark it finished, in one transaction; returns how many notices were created.

    A finished (or unknown) message does nothing. On failure nothing is kept but the error text, and the message
    stays unfinished: the task retries transient errors, and the relay publishes it again after the lease."""
    from . import notifications, webhooks

    try:
        with transaction.atomic():
            message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
            if message is None or message.finished_at is not None:
                return 0
            created = notifications.notifications_fan_out(message_id=message.pk)
            deliveries = webhooks.webhooks_fan_out(message_id=message.pk)
            OutboxMessage.objects.filter(pk=message.pk).update(finished_at=timezone.now(), last_error="")
    except Exception as exc:
        _record_error(message_id, exc)
        raise
    log.info(
        "outbox message %s (%s) finished: %s notices, %s webhook deliveries",
        message_id,
        message.topic,
        created,
        len(deliveries),
    )
    _nudge_webhooks(deliveries)  # committed: the first attempts, right away
    return created


def _nudge_webhooks(delivery_ids: list) -> None:
    deliver = _task(DELIVER_WEBHOOK_TASK)
    for delivery_id in delivery_ids:
        try:
            deliver.delay(str(delivery_id))
        except Exception as exc:  # the deliveries are rows with their own schedule: the periodic retry sends them
            log.warning("webhook nudge not sent (%s); the periodic retry will attempt it", type(exc).__name__)
            return


def _record_error(message_id: int, exc: Exception) -> None:
    with contextlib.suppress(DatabaseError):  # the database itself may be what failed: nothing to record it in
        OutboxMessage.objects.filter(pk=message_id).update(last_error=f"{type(exc).__name__}: {exc}"[:255])


def outbox_unfinished() -> tuple[int, int, timedelta]:
    """Messages whose work is not done: how many, how many of them were never published, and the oldest's age."""
    unfinished = OutboxMessage.objects.filter(finished_at__isnull=True)
    oldest = unfinished.order_by("id").values_list("created_at", flat=True).first()
    age = (timezone.now() - oldest) if oldest else timedelta(0)
    return unfinished.count(), unfinished.filter(published_at__isnull=True).count(), age
