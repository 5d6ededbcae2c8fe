from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.anchors import publish_digest
from audit.signing import text_signature_ok


class Command(BaseCommand):
    help = (
        "Publish the signed digest of the audit log now (the daily task does the same), or check one: "
        "--check TEXT SIGNATURE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", nargs=2, metavar=("TEXT", "SIGNATURE"), help="check a digest's signature")

    def handle(self, *args: Any, check: list[str] | None, **options: Any) -> None:
        if check:
            text, signature = check
            if not text_signature_ok(text, signature):
                raise CommandError("signature does NOT match", returncode=1)
            self.stdout.write("signature matches")
            return
        digest = publish_digest()
        if digest is None:
            self.stdout.write("no seal yet: nothing to state")
            return
        self.stdout.write(f"{digest.text}\nsignature {digest.signature}")
