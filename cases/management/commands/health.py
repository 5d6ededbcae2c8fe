from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.selectors import seal_latest
from cases.models import OutboxMessage, WebhookDelivery


class Command(BaseCommand):
    help = (
        "Report background-work health: outbox backlog, pending webhooks, last audit seal and verification. "
        "Non-zero exit when the outbox is stuck or the last verification failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-outbox-age", type=int, default=300, help="seconds an unpublished message may wait (default 300)"
        )

    def handle(self, *args, max_outbox_age, **options):
        pending = OutboxMessage.objects.filter(published_at__isnull=True)
        oldest = pending.order_by("id").values_list("created_at", flat=True).first()
        age = (timezone.now() - oldest) if oldest else timedelta(0)
        webhooks = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count()
        self.stdout.write(f"outbox backlog: {pending.count()} (oldest {int(age.total_seconds())} s)")
        self.stdout.write(f"webhook deliveries pending: {webhooks}")
        status = seal_latest()
        seal = status.seal
        self.stdout.write(
            f"last audit seal: {timezone.localtime(seal.created_at):%Y-%m-%d %H:%M:%S %Z}"
            if seal
            else "last audit seal: none"
        )
        verification = status.verification
        if verification is not None:
            self.stdout.write(
                f"last verification: {'OK' if verification.ok else 'FAILED'} at {verification.ran_at:%Y-%m-%d %H:%M}"
            )
            if not verification.ok:
                raise CommandError(f"audit verification failed: {verification.message}")
        if age > timedelta(seconds=max_outbox_age):
            raise CommandError(f"outbox stuck: oldest unpublished message is {int(age.total_seconds())} s old")
