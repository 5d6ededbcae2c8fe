from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.review import detect_anomalies
from audit.services import SystemActor
from tsunagu.errors import InvalidInput


def _moment(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None or timezone.is_naive(moment):
        raise CommandError(f"not an ISO-8601 date and time with a UTC offset: {value!r}")
    return moment


class Command(BaseCommand):
    help = "Run the audit anomaly rules now (the periodic task does the same every 15 minutes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=_moment, help="start, ISO-8601 with offset (default: lookback window)")
        parser.add_argument("--until", type=_moment, help="end, ISO-8601 with offset (default: now)")
        parser.add_argument("--hours", type=int, help="look back this many hours from --until (instead of --since)")

    def handle(
        self, *args: Any, since: datetime | None, until: datetime | None, hours: int | None, **options: Any
    ) -> None:
        if hours is not None:
            if hours < 1 or since is not None:
                raise CommandError("--hours must be at least 1 and cannot be combined with --since")
            since = (until or timezone.now()) - timedelta(hours=hours)
        try:
            created = detect_anomalies(actor=SystemActor(channel="cli"), since=since, until=until)
        except InvalidInput as exc:
            raise CommandError("; ".join(m for ms in exc.errors.values() for m in ms)) from None
        self.stdout.write(f"新しい指摘: {created} 件")
