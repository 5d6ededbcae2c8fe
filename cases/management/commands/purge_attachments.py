from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from agencies.actors import Actor
from cases.services.attachments import attachments_purge


class Command(BaseCommand):
    help = (
        "Remove from storage the attachment files of clients closed (終結) longer than ATTACHMENT_RETENTION_DAYS ago, "
        "and forget their file keys; the entries and the files' names, sizes and hashes stay. Audited "
        "(attachment.purge, one event per client). ATTACHMENT_RETENTION_DAYS=0 (the default) keeps every file."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.ATTACHMENT_RETENTION_DAYS
        if days <= 0:
            self.stdout.write("ATTACHMENT_RETENTION_DAYS is 0: every file is kept")
            return
        removed = attachments_purge(actor=Actor.system(channel="cli"))
        self.stdout.write(f"attachments removed: {removed} (clients closed more than {days} days ago)")
