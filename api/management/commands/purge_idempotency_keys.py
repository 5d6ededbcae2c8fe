from django.core.management.base import BaseCommand

from api.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete API idempotency keys (and the responses they hold) older than API_IDEMPOTENCY_HOURS."

    def handle(self, *args, **options):
        deleted = idempotency_purge()
        self.stdout.write(f"{deleted} idempotency key(s) deleted.")
