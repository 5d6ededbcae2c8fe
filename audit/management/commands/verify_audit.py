from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import Channel
from audit.verification import verify_and_record, verify_log


class Command(BaseCommand):
    help = (
        "Recompute every audit seal and check every event's MAC and the anchors in AUDIT_ANCHOR_DIR. Exit 0 when "
        "all match; otherwise exit 1 naming the kind of break and its first sequence number. The result is stored "
        "like the nightly verification's, so the privacy officer's dashboard shows it (--no-record: check only)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--expect", metavar="HASH", help="the latest seal's hash as stored outside the database")
        parser.add_argument("--seal", type=int, metavar="ID", help="check --expect against this seal, not the latest")
        parser.add_argument(
            "--no-record",
            action="store_true",
            help="check only, store nothing (for a read-only copy of the database)",
        )
        # Accepted for existing scripts: storing the result is the default now.
        parser.add_argument("--record", action="store_true", help="store the result (the default)")

    def handle(
        self, *args: Any, expect: str | None, seal: int | None, no_record: bool, record: bool, **options: Any
    ) -> None:
        if seal is not None and not expect:
            raise CommandError("--seal needs --expect HASH")
        if record and no_record:
            raise CommandError("--record and --no-record contradict each other")
        if no_record:
            result = verify_log(expect_hash=expect, expect_seal_id=seal)
            ok, message = result.ok, result.message
        else:
            row = verify_and_record(expect_hash=expect, expect_seal_id=seal, channel=Channel.CLI)
            ok, message = row.ok, row.message
        if not ok:
            raise CommandError(f"FAILED {message}", returncode=1)
        self.stdout.write(message)
