from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agencies.actors import Actor
from cases.services.attachments import attachments_rekey, stale_key_ids


class Command(BaseCommand):
    help = (
        "Re-wrap the file key of every stored attachment under the current master key (the first of "
        "ATTACHMENT_KEYS); the files themselves are not rewritten. Afterwards the older keys can be removed from "
        "ATTACHMENT_KEYS. Audited (attachment.rekey). Exit 1 when a file's key could not be re-wrapped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        current = settings.ATTACHMENT_KEYS[0][0]
        count = attachments_rekey(actor=Actor.system(channel="cli"))
        self.stdout.write(f"file keys re-wrapped under {current}: {count}")
        others = [key_id for key_id in stale_key_ids() if key_id != current]
        if others:
            raise CommandError(
                f"files are still wrapped by {', '.join(others)}: keep those keys in ATTACHMENT_KEYS "
                "(see the audit log: attachment.rekey)",
                returncode=1,
            )
        self.stdout.write(f"every stored file is under {current}: the other keys can be removed from ATTACHMENT_KEYS")
