"""Celery tasks. Arguments are ids only; the work is done by domain functions with a system actor."""

from celery import shared_task

from agencies.actors import Actor


@shared_task(ignore_result=True)
def relay_outbox() -> int:
    from .outbox import outbox_relay

    return outbox_relay()


@shared_task(ignore_result=True, acks_late=True)
def process_outbox_message(message_id: int) -> int:
    """Notices for the other sharing agencies, and webhook deliveries (each idempotent per message)."""
    from .notifications import notifications_fan_out
    from .webhooks import webhooks_fan_out

    created = notifications_fan_out(message_id=message_id)
    for delivery_id in webhooks_fan_out(message_id=message_id):
        deliver_webhook.delay(str(delivery_id))
    return created


@shared_task(ignore_result=True, acks_late=True)
def deliver_webhook(delivery_id: str) -> str:
    from .webhooks import webhook_attempt

    return webhook_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def retry_webhooks() -> int:
    """Attempt every delivery whose backoff has elapsed (the periodic half of the retry schedule)."""
    from .webhooks import webhook_attempt, webhooks_due

    due = webhooks_due()
    for delivery_id in due:
        webhook_attempt(delivery_id=delivery_id)
    return len(due)


@shared_task(ignore_result=True)
def sweep_expired_shares() -> int:
    from .services import share_expire_sweep

    return share_expire_sweep(actor=Actor.system(channel="task"))


# Outbox topic → the consumer task that handles it.
CONSUMERS = {
    topic: process_outbox_message
    for topic in (
        "timeline.append",
        "timeline.correct",
        "share.grant",
        "share.revoke",
        "share.expire",
        "client.status",
        "break_glass",
    )
}
