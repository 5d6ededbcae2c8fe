from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agencies.actors import Actor
from cases.services.attachments import attachments_verify


class Command(BaseCommand):
    help = (
        "Check every stored attachment (the longest unchecked first) against the SHA-256 recorded at upload: it must "
        "decrypt and match, and so must its thumbnail. A file that fails is marked, no longer served, and audited "
        "(attachment.integrity_failed). Exit 0 when every file checked passed; otherwise exit 1 naming the failures "
        "by attachment id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="check at most this many files this run")

    def handle(self, *args: Any, limit: int | None, **options: Any) -> None:
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        report = attachments_verify(actor=Actor.system(channel="cli"), limit=limit)
        summary = f"attachments checked: {report.checked}, passed: {report.passed}, failed: {len(report.failed)}"
        if report.unreachable:
            summary += f", not reachable in storage: {report.unreachable}"
        self.stdout.write(summary)
        for failure in report.failed:
            self.stderr.write(f"FAILED {failure.attachment_id} (client {failure.client_id}): {failure.failed}")
        if report.failed:
            raise CommandError(
                f"FAILED {len(report.failed)} attachment(s) do not match their recorded hash; they are no longer "
                "served (see the audit log: attachment.integrity_failed)",
                returncode=1,
            )
        if report.unreachable:
            raise CommandError(
                f"{report.unreachable} attachment(s) could not be read from storage; check ATTACHMENT_STORAGE",
                returncode=1,
            )
