"""Celery tasks. Arguments are ids only; the work is done by domain functions with a system actor."""

from celery import shared_task

from agencies.actors import Actor


@shared_task(ignore_result=True)
def relay_outbox() -> int:
    from .outbox import outbox_relay

    return outbox_relay()


@shared_task(ignore_result=True, acks_late=True)
def deliver_notifications(message_id: int) -> int:
    from .notifications import notifications_fan_out

    return notifications_fan_out(message_id=message_id)


@shared_task(ignore_result=True)
def sweep_expired_shares() -> int:
    from .services import share_expire_sweep

    return share_expire_sweep(actor=Actor.system(channel="task"))


# Outbox topic → the consumer task that handles it.
CONSUMERS = {
    "timeline.append": deliver_notifications,
    "timeline.correct": deliver_notifications,
    "share.grant": deliver_notifications,
    "share.revoke": deliver_notifications,
    "share.expire": deliver_notifications,
    "client.status": deliver_notifications,
}
