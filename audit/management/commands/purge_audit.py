from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.retention import purge_expired
from audit.services import SystemActor


class Command(BaseCommand):
    help = (
        "Delete audit events older than AUDIT_RETENTION_DAYS, whole sealed batches only, and record the purge "
        "(audit.purge). In production run it as the database owner role: the application role cannot delete."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override AUDIT_RETENTION_DAYS (0 = keep forever)")
        parser.add_argument("--dry-run", action="store_true", help="only say what would be deleted")

    def handle(self, *args: Any, days: int | None, dry_run: bool, **options: Any) -> None:
        if days is not None and days < 0:
            raise CommandError("--days must be 0 (keep forever) or more")
        result = purge_expired(
            actor=SystemActor(channel="cli"),
            retention_days=days if days is not None else settings.AUDIT_RETENTION_DAYS,
            dry_run=dry_run,
        )
        self.stdout.write(result.message)
