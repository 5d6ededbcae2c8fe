from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.selectors import seal_latest
from cases.models import WebhookDelivery
from cases.outbox import outbox_unfinished


class Command(BaseCommand):
    help = (
        "Report background-work health: unfinished outbox messages (published or not) and the oldest one's age, "
        "pending webhooks, last audit seal and verification. "
        "Non-zero exit when the outbox is stuck or the last verification failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-outbox-age",
            type=int,
            default=300,
            help="seconds a message may wait for its work to be done (default 300)",
        )

    def handle(self, *args, max_outbox_age, **options):
        unfinished, unpublished, age = outbox_unfinished()
        webhooks = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count()
        self.stdout.write(
            f"outbox unfinished: {unfinished} ({unpublished} not yet published; oldest {int(age.total_seconds())} s)"
        )
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
            raise CommandError(f"outbox stuck: oldest unfinished message is {int(age.total_seconds())} s old")
