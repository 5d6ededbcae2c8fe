from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verification import verify_and_record, verify_log


class Command(BaseCommand):
    help = (
        "Recompute every audit seal and check every event's MAC and the anchors in AUDIT_ANCHOR_DIR. Exit 0 when "
        "all match; otherwise exit 1 naming the kind of break and its first sequence number."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--expect", metavar="HASH", help="the latest seal's hash as stored outside the database")
        parser.add_argument("--seal", type=int, metavar="ID", help="check --expect against this seal, not the latest")
        parser.add_argument("--record", action="store_true", help="store the result (as the nightly task does)")

    def handle(self, *args: Any, expect: str | None, seal: int | None, record: bool, **options: Any) -> None:
        if seal is not None and not expect:
            raise CommandError("--seal needs --expect HASH")
        if record:
            row = verify_and_record(expect_hash=expect, expect_seal_id=seal)
            ok, message = row.ok, row.message
        else:
            result = verify_log(expect_hash=expect, expect_seal_id=seal)
            ok, message = result.ok, result.message
        if not ok:
            raise CommandError(f"FAILED {message}", returncode=1)
        self.stdout.write(message)
